"""The local provider: one JSON line per send, to the outbox file or to stdout."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from delivery.contract import Notification
from providers import local
from providers.local import LocalProvider
from tests.support.providers import provider_context

EMAIL = Notification(id="e-1", channel="email", to="jane.doe@example.com", subject="Hi", body="héllo ✓")
SMS = Notification(id="s-1", channel="sms", to="+447700900123", body="line one\nline two")


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_each_send_appends_one_json_line_to_the_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    provider = local.create(provider_context({"HERALD_LOCAL_OUTBOX": str(outbox)}))

    first = provider.send(EMAIL)
    second = provider.send(SMS)

    records = [json.loads(line) for line in lines_of(outbox)]
    assert records == [
        {
            "provider_message_id": first,
            "id": "e-1",
            "channel": "email",
            "to": "jane.doe@example.com",
            "subject": "Hi",
            "body": "héllo ✓",
        },
        {
            "provider_message_id": second,
            "id": "s-1",
            "channel": "sms",
            "to": "+447700900123",
            "subject": None,
            "body": "line one\nline two",
        },
    ]


def test_returned_ids_are_distinct(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path / "outbox.jsonl")

    ids = [provider.send(SMS) for _ in range(5)]

    assert len(set(ids)) == 5
    assert all(ids)


def test_existing_outbox_lines_are_kept(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    outbox.write_text('{"earlier": true}\n', encoding="utf-8")

    LocalProvider(outbox).send(SMS)

    assert lines_of(outbox)[0] == '{"earlier": true}'
    assert json.loads(lines_of(outbox)[1])["id"] == "s-1"


def test_concurrent_sends_write_whole_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    provider = LocalProvider(outbox)
    barrier = threading.Barrier(8, timeout=10)
    returned: list[str] = []
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            barrier.wait()
            # Large bodies, so a write that is not serialised would interleave across lines.
            returned.append(
                provider.send(Notification(id=f"n-{i}", channel="sms", to="+447700900123", body=str(i) * 65_536))
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    records = [json.loads(line) for line in lines_of(outbox)]
    assert len(records) == 8
    assert sorted(r["id"] for r in records) == sorted(f"n-{i}" for i in range(8))
    for record in records:
        assert record["body"] == record["id"].removeprefix("n-") * 65_536
    assert sorted(r["provider_message_id"] for r in records) == sorted(returned)
    assert len(set(returned)) == 8


@pytest.mark.parametrize("variables", [{}, {"HERALD_LOCAL_OUTBOX": "   "}])
def test_without_an_outbox_the_line_goes_to_stdout(
    variables: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    provider = local.create(provider_context(variables))

    message_id = provider.send(EMAIL)

    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["provider_message_id"] == message_id
    assert record["id"] == "e-1"
    assert record["to"] == "j***@example.com", "stdout is the function's log: the recipient is masked"
    assert record["subject"] == "Hi"
    assert record["body"] == "héllo ✓"
