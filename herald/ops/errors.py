"""The two kinds of failure the CLI reports, each with the exit code a script can rely on."""

from __future__ import annotations


class HeraldError(Exception):
    """An operational failure (an AWS error, a dead letter not found, a redrive that left some behind): exit 1."""

    exit_code = 1


class UsageProblem(HeraldError):
    """Bad input: no queue given, a stack or output missing, a message that breaks the contract: exit 2."""

    exit_code = 2
