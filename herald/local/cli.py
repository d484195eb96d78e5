"""`herald local ...`: Herald end to end on this machine (embedded AWS endpoint, local providers)."""

from __future__ import annotations

import click


@click.group("local")
def local() -> None:
    """Run Herald locally: no AWS account, no Docker."""


@local.command("demo")
def demo() -> None:
    """The `make run` story: deliveries, retries, RETRY FAILED and dead letters within a minute."""
    from herald import demo as demo_module

    raise SystemExit(demo_module.main())
