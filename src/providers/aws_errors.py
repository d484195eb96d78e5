"""Classify botocore failures into the provider contract: one table per AWS provider, one function."""

from __future__ import annotations

from collections.abc import Collection

from delivery.aws import error_code
from delivery.contract import DeliveryError, PermanentError, RateLimitedError, TransientError
from delivery.masking import mask_recipient


def classify(
    error: Exception, service: str, recipient: str, permanent: Collection[str], rate_limited: Collection[str]
) -> DeliveryError:
    """The contract error for a failed AWS call: permanent and rate-limited codes as listed, the rest
    (timeouts, connection errors, 5xx, account problems an operator can fix) transient. AWS messages
    can name the recipient (SES sandbox rejections do): it is masked here."""
    code = error_code(error)
    if not code:
        return TransientError(f"{service} call failed: {type(error).__name__}")
    reason = f"{service} {code}: {_message(error).replace(recipient, mask_recipient(recipient))}"
    if code in permanent:
        return PermanentError(reason)
    if code in rate_limited:
        return RateLimitedError(reason)
    return TransientError(reason)


def _message(error: Exception, limit: int = 300) -> str:
    response = getattr(error, "response", {})
    text = str(response.get("Error", {}).get("Message", "")) if isinstance(response, dict) else ""
    return text[:limit]
