"""The `herald` operator CLI against moto: dead letters are produced by running Herald's real core."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from delivery.contract import PermanentError, TransientError
from herald.cli import main
from herald.ops import deadletters
from herald.ops.aws import Aws
from herald.ops.deadletters import parse_time, scrub, short_time
from herald.ops.redrive import Pacer
from tests.conftest import REGION, Herald, LogLines, Queues, create_queues, make_herald
from tests.support.providers import ScriptedProvider
from tests.support.sqs import drain

GONE = "https://hooks.example.com/*** answered HTTP 410"


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers short polls completely; long polls would only make the tests wait."""
    monkeypatch.setattr(deadletters, "RECEIVE_WAIT_SECONDS", 0)
    for name in ("HERALD_QUEUE_URL", "HERALD_DLQ_URL", "HERALD_STACK", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hooks() -> ScriptedProvider:
    return ScriptedProvider("hooks")


@pytest.fixture
def texts() -> ScriptedProvider:
    return ScriptedProvider("texts")


@pytest.fixture
def herald(sqs: Any, queues: Queues, hooks: ScriptedProvider, texts: ScriptedProvider) -> Herald:
    """Herald's core on the moto queues: webhooks via `hooks`, SMS via `texts`; 2 attempts, retries at once."""
    return make_herald(
        sqs,
        queues,
        {"hooks": hooks, "texts": texts},
        HERALD_WEBHOOK_PROVIDER="hooks",
        HERALD_SMS_PROVIDER="texts",
        HERALD_MAX_ATTEMPTS="2",
        HERALD_RETRY_DELAY_SECONDS="0",
    )


def webhook(notification_id: str, to: str = "https://hooks.example.com/t/s3cr3t", **fields: Any) -> dict[str, Any]:
    return {"id": notification_id, "channel": "webhook", "to": to, "body": "hi", **fields}


def sms(notification_id: str, to: str = "+447700900123", **fields: Any) -> dict[str, Any]:
    return {"id": notification_id, "channel": "sms", "to": to, "body": "hi", **fields}


def settle(herald: Herald, clock: time_machine.Coordinates | None = None) -> None:
    """Run the handler until the source queue is empty. Retries come back at once (delay 0); under a
    frozen clock, a second has to pass for that."""
    for _ in range(20):
        if not herald.run_batch():
            return
        if clock is not None:
            clock.shift(1)
    raise AssertionError("the queue did not settle")


def refused(
    herald: Herald, provider: ScriptedProvider, *messages: dict[str, Any], clock: time_machine.Coordinates | None = None
) -> None:
    """Dead-letter each message as `permanent`: its provider refuses it for good."""
    for message in messages:
        provider.fail(message["id"], PermanentError(GONE))
        herald.send(message)
    settle(herald, clock)


def exhausted(
    herald: Herald, provider: ScriptedProvider, *messages: dict[str, Any], clock: time_machine.Coordinates | None = None
) -> None:
    """Dead-letter each message as `exhausted` after its 2 attempts."""
    for message in messages:
        provider.fail(message["id"], TransientError("answered HTTP 503"), TransientError("answered HTTP 503"))
        herald.send(message)
    settle(herald, clock)


def invalid(
    herald: Herald, body: str = "{not json, to jane@example.com", clock: time_machine.Coordinates | None = None
) -> None:
    herald.send(body)
    settle(herald, clock)


def now_iso(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def table_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def herald_cli(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def on(queues: Queues) -> list[str]:
    return ["--queue-url", queues.url, "--dlq-url", queues.dlq_url]


def bodies(sqs: Any, url: str) -> list[str]:
    return [m["Body"] for m in drain(sqs, url)]


def ids_on(sqs: Any, url: str, clock: time_machine.Coordinates | None = None) -> list[str]:
    if clock is not None:
        clock.shift(1)  # see counts()
    return sorted(json.loads(body)["id"] for body in bodies(sqs, url))


def counts(sqs: Any, url: str, clock: time_machine.Coordinates | None = None) -> dict[str, int]:
    """Visible and in flight. Under a frozen clock moto makes a message whose visibility was set to 0
    visible only once time moves on, so a second passes first (the CLI's hold is 30 s)."""
    if clock is not None:
        clock.shift(1)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    }


# --- herald send ------------------------------------------------------------------------------------


def test_send_puts_the_message_from_flags_on_the_queue_and_prints_its_message_id(sqs: Any, queues: Queues) -> None:
    result = herald_cli(
        "send", *on(queues), "--id", "order-1", "--channel", "email", "--to", "jane@example.com",
        "--subject", "Shipped", "--body", "It has shipped", "--critical", "--metadata", '{"order": 1}',
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [message] = drain(sqs, queues.url)
    assert result.stdout.strip() == message["MessageId"]
    assert json.loads(message["Body"]) == {
        "id": "order-1",
        "channel": "email",
        "to": "jane@example.com",
        "subject": "Shipped",
        "body": "It has shipped",
        "critical": True,
        "metadata": {"order": 1},
    }
    assert "j***@example.com" in result.stderr
    assert "jane@example.com" not in result.stderr


def test_send_without_an_id_generates_one(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--channel", "sms", "--to", "+447700900123", "--body", "hi")

    assert result.exit_code == 0, result.output
    [body] = bodies(sqs, queues.url)
    assert json.loads(body)["id"].startswith("cli-")


def test_send_of_a_message_that_breaks_the_contract_exits_2_and_sends_nothing(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--channel", "email", "--to", "jane@example.com", "--body", "no subject")

    assert result.exit_code == 2
    assert "invalid message, nothing sent: schema: message must contain ['subject'] properties" in result.stderr
    assert drain(sqs, queues.url) == []


def test_send_with_metadata_that_is_not_json_exits_2_and_sends_nothing(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--channel", "sms", "--to", "+447700900123", "--body", "hi",
                        "--metadata", "{order: 1}")  # fmt: skip

    assert result.exit_code == 2
    assert "--metadata is not JSON" in result.stderr
    assert drain(sqs, queues.url) == []


def test_send_from_stdin_sends_the_json_as_given(sqs: Any, queues: Queues) -> None:
    text = json.dumps(webhook("from-stdin"), indent=2)

    result = herald_cli("send", *on(queues), "--file", "-", input=text)

    assert result.exit_code == 0, result.output
    assert bodies(sqs, queues.url) == [text]


def test_send_from_a_file(sqs: Any, queues: Queues, tmp_path: Path) -> None:
    path = tmp_path / "notification.json"
    path.write_text(json.dumps(sms("from-file")), encoding="utf-8")

    result = herald_cli("send", *on(queues), "--file", str(path))

    assert result.exit_code == 0, result.output
    assert ids_on(sqs, queues.url) == ["from-file"]


def test_send_of_an_invalid_file_exits_2_and_sends_nothing(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--file", "-", input=json.dumps(webhook("x", subjet="typo")))

    assert result.exit_code == 2
    assert "must not contain {'subjet'} properties" in result.stderr
    assert drain(sqs, queues.url) == []


def test_send_with_both_a_file_and_message_flags_exits_2(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--file", "-", "--channel", "sms", input=json.dumps(sms("x")))

    assert result.exit_code == 2
    assert "not both (--channel)" in result.stderr
    assert drain(sqs, queues.url) == []


def test_send_dry_run_validates_and_sends_nothing(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--dry-run", "--file", "-", input=json.dumps(sms("dry")))

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "dry"
    assert drain(sqs, queues.url) == []


def test_send_json_output_names_message_notification_and_queue(sqs: Any, queues: Queues) -> None:
    result = herald_cli("send", *on(queues), "--json", "--file", "-", input=json.dumps(sms("j-1")))

    assert result.exit_code == 0, result.output
    [message] = drain(sqs, queues.url)
    assert json.loads(result.stdout) == {
        "message_id": message["MessageId"],
        "notification_id": "j-1",
        "queue_url": queues.url,
    }


def test_send_to_a_fifo_queue_without_a_group_exits_2(sqs: Any) -> None:
    fifo = create_queues(sqs, "orders", fifo=True)

    result = herald_cli("send", "--queue-url", fifo.url, "--file", "-", input=json.dumps(sms("f-1")))

    assert result.exit_code == 2
    assert "--group-id" in result.stderr
    assert drain(sqs, fifo.url) == []


def test_send_to_a_fifo_queue_uses_the_group_and_the_id_as_deduplication_id(sqs: Any) -> None:
    fifo = create_queues(sqs, "orders", fifo=True)

    for _ in range(2):  # the second send is a duplicate SQS drops
        result = herald_cli("send", "--queue-url", fifo.url, "--group-id", "A", "-f", "-", input=json.dumps(sms("f-1")))
        assert result.exit_code == 0, result.output

    [message] = drain(sqs, fifo.url)
    assert message["Attributes"]["MessageGroupId"] == "A"
    assert message["Attributes"]["MessageDeduplicationId"] == "f-1"


# --- which queues -----------------------------------------------------------------------------------

STACK_TEMPLATE = {
    "Resources": {
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stacked-dlq"}},
        "NotificationQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "stacked",
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": 60,
                },
            },
        },
    },
    "Outputs": {
        "NotificationQueueUrl": {"Value": {"Ref": "NotificationQueue"}},
        "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}},
    },
}


@pytest.fixture
def stack(sqs: Any) -> Queues:
    """A tiny stack with the two outputs Herald's template has; its queues as Queues."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="herald-test", TemplateBody=json.dumps(STACK_TEMPLATE))
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="herald-test")["Stacks"][0]["Outputs"]
    }
    return Queues(outputs["NotificationQueueUrl"], "", outputs["DeadLetterQueueUrl"], "")


def test_stack_outputs_name_both_queues(sqs: Any, stack: Queues) -> None:
    sqs.send_message(QueueUrl=stack.url, MessageBody="a")
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="b")
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="c")

    result = herald_cli("status", "--stack", "herald-test", "--json")

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert (status["queue"]["url"], status["queue"]["visible"]) == (stack.url, 1)
    assert (status["dead_letter_queue"]["url"], status["dead_letter_queue"]["visible"]) == (stack.dlq_url, 2)


def test_stack_that_does_not_exist_exits_2(sqs: Any) -> None:
    result = herald_cli("status", "--stack", "no-such-stack")

    assert result.exit_code == 2
    assert "stack 'no-such-stack' does not exist in us-east-1" in result.stderr


def test_stack_without_herald_outputs_exits_2(sqs: Any) -> None:
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"Other": {"Value": {"Ref": "Q"}}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="other", TemplateBody=json.dumps(template)
    )

    result = herald_cli("dlq", "list", "--stack", "other")

    assert result.exit_code == 2
    assert "stack 'other' has no output DeadLetterQueueUrl (its outputs: Other)" in result.stderr


def test_no_queue_given_exits_2_and_says_how_to_give_one(sqs: Any) -> None:
    result = herald_cli("send", "--file", "-", input=json.dumps(sms("x")))

    assert result.exit_code == 2
    assert "no queue given: use --stack NAME" in result.stderr
    assert "HERALD_QUEUE_URL" in result.stderr


def test_queue_urls_from_the_environment(sqs: Any, queues: Queues) -> None:
    env = {"HERALD_QUEUE_URL": queues.url, "HERALD_DLQ_URL": queues.dlq_url}

    result = herald_cli("send", "--file", "-", input=json.dumps(sms("env-1")), env=env)

    assert result.exit_code == 0, result.output
    assert ids_on(sqs, queues.url) == ["env-1"]


def test_a_stack_wins_over_queue_urls_from_the_environment(sqs: Any, queues: Queues, stack: Queues) -> None:
    env = {"HERALD_QUEUE_URL": queues.url}

    result = herald_cli("send", "--stack", "herald-test", "--file", "-", input=json.dumps(sms("s-1")), env=env)

    assert result.exit_code == 0, result.output
    assert ids_on(sqs, stack.url) == ["s-1"]
    assert drain(sqs, queues.url) == []


def test_a_queue_url_on_the_command_line_wins_over_the_stack(sqs: Any, queues: Queues, stack: Queues) -> None:
    result = herald_cli("send", "--stack", "herald-test", "--queue-url", queues.url, "--file", "-",
                        input=json.dumps(sms("c-1")))  # fmt: skip

    assert result.exit_code == 0, result.output
    assert ids_on(sqs, queues.url) == ["c-1"]


def test_dead_letter_queue_is_found_from_the_queues_redrive_policy(
    herald: Herald, hooks: ScriptedProvider, queues: Queues
) -> None:
    refused(herald, hooks, webhook("w-1"))

    result = herald_cli("dlq", "list", "--queue-url", queues.url, "--json")

    assert result.exit_code == 0, result.output
    assert [g["notification_ids"] for g in json.loads(result.stdout)] == [["w-1"]]
    assert f"using dead-letter queue {queues.dlq_url}" in result.stderr


def test_queue_is_found_from_the_dead_letter_queue(herald: Herald, queues: Queues) -> None:
    result = herald_cli("status", "--dlq-url", queues.dlq_url, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["queue"]["url"] == queues.url


def test_aws_error_exits_1_with_the_aws_error_code(sqs: Any, queues: Queues) -> None:
    missing = queues.url.replace("herald", "nope")

    result = herald_cli("status", "--queue-url", missing, "--dlq-url", queues.dlq_url)

    assert result.exit_code == 1
    assert "AWS GetQueueAttributes failed: " in result.stderr
    assert "The specified queue does not exist" in result.stderr


# --- herald status ----------------------------------------------------------------------------------


def test_status_counts_visible_in_flight_and_delayed_on_both_queues(sqs: Any, queues: Queues) -> None:
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    sqs.send_message(QueueUrl=queues.url, MessageBody="later", DelaySeconds=600)
    sqs.receive_message(QueueUrl=queues.url, MaxNumberOfMessages=1)  # one in flight, as a retry delay would be
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody="dead")

    result = herald_cli("status", *on(queues), "--json")

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert {k: status["queue"][k] for k in ("visible", "in_flight", "delayed")} == {
        "visible": 2,
        "in_flight": 1,
        "delayed": 1,
    }
    dead = status["dead_letter_queue"]
    assert (dead["visible"], dead["in_flight"], dead["delayed"]) == (1, 0, 0)


def test_status_gives_the_age_of_the_oldest_dead_letter_and_leaves_every_dead_letter_visible(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, clock: time_machine.Coordinates
) -> None:
    refused(herald, hooks, webhook("old"), clock=clock)
    clock.shift(3599)
    refused(herald, hooks, webhook("new"), clock=clock)
    clock.shift(3599)

    result = herald_cli("status", *on(queues), "--json")

    assert result.exit_code == 0, result.output
    oldest = json.loads(result.stdout)["dead_letter_queue"]["oldest"]
    assert (oldest["notification_id"], oldest["age_seconds"]) == ("old", 7200)
    assert oldest["expires_in_seconds"] == 345600 - 7200  # moto's default retention: 4 days
    assert counts(herald.sqs, queues.dlq_url, clock) == {"visible": 2, "in_flight": 0}


def test_status_prints_a_plain_table_when_not_a_terminal(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, clock: time_machine.Coordinates
) -> None:
    refused(herald, hooks, webhook("old"), clock=clock)
    clock.shift(5399)

    result = herald_cli("status", *on(queues))

    assert result.exit_code == 0, result.output
    header, source, dead = result.stdout.splitlines()
    assert header.split() == ["queue", "visible", "in", "flight", "delayed", "oldest", "url"]
    assert source.split() == ["notifications", "0", "0", "0", queues.url]
    assert dead.split() == [
        "dead",
        "letters",
        "1",
        "0",
        "0",
        "1h",
        "30m",
        "(expires",
        "in",
        "3d",
        "22h)",
        queues.dlq_url,
    ]


def test_status_no_peek_reads_no_dead_letter(herald: Herald, hooks: ScriptedProvider, queues: Queues) -> None:
    refused(herald, hooks, webhook("w-1"))

    result = herald_cli("status", *on(queues), "--no-peek", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dead_letter_queue"]["oldest"] is None
    [dead] = drain(herald.sqs, queues.dlq_url)
    assert dead["Attributes"]["ApproximateReceiveCount"] == "1", "status must not have received it"


# --- herald dlq list --------------------------------------------------------------------------------


@dataclass
class Mixed:
    """Dead letters of each kind, and when they were written."""

    herald: Herald
    clock: time_machine.Coordinates
    refused_at: str
    exhausted_first_seen: str
    exhausted_at: str

    @property
    def sqs(self) -> Any:
        return self.herald.sqs


@pytest.fixture
def mixed(herald: Herald, hooks: ScriptedProvider, texts: ScriptedProvider, clock: time_machine.Coordinates) -> Mixed:
    """Two webhooks refused for one URL (one critical), one exhausted SMS, one invalid body, 3 h later."""
    refused_at = now_iso()
    refused(herald, hooks, webhook("w-1"), webhook("w-2", to="https://hooks.example.com/t/other", critical=True))
    clock.shift(3 * 3600)
    exhausted_first_seen = now_iso()
    exhausted(herald, texts, sms("s-1"), clock=clock)  # attempt 1, a second later attempt 2: dead-lettered
    exhausted_at = now_iso(-timedelta(seconds=1))  # settle() let one more second pass
    invalid(herald, clock=clock)
    clock.shift(60)
    return Mixed(herald, clock, refused_at, exhausted_first_seen, exhausted_at)


def dlq_json(queues: Queues, *args: str) -> list[dict[str, Any]]:
    result = herald_cli("dlq", *args, *on(queues), "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def test_list_groups_by_provider_masked_recipient_and_reason(mixed: Mixed, queues: Queues) -> None:
    groups = dlq_json(queues, "list")

    assert [(g["reason"], g["provider"], g["recipient"], g["count"], g["critical"]) for g in groups] == [
        ("permanent", "hooks", "https://hooks.example.com/***", 2, 1),
        ("invalid", None, None, 1, 0),  # most dead letters first, then the most recent
        ("exhausted", "texts", "+44******0123", 1, 0),
    ]
    permanent, invalid_body, exhausted_sms = groups
    assert permanent["notification_ids"] == ["w-1", "w-2"]
    assert permanent["last_error"] == f"PermanentError: {GONE}"
    assert permanent["first_seen"] == permanent["last_seen"] == mixed.refused_at
    assert exhausted_sms["first_seen"] == exhausted_sms["last_seen"] == mixed.exhausted_at
    assert invalid_body["last_error"].startswith("body is not JSON")


def test_list_leaves_every_dead_letter_on_the_queue_and_visible(mixed: Mixed, queues: Queues) -> None:
    dlq_json(queues, "list")

    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 4, "in_flight": 0}


def test_list_never_prints_a_whole_recipient(mixed: Mixed, queues: Queues) -> None:
    result = herald_cli("dlq", "list", *on(queues))

    assert result.exit_code == 0, result.output
    for whole in ("s3cr3t", "+447700900123", "jane@example.com"):
        assert whole not in result.output


def test_list_prints_a_plain_table_when_not_a_terminal(mixed: Mixed, queues: Queues) -> None:
    result = herald_cli("dlq", "list", *on(queues))

    assert result.exit_code == 0, result.output
    title, header, *rows = result.stdout.splitlines()
    assert title == f"4 dead letters in 3 groups on {queues.dlq_url}"
    assert header.split()[:5] == ["reason", "provider", "recipient", "count", "critical"]
    assert [row.split()[:5] for row in rows] == [
        ["permanent", "hooks", "https://hooks.example.com/***", "2", "1"],
        ["invalid", "-", "-", "1", "0"],
        ["exhausted", "texts", "+44******0123", "1", "0"],
    ]


def test_list_filters_by_reason(mixed: Mixed, queues: Queues) -> None:
    groups = dlq_json(queues, "list", "--reason", "exhausted", "--reason", "invalid")

    assert sorted(g["reason"] for g in groups) == ["exhausted", "invalid"]


def test_list_filters_by_provider(mixed: Mixed, queues: Queues) -> None:
    assert [g["notification_ids"] for g in dlq_json(queues, "list", "--provider", "texts")] == [["s-1"]]


def test_list_filters_by_channel(mixed: Mixed, queues: Queues) -> None:
    assert [g["notification_ids"] for g in dlq_json(queues, "list", "--channel", "webhook")] == [["w-1", "w-2"]]


def test_list_filters_by_relative_since(mixed: Mixed, queues: Queues) -> None:
    groups = dlq_json(queues, "list", "--since", "2h")

    assert sorted(g["reason"] for g in groups) == ["exhausted", "invalid"]


def test_list_filters_by_iso_since(mixed: Mixed, queues: Queues) -> None:
    groups = dlq_json(queues, "list", "--since", mixed.exhausted_at[:13])  # e.g. 2026-09-21T16: the hour

    assert sorted(g["reason"] for g in groups) == ["exhausted", "invalid"]


def test_list_with_a_bad_since_exits_2(sqs: Any, queues: Queues) -> None:
    result = herald_cli("dlq", "list", *on(queues), "--since", "yesterday")

    assert result.exit_code == 2
    assert "'yesterday' is neither a time like 2h" in result.stderr


def test_list_shows_dead_letters_moved_by_the_queues_own_redrive_policy(sqs: Any) -> None:
    queues = create_queues(sqs, "crashy", max_receive_count=1)
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(sms("crashed")))
    for _ in range(2):  # received once and never settled (a crash); the next receive moves it
        sqs.receive_message(QueueUrl=queues.url, VisibilityTimeout=0)

    groups = dlq_json(queues, "list")

    assert [(g["reason"], g["recipient"], g["notification_ids"]) for g in groups] == [
        ("safety-net", "+44******0123", ["crashed"])
    ]


def test_list_of_an_empty_dead_letter_queue(sqs: Any, queues: Queues) -> None:
    result = herald_cli("dlq", "list", *on(queues))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"0 dead letters in 0 groups on {queues.dlq_url}"


def test_list_on_a_terminal_is_a_rich_table_that_prints_markup_as_text(
    herald: Herald, hooks: ScriptedProvider, queues: Queues
) -> None:
    hooks.fail("m-1", PermanentError("answered [bold]HTTP 410[/bold]"))
    herald.send(webhook("m-1"))
    settle(herald)

    result = herald_cli("dlq", "list", *on(queues), env={"TTY_COMPATIBLE": "1", "COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "─" in result.stdout
    assert "answered [bold]HTTP 410[/bold]" in result.stdout


# --- herald dlq show --------------------------------------------------------------------------------


def test_show_prints_every_attribute_and_the_body_with_the_recipient_masked(mixed: Mixed, queues: Queues) -> None:
    result = herald_cli("dlq", "show", *on(queues), "s-1")

    assert result.exit_code == 0, result.output
    shown = result.stdout
    for expected in (
        "notification id    s-1",
        "reason             exhausted",
        "last error         TransientError: answered HTTP 503",
        "attempts           2",
        "provider           texts",
        "channel            sms",
        "recipient          +44******0123",
        "critical           no",
        "first seen         " + short_time(parse_time(mixed.exhausted_first_seen)),
        "last attempt       " + short_time(parse_time(mixed.exhausted_at)),
        '"to": "+44******0123"',
    ):
        assert expected in shown
    assert "+447700900123" not in shown


def test_show_reveal_prints_the_recipient(mixed: Mixed, queues: Queues) -> None:
    result = herald_cli("dlq", "show", *on(queues), "s-1", "--reveal")

    assert result.exit_code == 0, result.output
    assert "recipient          +447700900123" in result.stdout
    assert '"to": "+447700900123"' in result.stdout


def test_show_finds_a_dead_letter_by_its_sqs_message_id_and_masks_an_invalid_body(mixed: Mixed, queues: Queues) -> None:
    [message_id] = [
        m["MessageId"]
        for m in drain(mixed.sqs, queues.dlq_url)
        if m["MessageAttributes"]["reason"]["StringValue"] == "invalid"
    ]
    mixed.clock.shift(31)  # the drain's receives time out

    [shown] = dlq_json(queues, "show", message_id)

    assert shown["message_id"] == message_id
    assert shown["reason"] == "invalid"
    assert shown["notification_id"] is None
    assert shown["body"] == "{not json, to j***@example.com"


def test_a_megabyte_of_text_that_is_not_json_is_scrubbed_down_to_its_last_address() -> None:
    # A dead letter can be up to 1 MiB of anything; an unbounded address pattern took hours on such a body.
    text = "x" * 1_000_000 + " to jane@example.com, +447700900123"

    assert scrub(text) == "x" * 1_000_000 + " to j***@example.com, +44******0123"


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane@" + "a" * 64 + ".example.com", "j***@" + "a" * 64 + ".example.com"),
        ("first.middle.lastname." * 4 + "x@example.com", "f***@example.com"),
    ],
)
def test_scrub_masks_addresses_longer_than_the_rfc_allows(address: str, masked: str) -> None:
    # Invalid addresses are exactly what ends up in the dead-letter queue.
    assert scrub(f"to {address}.") == f"to {masked}."


def test_show_json_has_the_attributes_as_herald_wrote_them(mixed: Mixed, queues: Queues) -> None:
    [shown] = dlq_json(queues, "show", "w-2")

    assert shown["attributes"]["reason"] == "permanent"
    assert shown["attributes"]["critical"] == "true"
    assert shown["critical"] is True
    assert shown["recipient"] == "https://hooks.example.com/***"
    assert json.loads(shown["body"])["to"] == "https://hooks.example.com/***"
    assert set(shown["attributes"]) == {
        "reason", "last_error", "attempts", "provider", "channel", "notification_id", "critical",
        "first_seen", "last_attempt", "source_message_id",
    }  # fmt: skip


def test_show_of_an_unknown_id_exits_1(mixed: Mixed, queues: Queues) -> None:
    result = herald_cli("dlq", "show", *on(queues), "nope")

    assert result.exit_code == 1
    assert "no dead letter 'nope' among the 4 read" in result.stderr
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 4, "in_flight": 0}


# --- herald dlq redrive -----------------------------------------------------------------------------


def redrive(queues: Queues, *args: str) -> Result:
    return herald_cli("dlq", "redrive", *on(queues), "--rate", "1000", *args)


def test_redrive_moves_the_matching_dead_letters_and_leaves_the_rest(mixed: Mixed, queues: Queues) -> None:
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 4, "in_flight": 0}
    assert counts(mixed.sqs, queues.url) == {"visible": 0, "in_flight": 0}

    result = redrive(queues, "--reason", "permanent", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["moved"], summary["skipped"], summary["failed"]) == (2, 2, 0)
    assert counts(mixed.sqs, queues.url) == {"visible": 2, "in_flight": 0}
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 2, "in_flight": 0}
    assert ids_on(mixed.sqs, queues.url) == ["w-1", "w-2"]


def test_redrive_sends_the_body_byte_for_byte(herald: Herald, hooks: ScriptedProvider, queues: Queues) -> None:
    text = json.dumps(webhook("b-1"), indent=3)
    hooks.fail("b-1", PermanentError(GONE))
    herald.send(text)
    settle(herald)

    assert redrive(queues, "--id", "b-1").exit_code == 0

    assert bodies(herald.sqs, queues.url) == [text]


def test_redriven_message_starts_again_at_attempt_1(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, logs: LogLines
) -> None:
    exhausted(herald, hooks, webhook("w-1"))
    [dead] = dlq_json(queues, "show", "w-1")
    assert dead["attempts"] == 2

    assert redrive(queues, "--id", "w-1").exit_code == 0
    settle(herald)

    assert logs.messages("SENT:") == ["SENT: notification w-1 via hooks (attempt 1/2)"]


def test_redrive_summary_counts_moved_skipped_failed(mixed: Mixed, queues: Queues) -> None:
    result = redrive(queues, "--channel", "sms")

    assert result.exit_code == 0, result.output
    assert table_rows(result.stdout) == [
        ["redrive", "dead", "letters"],
        ["moved", "1"],
        ["skipped", "3"],
        ["failed", "0"],
    ]


def test_redrive_dry_run_moves_nothing_and_shows_what_would_move(mixed: Mixed, queues: Queues) -> None:
    result = redrive(queues, "--provider", "hooks", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["moved"], summary["would_move"], summary["skipped"]) == (0, 2, 2)
    assert sorted(summary["would_move_ids"]) == ["w-1", "w-2"]
    assert counts(mixed.sqs, queues.url) == {"visible": 0, "in_flight": 0}
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 4, "in_flight": 0}


def test_redrive_by_id(mixed: Mixed, queues: Queues) -> None:
    result = redrive(queues, "--id", "w-2", "--id", "s-1")

    assert result.exit_code == 0, result.output
    assert ids_on(mixed.sqs, queues.url) == ["s-1", "w-2"]


def test_redrive_all(mixed: Mixed, queues: Queues) -> None:
    result = redrive(queues, "--all")

    assert result.exit_code == 0, result.output
    assert counts(mixed.sqs, queues.url) == {"visible": 4, "in_flight": 0}
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 0, "in_flight": 0}


def test_redrive_without_all_or_a_filter_exits_2_and_moves_nothing(mixed: Mixed, queues: Queues) -> None:
    result = redrive(queues)

    assert result.exit_code == 2
    assert "give --all, or filters" in result.stderr
    assert counts(mixed.sqs, queues.dlq_url, mixed.clock) == {"visible": 4, "in_flight": 0}


def test_redrive_keeps_the_fifo_message_group(sqs: Any) -> None:
    fifo = create_queues(sqs, "orders", fifo=True)
    hooks = ScriptedProvider("hooks")
    herald = make_herald(sqs, fifo, {"hooks": hooks}, HERALD_WEBHOOK_PROVIDER="hooks")
    for name, group in [("a1", "A"), ("b1", "B")]:
        hooks.fail(name, PermanentError(GONE))
        herald.send(webhook(name), MessageGroupId=group, MessageDeduplicationId=name)
    settle(herald)

    result = redrive(fifo, "--all")

    assert result.exit_code == 0, result.output
    redriven = drain(sqs, fifo.url)
    assert {json.loads(m["Body"])["id"]: m["Attributes"]["MessageGroupId"] for m in redriven} == {"a1": "A", "b1": "B"}
    assert counts(sqs, fifo.dlq_url) == {"visible": 0, "in_flight": 0}


Fails = Callable[[int], bool | BaseException]


class FailingSends:
    """The CLI's SQS client, with the n-th send to one queue failing when ``fails(n)`` is true (an AWS
    error), or raising what ``fails(n)`` returns if that is an exception."""

    def __init__(self, client: Any, queue_url: str, fails: Fails) -> None:
        self._client = client
        self._queue_url = queue_url
        self._fails = fails
        self.sends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message(self, **request: Any) -> Any:
        if request["QueueUrl"] == self._queue_url:
            self.sends += 1
            outcome = self._fails(self.sends)
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessage")
        return self._client.send_message(**request)


FailSends = Callable[[str, Fails], None]


@pytest.fixture
def failing_sends(monkeypatch: pytest.MonkeyPatch) -> FailSends:
    """Make the CLI's sends to ``queue_url`` fail when ``fails(n)`` is true for the n-th send."""

    def install(queue_url: str, fails: Fails) -> None:
        real = Aws.client

        def client(self: Aws, service: str, region: str | None = None) -> Any:
            made = real(self, service, region)
            return FailingSends(made, queue_url, fails) if service == "sqs" else made

        monkeypatch.setattr(Aws, "client", client)

    return install


def test_redrive_loses_nothing_when_sends_start_failing_halfway(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, failing_sends: FailSends
) -> None:
    names = [f"w-{n}" for n in range(1, 8)]
    refused(herald, hooks, *(webhook(name) for name in names))
    failing_sends(queues.url, lambda n: n > 3)

    result = redrive(queues, "--all", "--json")

    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["moved"], summary["failed"]) == (3, 4)
    on_queue, in_dlq = ids_on(herald.sqs, queues.url), ids_on(herald.sqs, queues.dlq_url)
    assert sorted(on_queue + in_dlq) == names, "every dead letter is on exactly one of the queues"
    assert len(on_queue) == 3
    assert "injected" in summary["failures"][0]["error"]


class ConsumedAtOnce:
    """The CLI's SQS client, except that each send to the queue is consumed by Herald at once (as Lambda would)."""

    def __init__(self, client: Any, herald: Herald) -> None:
        self.client = client
        self.herald = herald

    def send_message(self, **request: Any) -> Any:
        answer = self.client.send_message(**request)
        if request["QueueUrl"] == self.herald.queues.url:
            self.herald.run_batch()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_redriven_letter_that_fails_again_during_the_run_is_not_redriven_again(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused(herald, hooks, webhook("w-1"), webhook("w-2"))
    for name in ("w-1", "w-2"):
        hooks.fail_always(name, PermanentError(GONE))  # refused again on every send
    real = Aws.client
    monkeypatch.setattr(
        Aws, "client", lambda self, service, region=None: ConsumedAtOnce(real(self, service, region), herald)
    )

    result = redrive(queues, "--all", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["moved"], summary["came_back"]) == (2, 2)
    assert hooks.attempts_of("w-1") == hooks.attempts_of("w-2") == 2, "each sent once before, and once redriven"
    assert "2 dead letters were left in place: each has the body of one this run had already moved" in result.stderr
    assert sorted(ids_on(herald.sqs, queues.dlq_url)) == ["w-1", "w-2"]


def test_interrupted_redrive_loses_nothing_and_exits_1(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, failing_sends: FailSends
) -> None:
    names = [f"w-{n}" for n in range(1, 6)]
    refused(herald, hooks, *(webhook(name) for name in names))
    failing_sends(queues.url, lambda n: KeyboardInterrupt() if n == 3 else False)  # Ctrl-C during the 3rd send

    result = redrive(queues, "--all", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["interrupted"] is True
    assert counts(herald.sqs, queues.dlq_url) == {"visible": 3, "in_flight": 0}, "the rest released at once"
    on_queue, in_dlq = ids_on(herald.sqs, queues.url), ids_on(herald.sqs, queues.dlq_url)
    assert sorted(on_queue + in_dlq) == names
    assert len(on_queue) == 2


def test_redrive_carries_on_after_a_failed_send(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, failing_sends: FailSends
) -> None:
    refused(herald, hooks, *(webhook(f"w-{n}") for n in range(1, 5)))
    failing_sends(queues.url, lambda n: n == 2)

    result = redrive(queues, "--all")

    assert result.exit_code == 1
    assert table_rows(result.stdout)[1:] == [["moved", "3"], ["skipped", "0"], ["failed", "1"]]
    assert len(ids_on(herald.sqs, queues.url)) == 3
    assert len(ids_on(herald.sqs, queues.dlq_url)) == 1
    assert "send to the queue failed: AWS SendMessage failed: InternalError: injected" in result.stderr


def test_redrive_on_fifo_sends_nothing_more_of_a_group_after_a_failed_send(sqs: Any, failing_sends: FailSends) -> None:
    fifo = create_queues(sqs, "orders", fifo=True)
    hooks = ScriptedProvider("hooks")
    herald = make_herald(sqs, fifo, {"hooks": hooks}, HERALD_WEBHOOK_PROVIDER="hooks")
    for name in ("a1", "a2", "a3"):
        hooks.fail(name, PermanentError(GONE))
        herald.send(webhook(name), MessageGroupId="A", MessageDeduplicationId=name)
    settle(herald)
    failing_sends(fifo.url, lambda n: n == 1)

    result = redrive(fifo, "--all", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"] == 3
    assert drain(sqs, fifo.url) == []
    assert [json.loads(m["Body"])["id"] for m in drain(sqs, fifo.dlq_url)] == ["a1", "a2", "a3"]


def test_redrive_that_cannot_delete_leaves_a_copy_on_both_queues_and_exits_1(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused(herald, hooks, webhook("w-1"))

    def no_delete(self: Any, letter: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteMessage")

    monkeypatch.setattr(deadletters.Sweep, "delete", no_delete)

    result = redrive(queues, "--all")

    assert result.exit_code == 1
    assert "now on both" in result.stderr
    assert ids_on(herald.sqs, queues.url) == ["w-1"]
    assert ids_on(herald.sqs, queues.dlq_url) == ["w-1"]


# --- help and exit codes ----------------------------------------------------------------------------


def test_help_documents_the_exit_codes() -> None:
    result = herald_cli("--help")

    assert result.exit_code == 0
    assert "Exit codes:" in result.stdout
    for code in ("0  success", "1  operational failure", "2  usage or validation error"):
        assert code in result.stdout


@pytest.mark.parametrize("command", [["send"], ["status"], ["dlq", "list"], ["dlq", "show"], ["dlq", "redrive"]])
def test_each_command_has_help_with_examples(command: list[str]) -> None:
    result = herald_cli(*command, "--help")

    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "herald " + " ".join(command) in result.stdout


def test_unknown_option_is_a_usage_error_with_exit_2() -> None:
    result = herald_cli("status", "--frobnicate")

    assert result.exit_code == 2


def test_herald_local_is_one_of_the_commands() -> None:
    result = herald_cli("local", "--help")

    assert result.exit_code == 0
    assert "Run Herald locally" in result.stdout


# --- the machinery under the commands ---------------------------------------------------------------


def test_a_long_read_keeps_extending_its_short_hold(
    herald: Herald, hooks: ScriptedProvider, queues: Queues, clock: time_machine.Coordinates
) -> None:
    refused(herald, hooks, webhook("w-1"), webhook("w-2"), clock=clock)
    elapsed = [0.0]
    sweep = deadletters.Sweep(herald.sqs, queues.dlq_url, hold_seconds=30, wait_seconds=0, clock=lambda: elapsed[0])
    reading = iter(sweep)
    next(reading)  # both received, each held for 30 s

    clock.shift(20)
    elapsed[0] = 20.0
    sweep.keep_alive()  # two thirds of the hold left: extended to 30 s from now
    clock.shift(20)

    assert counts(herald.sqs, queues.dlq_url) == {"visible": 0, "in_flight": 2}, "still held 40 s after the receive"
    sweep.release()
    assert counts(herald.sqs, queues.dlq_url, clock) == {"visible": 2, "in_flight": 0}


def test_redrive_sends_at_most_rate_per_second() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(rate=4, clock=lambda: now[0], sleep=sleep)
    sent_at = []
    for _ in range(5):
        pacer.wait()
        sent_at.append(now[0])

    assert [round(b - a, 6) for a, b in pairwise(sent_at)] == [0.25] * 4
