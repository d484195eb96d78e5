"""Fuzz the message contract through the real handler path (bench/fuzz.py): ~1,000 generated bodies.

No batch crashes; every invalid body is dead-lettered at once with reason invalid and a last_error; every valid
one is delivered exactly once at the providers; nothing stays on the queue. Each known bug the fuzz found has
a test below, with the smallest body that shows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import example, given

from bench.fuzz import EDGE_CASES, ID, RECEIVER, SQS_MAX_BYTES, Case, FuzzHarness, Violation, batches, fuzz_settings


@pytest.fixture(scope="module")
def fuzz() -> Iterator[FuzzHarness]:
    with FuzzHarness() as harness:
        yield harness


def unexplained(found: list[Violation]) -> str:
    return "\n".join(str(v) for v in found if v.kind == "unknown")


@fuzz_settings(examples=300, shrink=False)  # derandomized: the same ~1,100 bodies every run; no slow shrinking in CI
@given(batch=batches())
@example(batch=EDGE_CASES[0])
@example(batch=EDGE_CASES[1])
@example(batch=EDGE_CASES[2])
def test_generated_bodies_are_dead_lettered_as_invalid_or_delivered_once(fuzz: FuzzHarness, batch: list[Case]) -> None:
    assert unexplained(fuzz.run(batch)) == ""


def test_the_fuzz_ran_a_thousand_bodies_of_every_kind_without_a_batch_crash(fuzz: FuzzHarness) -> None:
    report = fuzz.report
    assert report.bodies >= 1000
    assert set(report.kinds) >= {"valid", "near_valid", "text_mutant", "text", "bytes", "json", "deep", "huge"}
    assert report.batch_crashes == []
    assert report.outcomes["invalid"] > 0
    assert report.outcomes["delivered"] > 0
    assert fuzz.dead_letter_queue_depth() == 0, "every dead letter is one Herald reported writing"


# --- what the fuzz found -------------------------------------------------------------------------------


def message(channel: str, **fields: object) -> Case:
    to = {"email": "jane@example.com", "sms": "+447700900123", "webhook": f"{RECEIVER}/hooks"}[channel]
    return Case("valid", message={"id": ID, "channel": channel, "to": to, "body": "hello", **fields})


def kinds(found: list[Violation]) -> set[str]:
    return {v.kind for v in found}


def test_an_sms_with_a_lone_surrogate_is_not_retried_until_exhausted(fuzz: FuzzHarness) -> None:
    found = fuzz.run([message("sms", body="hi \ud800")])
    assert "unencodable_text_retried" not in kinds(found), found


def test_webhook_payloads_are_standard_json(fuzz: FuzzHarness) -> None:
    found = fuzz.run([message("webhook", metadata={"ratio": float("nan")})])
    assert "nonstandard_json_payload" not in kinds(found), found


def test_an_invalid_body_just_under_the_size_limit_is_dead_lettered_at_once(fuzz: FuzzHarness) -> None:
    case = Case("huge", message={"id": ID, "channel": "webhook", "body": "x", "x" * (SQS_MAX_BYTES - 1024): 1})
    found = fuzz.run([case])
    assert "dead_letter_over_size_limit" not in kinds(found), found


ODD_HOST = message("webhook", to="http://\ud800x/")  # matches the contract's URL pattern; no URL parser takes it


def test_a_dead_letter_quoting_an_odd_webhook_host_is_accepted_by_sqs(fuzz: FuzzHarness) -> None:
    assert "dead_letter_refused_by_sqs" not in kinds(found := fuzz.run([ODD_HOST])), found


def test_log_lines_about_an_odd_recipient_are_written(fuzz: FuzzHarness) -> None:
    assert "log_line_unencodable" not in kinds(found := fuzz.run([ODD_HOST])), found


def test_a_webhook_url_that_cannot_be_posted_is_not_retried(fuzz: FuzzHarness) -> None:
    assert "unsendable_webhook_url_retried" not in kinds(found := fuzz.run([ODD_HOST])), found
