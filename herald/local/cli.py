"""`herald local ...`: Herald end to end on this machine (embedded AWS endpoint, local providers)."""

from __future__ import annotations

import time

import click
from rich.console import Console

from herald.local.emulator import Emulator, LocalRunError, Options

_port = click.option("--port", type=int, default=None, help="Port of the embedded AWS endpoint (default: a free one).")
_attempts = click.option("--max-attempts", type=click.IntRange(1, 48), default=3, show_default=True)
_delay = click.option("--retry-delay", type=click.IntRange(0, 300), default=2, show_default=True, help="Seconds.")
_failures = click.option(
    "--failure-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests the webhook and SMS fakes fail with 503.",
)


@click.group("local")
def local() -> None:
    """Run Herald locally: no AWS account, no Docker."""


@local.command("demo")
@_port
@_attempts
@_delay
@_failures
def demo(port: int | None, max_attempts: int, retry_delay: int, failure_rate: float) -> None:
    """The `make run` story: deliveries, retries, RETRY FAILED and dead letters within a minute."""
    from herald.local import demo as demo_module

    options = Options(port, max_attempts, retry_delay, failure_rate)
    raise SystemExit(demo_module.run(options, Console(soft_wrap=True, highlight=False)))


@local.command("up")
@_port
@_attempts
@_delay
@_failures
@click.option(
    "--redrive-every",
    type=click.IntRange(5, 86400),
    default=None,
    metavar="SECONDS",
    help="Run the scheduled critical redrive (RedriveFunction) this often; deployed, it runs once a day.",
)
def up(port: int | None, max_attempts: int, retry_delay: int, failure_rate: float, redrive_every: int | None) -> None:
    """Start Herald locally and keep it running until Ctrl-C.

    \b
    Then, in another shell, with the printed exports:
      herald send --channel webhook --id n-1 --to <webhook-url>/hooks/ok --body hi
      herald send --channel webhook --id n-2 --to <webhook-url>/hooks/down --body hi --critical
      herald status
      herald dlq list
    """
    from herald.local.emulator import Tally

    console = Console(soft_wrap=True, highlight=False)
    emulator = Emulator(Options(port, max_attempts, retry_delay, failure_rate))
    try:
        stack = emulator.start()
        from delivery.log import logger

        logger._logger.handlers = [Tally()]
        emulator.start_pollers()
        assert emulator.webhooks is not None
        console.print(f"Herald is running on {stack.endpoint}. To use it from another shell:\n")
        console.print(f"  export AWS_ENDPOINT_URL={stack.endpoint} AWS_DEFAULT_REGION=us-east-1")
        console.print("  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local")
        console.print(f"  export HERALD_QUEUE_URL={stack.queue_url}")
        console.print(f"  export HERALD_DLQ_URL={stack.dlq_url}\n")
        console.print(
            f"  webhook receiver: {emulator.webhooks.url}/hooks/<anything> (/gone 410, /down 503, /flaky 503 once)"
        )
        console.print("  email goes to SES on the endpoint; SMS to the HTTP SMS fake (numbers ending 0000 are refused)")
        if redrive_every:
            console.print(f"  critical redrive ({stack.redrive.name}): every {redrive_every}s")
        console.print("\nCtrl-C stops it.\n")
        next_redrive = time.monotonic() + (redrive_every or 0)
        while True:
            time.sleep(1)
            if redrive_every and time.monotonic() >= next_redrive:
                try:
                    emulator.run_redrive()  # logs its CRITICAL REDRIVE line
                except Exception as error:  # noqa: BLE001 - as a failed scheduled run: reported, the next one tries
                    console.print(f"[red]critical redrive failed: {type(error).__name__}: {error}[/red]")
                next_redrive = time.monotonic() + redrive_every
    except LocalRunError as error:
        console.print(f"[red]{error}[/red]")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        console.print("\nstopped")
    finally:
        emulator.stop()
