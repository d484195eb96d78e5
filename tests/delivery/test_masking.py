"""Recipients are masked enough to be recognised by their owner, not read by anyone else."""

from __future__ import annotations

import pytest

from delivery.masking import mask_recipient


@pytest.mark.parametrize(
    ("recipient", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("+447700900123", "+44******0123"),
        ("+15551234567", "+15*****4567"),
        ("https://hooks.example.com/t/s3cr3t?key=abc", "https://hooks.example.com/***"),
        ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/***"),
        ("https://user:pass@example.com/x", "https://example.com/***"),
        ("https://example.com:notaport/x", "***"),
        ("12345", "***"),
    ],
)
def test_recipient_is_masked(recipient: str, masked: str) -> None:
    assert mask_recipient(recipient) == masked
