"""`make run` / `herald local demo`: the whole story within about a minute.

Notifications for every channel go through Herald's stack on the embedded endpoint: email via
SES (moto), SMS via the HTTP SMS API fake with SNS (moto) as its fallback, signed webhooks to the
receiver fake. One SMS fails over, one webhook is delivered after a retry, one runs out of
attempts (RETRY FAILED), two are refused for good and two are invalid, so every outcome shows,
with a summary table at the end.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from herald.local.emulator import Emulator, LocalRunError, Options, Tally

DEADLINE_SECONDS = 90
# Log prefix -> column of the summary table.
OUTCOMES = {
    "SENT": "sent",
    "RETRY": "retried",
    "FAILOVER": "failed over",
    "RETRY FAILED": "exhausted",
    "PERMANENT FAILURE": "permanent",
    "INVALID MESSAGE": "invalid",
}


def notifications(webhooks_url: str) -> list[dict[str, Any] | str]:
    return [
        {"id": "welcome-1", "channel": "email", "to": "ada@example.com", "subject": "Welcome", "body": "Hello Ada"},
        {"id": "code-2", "channel": "sms", "to": "+447700900123", "body": "Your code is 4321"},
        {"id": "code-3", "channel": "sms", "to": "+447700900000", "body": "Your code is 8765"},
        {"id": "code-4", "channel": "sms", "to": "+447700905555", "body": "Your code is 1357"},
        {"id": "order-5", "channel": "webhook", "to": f"{webhooks_url}/hooks/flaky", "body": "order shipped"},
        {"id": "order-6", "channel": "webhook", "to": f"{webhooks_url}/hooks/down", "body": "order shipped"},
        {"id": "order-7", "channel": "webhook", "to": f"{webhooks_url}/hooks/gone", "body": "order shipped"},
        {"id": "welcome-8", "channel": "email", "to": "bob@example.com", "body": "no subject"},
        "{this is not json",
    ]


def run(options: Options, console: Console) -> int:
    emulator = Emulator(options)
    try:
        stack = emulator.start()
        assert emulator.webhooks is not None
        console.print(f"Herald local: AWS endpoint {stack.endpoint} (moto), stack created from template.yaml")
        if stack.skipped:
            console.print(f"  not created locally (moto cannot): {', '.join(stack.skipped)}")
        source = stack.event_source
        console.print(
            f"  event source: batch {source.batch_size}, window {source.batching_window_seconds}s, "
            f"{source.maximum_concurrency} pollers, function timeout {stack.deliver.timeout_seconds}s"
        )
        console.print(
            f"  retry delay {options.retry_delay_seconds}s (300s in production), "
            f"{options.max_attempts} attempts (48 in production)\n"
        )
        tally = Tally()
        from delivery.log import logger  # imported with the handler: Herald's logger

        logger._logger.handlers = [tally]
        sqs = emulator.session.client("sqs", endpoint_url=stack.endpoint)
        for notification in notifications(emulator.webhooks.url):
            body = notification if isinstance(notification, str) else json.dumps(notification)
            sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
        console.print(f"sent {len(notifications(''))} notifications to {stack.queue_url}\n")
        emulator.start_pollers()
        depths = emulator.queue_depths()
        with console.status("") as status:
            while depths["queued"] and time.monotonic() - tally.started < DEADLINE_SECONDS:
                status.update(f"queued or in flight: {depths['queued']}, dead letters: {depths['dead_letters']}")
                time.sleep(0.5)
                depths = emulator.queue_depths()
        console.print(summary(tally))
        console.print(
            f"finished in {time.monotonic() - tally.started:.1f}s; "
            f"still queued: {depths['queued']}, dead letters: {depths['dead_letters']}"
        )
        return 0 if depths["queued"] == 0 else 1
    except LocalRunError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    except KeyboardInterrupt:
        console.print("\nstopped")
        return 130
    finally:
        emulator.stop()


def summary(tally: Tally) -> Table:
    table = Table(title="Outcomes per provider (from Herald's log lines)")
    table.add_column("provider")
    for column in OUTCOMES.values():
        table.add_column(column, justify="right")
    for provider in sorted({p for p, _ in tally.counts}):
        table.add_row(provider, *(str(tally.counts[(provider, outcome)]) for outcome in OUTCOMES))
    return table
