"""`make run`'s demo, end to end in a fresh process, as a newcomer sees it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def row(output: str, provider: str) -> list[int]:
    match = re.search(rf"^\S\s*{re.escape(provider)}\s*\S(.*)$", output, re.MULTILINE)
    assert match, f"no summary row for {provider}:\n{output}"
    return [int(n) for n in re.findall(r"\d+", match.group(1))]


def test_demo_shows_every_outcome_per_provider_and_leaves_nothing_queued() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HERALD_"))}
    result = subprocess.run(
        [sys.executable, "-m", "herald.local", "demo"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # columns: sent, retried, failed over, exhausted, permanent, invalid
    assert row(out, "ses") == [1, 0, 0, 0, 0, 0]
    assert row(out, "http_sms") == [1, 0, 1, 0, 1, 0]
    assert row(out, "sns") == [1, 0, 0, 0, 0, 0]
    webhook = row(out, "webhook")
    # The retried count can be 2 or 3: concurrent pollers may settle the flaky webhook in one retry or two.
    assert webhook[0] == 1, webhook
    assert webhook[1] >= 2, webhook
    assert webhook[2:] == [0, 1, 1, 0], webhook
    assert row(out, "-") == [0, 0, 0, 0, 0, 2]
    assert "still queued: 0, dead letters: 5" in out
    assert "not created locally (moto cannot): " in out
    assert "RetryFailedAlarm (AWS::CloudWatch::Alarm)" in out
