"""Recipients never reach a log line or a metric name whole."""

from __future__ import annotations

from urllib.parse import urlsplit


def mask_recipient(to: str) -> str:
    """Mask an email address, phone number or URL enough to identify it to its owner, not to anyone else.

    ``jane.doe@example.com`` -> ``j***@example.com``; ``+447700900123`` -> ``+44******0123``;
    ``https://hooks.example.com/t/s3cr3t`` -> ``https://hooks.example.com/***`` (paths often carry tokens).
    """
    if "://" in to:
        try:
            parts = urlsplit(to)
            port = f":{parts.port}" if parts.port is not None else ""
        except ValueError:
            return "***"
        return f"{parts.scheme}://{parts.hostname or '?'}{port}/***"
    if "@" in to:
        local, _, domain = to.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if to.startswith("+") and len(to) > 7:
        return to[:3] + "*" * (len(to) - 7) + to[-4:]
    return "***"
