"""Scheduled Lambda entry point: move critical dead letters back to the notification queue."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from delivery import metrics
from delivery.aws import client
from delivery.redrive import CriticalRedrive, RedriveSettings

_settings = RedriveSettings.from_env()
metrics.configure_from(_settings.statsd)
_redrive = CriticalRedrive(_settings, client("sqs"))


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    seconds_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context is not None else None
    return asdict(_redrive.run(seconds_left))
