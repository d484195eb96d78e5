"""``python -m bench``: Herald's batch latency, per-record overhead, cold start and memory, in one run.

Prints ``name: value`` lines (lines starting with ``#`` are context). The machine is shared and noisy,
so each figure is a median of repetitions and compared against a baseline measured in the same run.

batch10_wall_ms / batch10_wall_over_latency (target <= 1.2)
    Wall time of ``SqsBatchRunner.handle(event)`` for a batch of 10 webhook notifications, the event built
    from real (moto) SQS receives, sent to a loopback receiver that answers each POST after L = 200 ms;
    divided by L. About 1 means the 10 sends overlap. Median of 5 batches after a first one.
overhead_per_record_us / baseline_per_record_us / overhead_ratio_vs_batchprocessor (target <= 4, not met)
    Time per record (total / records) of 200 synthetic batches of 10 valid records through Herald's
    runner and delivery core with an instant no-op provider, vs the same events through a bare Powertools
    ``BatchProcessor(EventType.SQS)`` + ``process_partial_response`` with a no-op record handler.
    Median of 7 alternating runs each (a baseline run makes 20 passes: it is ~100x faster). Context
    lines split Herald's figure: the delivery core alone, and the asyncio.run-per-batch mode used
    outside Lambda. parse_and_log_per_record_us / overhead_ratio_vs_parse_and_log compare Herald with a
    BatchProcessor whose handler does the least any sender does (json.loads + one Powertools log line):
    the no-op baseline is ~1 us, one JSON log line alone ~30-50 us, so the <= 4 target against the no-op
    cannot be met by a handler that logs each send.
cold_start_herald_ms / cold_start_diy_ms / cold_start_ratio_vs_diy (target <= 1.0)
    A fresh Python process that imports ``handlers.deliver`` and handles one batch with one successful
    webhook POST to 127.0.0.1, timed from just before the parent spawns it to "batch handled"; vs the
    same with the hand-written handler in bench/diy_handler.py. Median of 7 alternating pairs.
peak_rss_mib (target <= 100)
    Peak resident memory of the Herald cold-start child (its VmHWM; see bench/child.py for why not
    ru_maxrss), median.

In-process figures run with LAMBDA_TASK_ROOT set, as in Lambda (Powertools then reuses one event loop
across invocations instead of asyncio.run per batch). No AWS is reachable: fake credentials, moto
in-process, and children's AWS endpoints pointed at 127.0.0.1:1.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from bench import ROOT, SRC
from bench.chaos import measure_chaos
from bench.events import REGION, received_event, synthetic_event, webhook_body
from delivery.app import build_deliverer
from delivery.config import EnvReader, Settings
from delivery.contract import Notification
from delivery.core import Deliverer
from delivery.log import logger as herald_logger
from delivery.queue import QueuedMessage, SqsQueue
from handlers.sqs_batch import SqsBatchRunner, to_queued_message
from herald.local.receiver import Receiver, Reply

LATENCY = 0.2  # seconds the loopback receiver takes to answer each webhook
DEAD_END = "http://127.0.0.1:1"  # nothing listens here: a mistaken AWS call fails at once, locally
SAFE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "LAMBDA_TASK_ROOT": SRC,
}


def emit(name: str, value: float, digits: int = 2) -> None:
    print(f"{name}: {value:.{digits}f}", flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


@contextmanager
def herald_logs_discarded() -> Iterator[None]:
    """Herald still formats and writes every JSON log line, to /dev/null instead of the terminal."""
    handler = herald_logger.logger_handler
    assert isinstance(handler, logging.StreamHandler)
    with open(os.devnull, "w") as devnull:
        previous = handler.setStream(devnull)
        try:
            yield
        finally:
            handler.setStream(previous)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# --- 1. a batch of 10 slow webhooks -----------------------------------------------------------


def measure_batch_latency(batches: int = 5) -> None:
    with mock_aws(), Receiver(Reply(200, delay=LATENCY)) as receiver:
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="herald-dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName="herald", Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        env = EnvReader({"HERALD_DLQ_URL": dlq_url, "HERALD_WEBHOOK_ALLOW_PRIVATE": "true"})
        deliverer = build_deliverer(env, SqsQueue(dlq_url, sqs))
        runner = SqsBatchRunner(deliverer, deliverer.settings.concurrency)
        walls = []
        for batch in range(batches + 1):
            entries = [{"Id": str(i), "MessageBody": webhook_body(f"n-{batch}-{i}", receiver.url)} for i in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            event = received_event(sqs, url, arn, 10)
            answered = len(receiver.requests)
            started = time.perf_counter()
            response = runner.handle(event)
            walls.append(time.perf_counter() - started)
            if response != {"batchItemFailures": []} or len(receiver.requests) - answered != 10:
                raise RuntimeError(f"batch {batch} did not send all 10 webhooks: {response}")
        runner.pool.shutdown()
    wall = statistics.median(walls[1:])
    note(f"L = {LATENCY * 1000:.0f} ms; first batch (new threads and connections) {walls[0] * 1000:.1f} ms")
    note("batch walls ms: " + " ".join(f"{w * 1000:.1f}" for w in walls[1:]))
    emit("batch10_wall_ms", wall * 1000, 1)
    emit("batch10_wall_over_latency", wall / LATENCY, 3)


# --- 2. per-record overhead with an instant provider ------------------------------------------


class NoopProvider:
    name = "noop"
    channels = frozenset({"webhook"})
    max_call_seconds = 1.0

    def send(self, notification: Notification) -> str:
        return "noop"


class NoQueue:
    """A success never touches SQS; anything else is a bench bug."""

    def retry_later(self, message: QueuedMessage, delay_seconds: int) -> None:
        raise AssertionError(f"unexpected retry of {message.message_id}")

    def dead_letter(self, message: QueuedMessage, attributes: dict[str, str | int]) -> None:
        raise AssertionError(f"unexpected dead letter of {message.message_id}: {attributes}")


def noop_record_handler(record: SQSRecord) -> None:
    pass


def logging_record_handler(record: SQSRecord) -> None:
    """The least a real sender does per record: parse the body and log one JSON line about it."""
    notification = json.loads(record.body)
    herald_logger.info(f"SENT: notification {notification['id']}", extra={"notification_id": notification["id"]})


def measure_overhead(batches: int = 200, size: int = 10, runs: int = 7, baseline_passes: int = 20) -> None:
    events = [synthetic_event(b, size, "https://hooks.example.com/x") for b in range(batches)]
    records = batches * size
    read = EnvReader({"HERALD_DLQ_URL": f"{DEAD_END}/123456789012/herald-dlq", "HERALD_WEBHOOK_PROVIDER": "noop"})
    settings = Settings.from_env(read)
    deliverer = Deliverer(settings, {"noop": NoopProvider()}, NoQueue())
    runner = SqsBatchRunner(deliverer, settings.concurrency)
    processor = BatchProcessor(EventType.SQS)

    def herald() -> None:
        for event in events:
            if runner.handle(event)["batchItemFailures"]:
                raise RuntimeError("Herald failed a no-op send")

    def baseline() -> None:  # ~100x faster than Herald: several passes, so one timing is not a few ms
        for _ in range(baseline_passes):
            for event in events:
                if process_partial_response(event, noop_record_handler, processor)["batchItemFailures"]:
                    raise RuntimeError("BatchProcessor failed a no-op record")

    def herald_us() -> float:
        return timed(herald) / records * 1e6

    def parse_and_log() -> None:
        for event in events:
            process_partial_response(event, logging_record_handler, processor)

    herald()  # warm-up: thread pool, event loop, caches
    baseline()
    herald_runs, baseline_runs, logging_runs = [], [], []
    for _ in range(runs):  # alternating, so all see the same machine
        herald_runs.append(herald_us())
        baseline_runs.append(timed(baseline) / (records * baseline_passes) * 1e6)
        logging_runs.append(timed(parse_and_log) / records * 1e6)
    overhead, base = statistics.median(herald_runs), statistics.median(baseline_runs)
    parse_log = statistics.median(logging_runs)

    # Where the time goes: the delivery core alone, on this thread (no event loop, no thread pool) ...
    messages = [to_queued_message(SQSRecord(record)) for event in events for record in event["Records"]]
    core = statistics.median(timed(lambda: [deliverer.deliver(m) for m in messages]) for _ in range(3)) / records
    # ... and the local poller's way: outside Lambda, Powertools runs asyncio.run() for every batch.
    del os.environ["LAMBDA_TASK_ROOT"]
    try:
        outside_lambda = statistics.median(herald_us() for _ in range(3))
    finally:
        os.environ["LAMBDA_TASK_ROOT"] = SRC
    runner.pool.shutdown()

    note(f"{batches} batches x {size} records; Herald with a no-op provider, its JSON log lines written to /dev/null")
    note("herald us/record runs: " + " ".join(f"{us:.0f}" for us in herald_runs))
    note("baseline us/record runs: " + " ".join(f"{us:.2f}" for us in baseline_runs))
    note(f"Deliverer.deliver alone (one thread, no asyncio, no pool): {core * 1e6:.1f} us/record")
    note(f"herald outside Lambda (no LAMBDA_TASK_ROOT: asyncio.run per batch): {outside_lambda:.1f} us/record")
    emit("overhead_per_record_us", overhead, 1)
    emit("baseline_per_record_us", base, 2)
    emit("overhead_ratio_vs_batchprocessor", overhead / base, 1)
    # Context for the ratio above: a BatchProcessor whose handler only parses the body and logs one line.
    emit("parse_and_log_per_record_us", parse_log, 1)
    emit("overhead_ratio_vs_parse_and_log", overhead / parse_log, 1)


# --- 3 and 4. cold start and memory of a fresh process ----------------------------------------


def run_child(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    env = {
        **os.environ,
        **SAFE_ENV,
        "AWS_ENDPOINT_URL": DEAD_END,
        "AWS_ENDPOINT_URL_SQS": DEAD_END,
        "HERALD_DLQ_URL": f"{DEAD_END}/123456789012/herald-dlq",
        "HERALD_WEBHOOK_ALLOW_PRIVATE": "true",
        "PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}",
        "BENCH_EVENT": json.dumps(event),
    }
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "AWS_PROFILE"):
        env.pop(proxy, None)
    env["BENCH_T0"] = repr(time.perf_counter())
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", kind], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    process_s = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines or not json.loads(lines[-1][6:])["ok"]:
        raise RuntimeError(f"{kind} child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {**json.loads(lines[-1][6:]), "process_s": process_s}


PARTS = ("startup", "import", "handle", "process")  # interpreter start, handler import, the batch, whole process


def measure_cold_start(pairs: int = 7) -> None:
    results: dict[str, list[dict[str, Any]]] = {"herald": [], "diy": []}
    with Receiver() as receiver:
        event = synthetic_event(0, 1, receiver.url)
        for kind in results:  # warm-up, not counted: page cache, .pyc files
            run_child(kind, event)
        for _ in range(pairs):
            for kind in results:
                results[kind].append(run_child(kind, event))
        if len(receiver.requests) != 2 * pairs + 2:
            raise RuntimeError(f"expected {2 * pairs + 2} webhook POSTs, the receiver got {len(receiver.requests)}")

    def median_of(kind: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results[kind]))

    herald_ms, diy_ms = median_of("herald", "elapsed_s") * 1000, median_of("diy", "elapsed_s") * 1000
    note("cold start = parent's clock just before spawn -> child's clock at batch handled (one CLOCK_MONOTONIC);")
    note("parts: startup = interpreter up, import = handler module, handle = the batch, process = spawn to exit")
    for kind in results:
        runs = " ".join(f"{r['elapsed_s'] * 1000:.0f}" for r in results[kind])
        parts = ", ".join(f"{part} {median_of(kind, part + '_s') * 1000:.0f}" for part in PARTS)
        note(f"{kind} cold starts ms: {runs}; medians: {parts}")
    note(f"diy peak RSS {median_of('diy', 'peak_kib') / 1024:.1f} MiB")
    emit("cold_start_herald_ms", herald_ms, 1)
    emit("cold_start_diy_ms", diy_ms, 1)
    emit("cold_start_ratio_vs_diy", herald_ms / diy_ms, 3)
    emit("peak_rss_mib", median_of("herald", "peak_kib") / 1024, 1)


def main() -> None:
    started = time.perf_counter()
    os.environ.update(SAFE_ENV)
    note(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with herald_logs_discarded():
        measure_batch_latency()
        measure_overhead()
    measure_cold_start()
    measure_chaos()  # bench/chaos.py: the soak and fuzz figures (bench/soak.py, bench/fuzz.py)
    note(f"bench took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
