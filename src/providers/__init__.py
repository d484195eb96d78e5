"""Delivery providers: one module per provider, each exposing ``create(context) -> Provider``.

Providers implement :mod:`delivery.contract` and know nothing about SQS.
"""
