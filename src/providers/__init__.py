"""Delivery providers: one module per provider, each exposing ``create(env) -> Provider``.

Providers implement :mod:`delivery.contract` and know nothing about SQS.
"""
