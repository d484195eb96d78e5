"""``make bench``'s chaos figures: the 10,000-notification soak (bench/soak.py) and the 10,000-body fuzz
(bench/fuzz.py), plus a 2,000-notification soak that also throttles the idempotency record's success save.

Each runs in a child process, two at a time: one is a single busy interpreter (Herald's threads share its
GIL), so two use the machine's two cores. Their ``name: value`` lines are printed in a fixed order.

soak_* (10,000 notifications, seed 1)
    Counted at the providers and in the dead-letter queue: sent once, duplicates (must be 0), lost (must be 0),
    dead-lettered by reason, every injected fault and how often it happened, wall time.
fuzz_* (>= 10,000 bodies, seed 1)
    Batch crashes (must be 0), bodies dead-lettered as invalid, delivered, unexplained violations (must be 0),
    and how many bodies hit each known bug (each has a strict xfail in tests/soak/test_fuzz.py).
soak_success_save_throttled_* (2,000 notifications, seed 2)
    The same soak with UpdateItem throttled too: the duplicates the known "unrecorded send" window lets through.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import ROOT

SOAK = ["bench.soak", "10000", "1"]
FUZZ = ["bench.fuzz", "10000", "1"]
WINDOW = ["bench.soak", "2000", "2", "--throttle-success-saves", "--prefix", "soak_success_save_throttled"]


def start(module_and_args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *module_and_args],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 900) -> str:
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"{process.args!r} failed ({process.returncode}):\n{out}\n{err[-4000:]}")
    return out


def measure_chaos() -> None:
    started = time.perf_counter()
    soak = start(SOAK)
    try:
        fuzz_out = finish(start(FUZZ))
        window_out = finish(start(WINDOW))
        soak_out = finish(soak)
    finally:
        if soak.poll() is None:
            soak.kill()
            soak.wait()
    for out in (soak_out, fuzz_out, window_out):
        print(out, end="", flush=True)
    print(f"# chaos figures took {time.perf_counter() - started:.1f} s (two children at a time)", flush=True)


if __name__ == "__main__":
    measure_chaos()
