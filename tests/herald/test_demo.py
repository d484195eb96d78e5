"""`make run`'s demo, end to end in a fresh process, as a newcomer sees it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_a_delivery_a_retry_a_retry_failed_and_each_kind_of_dead_letter(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HERALD_"))}
    result = subprocess.run(
        [sys.executable, "-m", "herald.demo"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"sent\s+2\n", out)
    assert re.search(r"retried\s+3 ", out)
    assert re.search(r"retries failed\s+1\n", out)
    assert re.search(r"dead letters\s+3\n", out)
    assert sorted(re.findall(r"^    (invalid|permanent|exhausted) ", out, re.MULTILINE)) == [
        "exhausted",
        "invalid",
        "permanent",
    ]
    assert re.search(r"still queued\s+0\n", out)
