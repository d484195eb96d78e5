"""Cold-start child: ``python -m bench.child herald|diy``, one batch in a fresh interpreter.

The parent puts the Lambda event in BENCH_EVENT and its time.perf_counter() (CLOCK_MONOTONIC on
Linux, shared by all processes) just before spawning in BENCH_T0. The child imports the handler,
handles the batch, and prints one ``BENCH {json}`` line: seconds from BENCH_T0 to "batch handled"
(and its parts: interpreter start, handler import, handling), its own peak RSS, and whether the
batch succeeded.

Peak RSS is VmHWM from /proc/self/status, not getrusage: Linux carries the parent's high-water
mark into ru_maxrss across fork/vfork + exec, so a child of a big parent reports the parent's peak.
"""

import json
import os
import sys
import time


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    t0 = float(os.environ["BENCH_T0"])
    event = json.loads(os.environ["BENCH_EVENT"])
    ready = time.perf_counter()  # the interpreter is up
    if sys.argv[1] == "herald":
        from handlers.deliver import handler
    else:
        from bench.diy_handler import handler
    imported = time.perf_counter()
    response = handler(event, None)
    handled = time.perf_counter()
    result = {
        "elapsed_s": handled - t0,
        "startup_s": ready - t0,
        "import_s": imported - ready,
        "handle_s": handled - imported,
        "peak_kib": peak_rss_kib(),
        "ok": response == {"batchItemFailures": []},
    }
    print("BENCH " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
