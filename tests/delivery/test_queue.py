"""Dead-letter attributes SQS will take (delivery/queue.py)."""

from __future__ import annotations

from delivery.queue import sqs_attributes

ATTRIBUTES: dict[str, str | int] = {
    "reason": "exhausted",
    "last_error": "TransientError: https://example.com/*** answered HTTP 503",
    "attempts": 48,
    "notification_id": "n" * 50,
    "source_message_id": "m" * 36,
    "provider": "webhook",
}


def size(attributes: dict[str, dict[str, str]]) -> int:
    return sum(len(name) + len(a["DataType"]) + len(a["StringValue"].encode()) for name, a in attributes.items())


def test_with_room_every_attribute_is_kept() -> None:
    assert set(sqs_attributes(ATTRIBUTES, room=10_000)) == set(ATTRIBUTES)


def test_short_of_room_the_essentials_are_kept_and_last_error_is_cut_to_fit() -> None:
    kept = sqs_attributes(ATTRIBUTES, room=200)

    assert set(kept) == {"reason", "last_error", "attempts", "notification_id", "source_message_id"}
    assert ATTRIBUTES["last_error"].startswith(kept["last_error"]["StringValue"])  # type: ignore[union-attr]
    assert size(kept) <= 200


def test_with_hardly_any_room_attempts_goes_first_then_the_ids() -> None:
    kept = sqs_attributes(ATTRIBUTES, room=100)

    assert set(kept) == {"reason", "last_error", "source_message_id"}
    assert size(kept) <= 100


def test_short_of_room_without_a_last_error_attempts_then_the_ids_go_until_it_fits() -> None:
    without_error = {name: value for name, value in ATTRIBUTES.items() if name != "last_error"}

    kept = sqs_attributes(without_error, room=100)

    assert set(kept) == {"reason", "source_message_id"}
    assert size(kept) <= 100
