"""Fuzz the message contract through Herald's real handler path, with hypothesis.

Generated bodies (random bytes and text, deep and huge JSON, wrong types, missing fields, huge strings,
unicode edge cases, near-valid messages - a valid one with one field mutated - and valid ones) go to a moto
SQS queue; the event source's receive -> ``SqsBatchRunner.handle`` -> delete loop runs them through
Herald's webhook provider (real HTTP to a loopback receiver), its ``http_sms`` provider (real HTTP to a
loopback SMS API) and an in-process email fake, with ``SendOnce`` on a moto DynamoDB table.

Each body's expected fate comes from an independent oracle of the README's message contract v1 (strict
JSON, the schema's rules with ECMA-262 regex semantics, the providers enabled), not from Herald's
validator. Invariants: no batch ever crashes; every invalid body is dead-lettered at once (attempt 1) with
reason ``invalid``, a non-empty ``last_error`` and its body byte for byte; every valid one is delivered
exactly once (counted at the providers), or acknowledged as a duplicate of an id already delivered; every
webhook payload a receiver gets is standard JSON; nothing is left on the queue.

Bodies are valid SQS text (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF) and at most
1 MiB: the producer's and Herald's SQS clients enforce the real service's rules, which moto does not
(characters of bodies and string attributes; body plus attributes within 1 MiB).

``FuzzHarness`` holds the world (one warm Herald for the whole run); ``cases()`` is the hypothesis
strategy; ``run_fuzz(bodies, seed)`` runs the bench size without shrinking and reports counts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import time_machine
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws

import bench  # noqa: F401 - puts src/ on sys.path when run as a script
from bench.soak import (
    REGION,
    SMS_ACCOUNT,
    SMS_TOKEN_PARAMETER,
    START,
    TABLE,
    SimContext,
    atomic_moto_dynamodb,
    create_resources,
    fake_aws_environment,
    fast_moto_sqs,
    quiet,
)
from delivery.config import EnvReader, Settings
from delivery.contract import Notification, Provider, ProviderContext
from delivery.core import Deliverer, RemainingMillis, Result
from delivery.idempotency import SendOnce
from delivery.log import logger as herald_logger
from delivery.queue import SqsQueue
from delivery.secrets import SecretStore
from handlers.sqs_batch import SqsBatchRunner
from herald.local.events import RECEIVE_ATTRIBUTES, lambda_sqs_event
from herald.local.receiver import ReceivedRequest, Receiver, Reply
from providers.registry import create_providers

SQS_MAX_BYTES = 1_048_576
ID = "\x00id\x00"  # a generated message's id before the harness makes it unique
ID_TOKEN = "@@ID@@"  # the same, in a body generated as text
RECEIVER = "http://receiver.fuzz"  # the loopback webhook receiver's URL, before the harness knows it
EMAIL_PROVIDER = "fuzz_email"
ENABLED = {"webhook": frozenset({"webhook"}), "http_sms": frozenset({"sms"}), EMAIL_PROVIDER: frozenset({"email"})}
DEFAULT_ROUTE = {"email": EMAIL_PROVIDER, "sms": "http_sms", "webhook": "webhook"}
MAX_ATTEMPTS = 2
FIELDS = ("id", "channel", "to", "body", "subject", "html", "critical", "provider", "metadata")


# --- SQS text ------------------------------------------------------------------------------------


NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_allowed(char: str) -> bool:
    return NOT_SQS_TEXT.match(char) is None


def sqs_text(text: str) -> bool:
    """True when SQS accepts every character of ``text``."""
    return NOT_SQS_TEXT.search(text) is None


def to_sqs_text(text: str) -> str:
    """Map every character SQS refuses to U+FFFD."""
    return NOT_SQS_TEXT.sub("\ufffd", text)


def sqs_size(body: str, attributes: dict[str, Any] | None = None) -> int:
    """SQS's message size: the body's UTF-8 bytes plus every attribute's name, type and value."""
    size = len(body.encode("utf-8", "surrogatepass"))
    for name, value in (attributes or {}).items():
        size += len(name.encode()) + len(value.get("DataType", "").encode())
        size += len(str(value.get("StringValue", "")).encode("utf-8", "surrogatepass"))
        size += len(value.get("BinaryValue", b""))
    return size


class _SendMessage:
    name = "SendMessage"


def real_sqs_rules(rejections: list[tuple[str, str]]) -> Callable[..., None]:
    """A botocore hook refusing the SendMessage calls real SQS would refuse and moto accepts; each refusal is
    noted as (source_message_id attribute or "", why)."""

    def check(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "SendMessageBatch":
            for entry in params.get("Entries", []):
                check(model=_SendMessage, params={"QueueUrl": params.get("QueueUrl", ""), **entry})
            return
        if model.name != "SendMessage":
            return
        body = params.get("MessageBody", "")
        attributes = params.get("MessageAttributes", {})
        texts = [body] + [str(v.get("StringValue", "")) for v in attributes.values()]
        problem = ""
        if not all(sqs_text(text) for text in texts):
            problem = "InvalidMessageContents: Invalid binary character in the message body or an attribute value"
        elif sqs_size(body, attributes) > SQS_MAX_BYTES:
            problem = f"InvalidParameterValue: Message must be shorter than {SQS_MAX_BYTES} bytes (body and attributes)"
        if problem:
            source = attributes.get("source_message_id", {}).get("StringValue", "")
            rejections.append((source, problem))
            code, message = problem.split(": ", 1)
            raise ClientError({"Error": {"Code": code, "Message": message}}, "SendMessage")

    return check


# --- the generated bodies ------------------------------------------------------------------------

EDGE = [
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\ud83d\ude00",  # a surrogate pair spelt as two code points: json escapes it, json.loads joins it
    "\u202e",
    "\u200f",
    "\u2066",
    "שלום",
    "مرحبا",
    "😀",
    "👩\u200d👩\u200d👧\u200d👦",
    "\ufeff",
    "\u2028",
    "\u2029",
    "e\u0301",
    "\U0010ffff",
    "\uffff",
    "\x7f",
    "\x1b[2J",
    "\u00a0",
    "\x1c",
    "\x85",
    "İ",
    "\r\n",
    "\t",
    "",
    " ",
    "\\",
    '"',
    "null",
    "\U0001d573\U0001d58a\U0001d597\U0001d586\U0001d591\U0001d589",  # mathematical fraktur
]
SAFE_CHARS = st.characters(
    codec="utf-8", exclude_characters="".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\ufffe\uffff"
)
ANY_CHARS = st.characters()  # any code point, surrogates and controls included: only ever JSON-escaped
edge_text = st.lists(st.one_of(st.sampled_from(EDGE), st.text(ANY_CHARS, max_size=6)), max_size=5).map("".join)
any_text = st.one_of(st.text(ANY_CHARS, max_size=30), edge_text, st.text(SAFE_CHARS, max_size=30))
plain_text = st.text(st.characters(codec="ascii", min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and infinities included: json.dumps writes them as NaN / Infinity
    any_text,
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)
no_at_or_space = st.text(  # no "@" and nothing either regex dialect calls whitespace
    st.characters(codec="utf-8", exclude_categories=("Zs", "Zl", "Zp", "Cc"), exclude_characters="@\ufeff"),
    min_size=1,
    max_size=12,
)


@dataclass(frozen=True)
class Case:
    """One generated body: raw SQS text, or a message (dict) serialised by the harness with a unique id."""

    kind: str
    raw: str | None = None
    message: dict[str, Any] | None = None
    ascii: bool = True
    indent: int | None = None
    mutation: str = ""

    def body(self, unique_id: str, receiver: str = RECEIVER) -> str:
        if self.raw is not None:
            return self.raw.replace(ID_TOKEN, unique_id).replace(RECEIVER, receiver)
        assert self.message is not None
        message = {k: (unique_id if v == ID else v) for k, v in self.message.items()}
        text = json.dumps(message, ensure_ascii=self.ascii, indent=self.indent)
        if not sqs_text(text):
            text = json.dumps(message, ensure_ascii=True, indent=self.indent)
        return text.replace(RECEIVER, receiver)


def recipient(channel: str) -> st.SearchStrategy[str]:
    if channel == "email":
        return st.builds(lambda a, b, c: f"{a}@{b}.{c}", no_at_or_space, no_at_or_space, no_at_or_space)
    if channel == "sms":
        return st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
    path = st.text(st.characters(codec="utf-8", exclude_categories=("Zs", "Zl", "Zp", "Cc")), max_size=20)
    return st.builds(lambda p, q: f"{RECEIVER}/{p}" + (f"?{q}" if q else ""), path, st.sampled_from(["", "a=1"]))


@st.composite
def valid_message(draw: st.DrawFn) -> dict[str, Any]:
    channel = draw(st.sampled_from(["email", "sms", "webhook"]))
    message: dict[str, Any] = {
        "id": ID,
        "channel": channel,
        "to": draw(recipient(channel)),
        "body": draw(st.one_of(any_text, plain_text)),
    }
    if channel == "email":
        message["subject"] = draw(st.one_of(plain_text, st.text(SAFE_CHARS, min_size=1, max_size=50), any_text))
        if draw(st.booleans()):
            message["html"] = draw(st.one_of(plain_text, any_text))
    if draw(st.booleans()):
        message["critical"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        message["provider"] = DEFAULT_ROUTE[channel]
    if draw(st.booleans()):
        message["metadata"] = draw(st.dictionaries(any_text, json_value, max_size=4))
    if message.get("subject") == "":
        message["subject"] = "s"
    return message


BAD_VALUES: dict[str, list[Any]] = {
    "id": ["", "a b", "x" * 129, "é", "\x00", "abc\n", "tab\there", 5, None, ["n-1"]],
    "channel": ["Email", "fax", "", "webhook ", None, 1, ["sms"]],
    "to": ["no-at", "a@b", "a b@c.d", "447700900123", "+0123456", "+1234567890123456", "ftp://x", "https://", "", 7],
    "subject": ["", "x" * 999, 3, None],
    "html": ["", 1],
    "critical": ["true", 1, 0, None, "false"],
    "provider": ["SES", "unknown", "ses", "sns", "local", "http_sms", "webhook", "", "a" * 65, 1],
    "metadata": [[], "x", None, 1, True],
    "body": [None, 1, ["x"], {"text": "x"}],
}


@st.composite
def near_valid(draw: st.DrawFn) -> Case:
    message = draw(valid_message())
    kind = draw(st.sampled_from(["drop", "unknown", "wrong", "bad", "swap", "any", "html", "odd_recipient"]))
    name = draw(st.sampled_from(FIELDS))
    if kind == "drop":
        message.pop(name, None)
    elif kind == "unknown":
        key = draw(st.one_of(st.sampled_from(["subjet", "Id", "to ", "", "__proto__", "metadata\x00"]), any_text))
        message[key] = draw(json_value)
    elif kind == "wrong":
        message[name] = draw(json_value)
    elif kind == "bad":
        name = draw(st.sampled_from(sorted(BAD_VALUES)))
        message[name] = draw(st.sampled_from(BAD_VALUES[name]))
    elif kind == "swap":
        message["channel"] = draw(st.sampled_from(["email", "sms", "webhook"]))
    elif kind == "any":
        message[name] = draw(st.one_of(any_text, plain_text))
    elif kind == "odd_recipient":  # still matches the contract's pattern, with odd characters in it
        name = "to"
        odd = draw(
            st.lists(st.one_of(st.sampled_from(EDGE), st.text(ANY_CHARS, max_size=2)), min_size=1, max_size=3)
            .map("".join)
            .filter(lambda t: t != "" and not re.search(f"[{ECMA_SPACE}\\s@/?#]", t))
        )
        if message["channel"] == "webhook":
            message["to"] = draw(st.sampled_from([f"http://{odd}/", f"https://{odd}.example/x", f"{RECEIVER}/{odd}"]))
        elif message["channel"] == "email":
            message["to"] = draw(st.sampled_from([f"{odd}@example.com", f"user@{odd}.example"]))
    else:
        message["html"] = draw(plain_text)
    return Case("near_valid", message=message, ascii=draw(st.booleans()), mutation=f"{kind}:{name}")


@st.composite
def text_mutant(draw: st.DrawFn) -> Case:
    """A valid message's JSON text, mutated as text: truncated, padded, prefixed, duplicated keys..."""
    message = draw(valid_message())
    text = json.dumps({k: (ID_TOKEN if v == ID else v) for k, v in message.items()})
    how = draw(st.sampled_from(["truncate", "trail", "bom", "pad", "dupkey", "single", "comma", "comment"]))
    if how == "truncate":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif how == "trail":
        text += draw(st.sampled_from(["}", " x", "\n{}", ",", "\x00"]))
    elif how == "bom":
        text = "\ufeff" + text
    elif how == "pad":
        text = "\n\t " + text + " \r\n"
    elif how == "dupkey":
        text = text[:-1] + ', "id": ' + draw(st.sampled_from(["5", '"x y"', '"dup-ok"', "null"])) + "}"
    elif how == "single":
        text = text.replace('"', "'", 2)
    elif how == "comma":
        text = text[:-1] + ",}"
    else:
        text = "// producer comment\n" + text
    return Case("text_mutant", raw=to_sqs_text(text), mutation=how)


@st.composite
def deep(draw: st.DrawFn) -> Case:
    depth = draw(st.one_of(st.integers(1, 1200), st.sampled_from([900, 950, 980, 990, 1000, 5000, 100_000])))
    shape = draw(st.sampled_from(["array", "object", "metadata"]))
    if shape == "array":
        return Case("deep", raw="[" * depth + "]" * depth, mutation=f"array:{depth}")
    if shape == "object":
        return Case("deep", raw='{"a":' * depth + "1" + "}" * depth, mutation=f"object:{depth}")
    # A valid message whose metadata nests ``depth`` deep, built as text (no deep Python object to print).
    message = draw(valid_message())
    message.pop("metadata", None)
    text = json.dumps({k: (ID_TOKEN if v == ID else v) for k, v in message.items()})
    nested = '{"a": ' * min(depth, 1200) + "1" + "}" * min(depth, 1200)
    return Case("deep", raw=text[:-1] + ', "metadata": {"deep": ' + nested + "}}", mutation=f"metadata:{depth}")


@st.composite
def huge(draw: st.DrawFn) -> Case:
    """A valid message grown to a target size (up to just under SQS's 1 MiB) by one huge value or key."""
    message = draw(valid_message())
    message.pop("metadata", None)
    target = draw(st.sampled_from([100_000, 500_000, SQS_MAX_BYTES - 4096, SQS_MAX_BYTES - 1024, SQS_MAX_BYTES - 600]))
    unit = draw(st.sampled_from(["a", "é", "😀", "\\", '"', "\u0000", "\ud800", "\u202e"]))
    ascii_out = not sqs_allowed(unit[0]) or draw(st.booleans())
    shape = draw(st.sampled_from(["body", "metadata", "array", "key", "broken"]))
    skeleton = Case("huge", message=message, ascii=ascii_out).body("fz-0000000")
    if not sqs_text(skeleton):
        ascii_out = True
        skeleton = Case("huge", message=message, ascii=True).body("fz-0000000")
    room = max(1, target - len(skeleton.encode()) - 40)
    per_unit = len(json.dumps(unit, ensure_ascii=ascii_out)[1:-1].encode())
    count = max(1, room // per_unit)

    def grow(n: int) -> dict[str, Any]:
        grown = dict(message)
        if shape in ("body", "broken"):
            grown["body"] = unit * n
        elif shape == "metadata":
            grown["metadata"] = {"blob": unit * n}
        elif shape == "array":
            grown["metadata"] = {"list": [0] * max(1, n * per_unit // 2)}
        else:
            grown[unit * n] = 1
        return grown

    for _ in range(3):  # land at the target size, just under SQS's limit at most
        over = len(Case("huge", message=grow(count), ascii=ascii_out).body("fz-0000000").encode()) - target
        if over <= 0:
            break
        count = max(1, count - over // per_unit - 1)
    message = grow(count)
    if shape == "broken":  # the same text without its closing brace: not JSON, and nearly 1 MiB
        return Case("huge", raw=Case("huge", message=message, ascii=ascii_out).body(ID_TOKEN)[:-1], mutation="broken")
    return Case("huge", message=message, ascii=ascii_out, mutation=f"{shape}:{target}:{unit!r}")


def cases() -> st.SearchStrategy[Case]:
    raw_text = st.text(SAFE_CHARS, max_size=200).map(lambda t: Case("text", raw=t))
    raw_bytes = st.binary(max_size=200).map(lambda b: Case("bytes", raw=to_sqs_text(b.decode("utf-8", "replace"))))
    json_text = st.tuples(json_value, st.booleans()).map(
        lambda v: Case("json", raw=to_sqs_text(json.dumps(v[0], ensure_ascii=v[1])))
    )
    valid = st.builds(lambda m, a: Case("valid", message=m, ascii=a), valid_message(), st.booleans())
    kinds: dict[str, st.SearchStrategy[Case]] = {
        "valid": valid,
        "near_valid": near_valid(),
        "text_mutant": text_mutant(),
        "text": raw_text,
        "bytes": raw_bytes,
        "json": json_text,
        "deep": deep(),
        "huge": huge(),
    }
    # Per 100 bodies: huge ones cost ~1 MiB each through moto, so they are rare.
    weights = {
        "valid": 25,
        "near_valid": 35,
        "text_mutant": 10,
        "text": 6,
        "bytes": 6,
        "json": 10,
        "deep": 6,
        "huge": 2,
    }
    return st.sampled_from([k for k, n in weights.items() for _ in range(n)]).flatmap(lambda kind: kinds[kind])


def batches() -> st.SearchStrategy[list[Case]]:
    return st.lists(cases(), min_size=1, max_size=10)


def _message(channel: str, **fields: Any) -> dict[str, Any]:
    to = {"email": "jane@example.com", "sms": "+447700900123", "webhook": f"{RECEIVER}/hooks"}[channel]
    return {"id": ID, "channel": channel, "to": to, "body": "hello", **fields}


# Always run first (and as explicit examples in the tests): the edge cases a search may take long to find.
EDGE_CASES: list[list[Case]] = [
    [
        Case("valid", message=_message("email", subject="Your order")),
        Case("valid", message=_message("sms")),
        Case("valid", message=_message("webhook", metadata={"order": 1})),
        Case("valid", message=_message("sms", body="hi \ud800")),  # a lone surrogate
        Case("valid", message=_message("webhook", metadata={"ratio": float("nan")})),  # NaN is not JSON
        Case("valid", message=_message("webhook", to="http://\ud800x/")),  # a host no URL parser takes
        Case("valid", message=_message("email", subject="שלום \u202e 😀 \x00", body="e\u0301 \U0010ffff")),
        Case("near_valid", message={**_message("email", subject="s"), "subjet": "typo"}),
        Case("near_valid", message=_message("webhook", id="abc\n")),
        Case("near_valid", message=_message("sms", html="<b>no</b>")),
    ],
    [
        Case("text", raw=""),
        Case("text", raw="\ufeff{}"),
        Case("json", raw="[" * 100_000 + "]" * 100_000),
        Case("json", raw='{"a":' * 5000 + "1" + "}" * 5000),
        Case(
            "json", raw='{"id": "@@ID@@", "channel": "webhook", "to": "http://receiver.fuzz/h", "body": "x"} trailing'
        ),
        Case("json", raw='{"id": "@@ID@@", "channel": "sms", "to": "+447700900123", "body": "x", "id": 5}'),
        Case("json", raw="1" * 5000),
        Case(
            "deep",
            raw=json.dumps(_message("webhook", metadata={"deep": "@@DEEP@@"}))
            .replace('"@@DEEP@@"', '{"a": ' * 990 + "1" + "}" * 990)
            .replace(json.dumps(ID)[1:-1], ID_TOKEN),
        ),  # metadata nested 990 deep (as text: no deep Python object)
    ],
    [
        Case("huge", message={**_message("webhook"), "x" * (SQS_MAX_BYTES - 1024): 1}),  # invalid, ~1 MiB
        Case("huge", message=_message("sms", body="a" * (SQS_MAX_BYTES - 1024))),  # valid, ~1 MiB
    ],
]


# --- the oracle: message contract v1, independently --------------------------------------------

ECMA_SPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
DIALECT_SPACE = set("\x1c\x1d\x1e\x1f\x85\ufeff")  # whitespace to Python's \s or ECMA-262's, not both


def ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(r"\s", ECMA_SPACE))


PATTERNS = {
    "id": ecma(r"[!-~]{1,128}"),
    "email": ecma(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    "sms": ecma(r"\+[1-9][0-9]{6,14}"),
    "webhook": ecma(r"https?://[^\s/?#]+[^\s]*"),
    "provider": ecma(r"[a-z0-9][a-z0-9_-]{0,63}"),
}


@dataclass
class Expect:
    verdict: str  # invalid | deliver | undeliverable
    reason: str = ""
    either: str = ""  # why "invalid at once" is as acceptable as "delivered" for this body
    notification: dict[str, Any] | None = None


JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


SURROGATE = re.compile("[\ud800-\udfff]")


def nesting(text: str) -> int:
    """How deep ``text``'s brackets nest, outside JSON strings (without parsing it)."""
    if text.count("[") + text.count("{") < 100:
        return text.count("[") + text.count("{")
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def strings_in(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())


def has_nonfinite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def expect(body: str, webhook_url: str) -> Expect:
    """What message contract v1 says Herald must do with this body (ids already unique)."""
    deep = nesting(body) >= 800
    try:
        data = json.loads(body)
    except RecursionError:
        return Expect("invalid", "nested deeper than the parser goes", either="nesting at the parser's recursion limit")
    except ValueError as error:
        return Expect("invalid", f"not JSON: {type(error).__name__}")
    either = "nesting at the parser's recursion limit" if deep else ""
    if has_nonfinite(data):
        either = "NaN/Infinity is not JSON (RFC 8259), Python's json reads it"
    if any(SURROGATE.search(s) for s in strings_in(data)):
        either = "a lone surrogate (a JSON escape that is not a Unicode scalar value)"
    if not isinstance(data, dict):
        return Expect("invalid", "not an object")
    unknown = set(data) - set(FIELDS)
    if unknown:
        return Expect("invalid", f"unknown fields {sorted(map(repr, unknown))[:3]}")
    missing = [k for k in ("id", "channel", "to", "body") if k not in data]
    if missing:
        return Expect("invalid", f"missing {missing}")
    if any(not isinstance(data.get(k), str) for k in ("id", "to", "body") if k in data):
        return Expect("invalid", "id, to and body must be strings")
    for name in ("subject", "html", "provider"):
        if name in data and not isinstance(data[name], str):
            return Expect("invalid", f"{name} must be a string")
    if "critical" in data and not isinstance(data["critical"], bool):
        return Expect("invalid", "critical must be a boolean")
    if "metadata" in data and not isinstance(data["metadata"], dict):
        return Expect("invalid", "metadata must be an object")
    channel = data["channel"]
    if channel not in ("email", "sms", "webhook"):
        return Expect("invalid", "unknown channel")
    checked = [data["id"], data["to"], data.get("provider", "")]
    if any(c in DIALECT_SPACE for s in checked for c in s):
        either = either or "whitespace that only one of Python's and ECMA-262's \\s matches"
    if not PATTERNS["id"].fullmatch(data["id"]):
        return Expect("invalid", "bad id", either=either)
    if not 1 <= len(data["to"]) <= 2048 or not PATTERNS[channel].fullmatch(data["to"]):
        return Expect("invalid", f"bad {channel} recipient", either=either)
    if channel == "email" and "subject" not in data:
        return Expect("invalid", "email needs a subject", either=either)
    if "subject" in data and not 1 <= len(data["subject"]) <= 998:
        return Expect("invalid", "a subject has 1-998 characters", either=either)
    if "html" in data and (channel != "email" or len(data["html"]) < 1):
        return Expect("invalid", "html only on email, non-empty", either=either)
    if "provider" in data:
        if not PATTERNS["provider"].fullmatch(data["provider"]):
            return Expect("invalid", "bad provider name", either=either)
        if data["provider"] not in ENABLED or channel not in ENABLED[data["provider"]]:
            return Expect("invalid", "provider not enabled for the channel", either=either)
    if channel == "webhook" and not same_origin(data["to"], webhook_url):
        return Expect("undeliverable", "a webhook target other than the loopback receiver", either=either)
    return Expect("deliver", either=either, notification=data)


def same_origin(url: str, ours: str) -> bool:
    try:
        target, origin = urlsplit(url), urlsplit(ours)
        return (target.hostname, target.port) == (origin.hostname, origin.port)
    except ValueError:
        return False


# --- the world -------------------------------------------------------------------------------------


@dataclass
class Accepted:
    provider: str
    notification_id: str
    to: str
    body: str
    at: float = field(default_factory=time.time)  # simulated time


class Recording:
    """A provider recording every send it accepted (its far end answered 2xx)."""

    def __init__(self, inner: Provider, sink: list[Accepted], lock: threading.Lock) -> None:
        self.inner = inner
        self.sink = sink
        self.lock = lock
        self.name = inner.name
        self.channels = inner.channels
        self.max_call_seconds = inner.max_call_seconds

    def send(self, notification: Notification) -> str:
        message_id = self.inner.send(notification)
        with self.lock:
            self.sink.append(Accepted(self.name, notification.id, notification.to, notification.body))
        return message_id


class FakeEmail:
    name = EMAIL_PROVIDER
    channels = frozenset({"email"})
    max_call_seconds = 2.0

    def send(self, notification: Notification) -> str:
        return f"email-{notification.id}"


class Tracked(SqsBatchRunner):
    def __init__(self, deliverer: Deliverer, concurrency: int) -> None:
        super().__init__(deliverer, concurrency)
        self.results: list[tuple[str, int, str, str | None]] = []
        self._lock = threading.Lock()

    def _deliver(self, record: Any, remaining_millis: RemainingMillis | None) -> Result:
        attempt = int(record.attributes.approximate_receive_count)
        try:
            result = super()._deliver(record, remaining_millis)
        except Exception as error:
            with self._lock:
                self.results.append((record.message_id, attempt, "dead_letter_failed", f"{type(error).__name__}"))
            raise
        with self._lock:
            self.results.append((record.message_id, attempt, result.outcome.value, result.error))
        return result


@dataclass
class Violation:
    kind: str  # a known bug's name, or "unknown"
    what: str
    body: str

    def __str__(self) -> str:
        shown = self.body if len(self.body) <= 300 else self.body[:300] + f"... ({len(self.body)} chars)"
        return f"[{self.kind}] {self.what}\n    body: {shown!r}"


@dataclass
class FuzzReport:
    bodies: int = 0
    batches: int = 0
    batch_crashes: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # generated bodies SQS would refuse, by kind
    violations: list[Violation] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def unknown(self) -> list[Violation]:
        return [v for v in self.violations if v.kind == "unknown"]

    def known(self) -> Counter[str]:
        return Counter(v.kind for v in self.violations if v.kind != "unknown")

    def lines(self) -> list[tuple[str, float | int]]:
        figures: list[tuple[str, float | int]] = [
            ("fuzz_bodies", self.bodies),
            ("fuzz_batches", self.batches),
            ("fuzz_batch_crashes", len(self.batch_crashes)),
            ("fuzz_dead_lettered_invalid", self.outcomes["invalid"]),
            ("fuzz_delivered", self.outcomes["delivered"]),
            ("fuzz_duplicate_ids_suppressed", self.outcomes["suppressed"]),
            ("fuzz_undeliverable_dead_lettered", self.outcomes["undeliverable"]),
            ("fuzz_violations_unexplained", len(self.unknown)),
        ]
        figures += [(f"fuzz_known_bug_{name}", n) for name, n in sorted(self.known().items())]
        return [*figures, ("fuzz_wall_seconds", round(self.wall_seconds, 1))]


def offline_dns() -> Any:
    """Only the loopback receiver resolves; any other host fails at once, as if offline (a fuzzed webhook
    target never reaches a resolver or a stray address)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in ("127.0.0.1", "localhost"):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (the fuzz runs offline)")

    return getaddrinfo


LINE_ID = re.compile(r"(?:notification|message) (\S+)")


class UnencodableLines(logging.Handler):
    """Each log line Herald writes that is not valid UTF-8 text: a UTF-8 stream (Lambda's stdout, a terminal)
    cannot write it, and logging drops it with "--- Logging error ---" on stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(herald_logger.registered_formatter)
        self.lost: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.format(record).encode("utf-8")
        except UnicodeEncodeError:
            self.lost.append(record.getMessage())


class FuzzHarness:
    def __init__(self) -> None:
        self.report = FuzzReport()
        self.accepted: list[Accepted] = []
        self.payloads: list[tuple[str, bytes]] = []  # (webhook-id, body) as the receiver got them
        self.rejections: list[tuple[str, str]] = []
        self.delivered_ids: dict[str, float] = {}  # notification id -> when a provider last accepted it
        self._lock = threading.Lock()
        self._serial = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> FuzzHarness:
        stack = self._stack
        stack.enter_context(fake_aws_environment())
        stack.enter_context(mock_aws())
        self.clock = stack.enter_context(time_machine.travel(START, tick=False))
        stack.enter_context(fast_moto_sqs())
        stack.enter_context(atomic_moto_dynamodb())
        getaddrinfo = offline_dns()
        original = socket.getaddrinfo
        socket.getaddrinfo = getaddrinfo
        stack.callback(setattr, socket, "getaddrinfo", original)
        raise_exceptions = logging.raiseExceptions
        logging.raiseExceptions = False  # the probe below records each line logging cannot write
        stack.callback(setattr, logging, "raiseExceptions", raise_exceptions)
        self.lines = UnencodableLines()
        herald_logger._logger.addHandler(self.lines)
        stack.callback(herald_logger._logger.removeHandler, self.lines)
        self.webhooks = stack.enter_context(quiet(Receiver(responder=self._webhook)))
        self.sms_api = stack.enter_context(quiet(Receiver(responder=self._sms)))
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sqs.meta.events.register("before-parameter-build.sqs.*", real_sqs_rules(self.rejections))
        self.url, self.arn, self.dlq_url = create_resources(self.sqs, "herald-fuzz", sms_token="fuzz-token")
        self.runner = self._herald()
        stack.callback(self.runner.pool.shutdown)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _herald(self) -> Tracked:
        env = {
            "HERALD_DLQ_URL": self.dlq_url,
            "HERALD_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "HERALD_RETRY_DELAY_SECONDS": "300",
            "HERALD_EMAIL_PROVIDER": EMAIL_PROVIDER,
            "HERALD_SMS_PROVIDER": "http_sms",
            "HERALD_WEBHOOK_PROVIDER": "webhook",
            "HERALD_WEBHOOK_ALLOW_PRIVATE": "true",
            "HERALD_WEBHOOK_READ_TIMEOUT": "5",
            "HERALD_HTTP_SMS_BASE_URL": f"{self.sms_api.url}/2010-04-01",
            "HERALD_HTTP_SMS_ACCOUNT_ID": SMS_ACCOUNT,
            "HERALD_HTTP_SMS_FROM": "+15550001111",
            "HERALD_HTTP_SMS_AUTH_TOKEN": f"ssm:{SMS_TOKEN_PARAMETER}",
            "HERALD_HTTP_SMS_READ_TIMEOUT": "5",
            "HERALD_IDEMPOTENCY_TABLE": TABLE,
        }
        read = EnvReader(env)
        config = Settings.read(read)
        providers: dict[str, Provider] = create_providers(["webhook", "http_sms"], ProviderContext(read, SecretStore()))
        read.check()
        providers[EMAIL_PROVIDER] = FakeEmail()
        recording = {name: Recording(p, self.accepted, self._lock) for name, p in providers.items()}
        herald_sqs = boto3.client("sqs", region_name=REGION)
        herald_sqs.meta.events.register("before-parameter-build.sqs.*", real_sqs_rules(self.rejections))
        self.ttl_seconds = config.idempotency_ttl_seconds
        once = SendOnce(TABLE, config.idempotency_ttl_seconds)
        deliverer = Deliverer(config, recording, SqsQueue(self.dlq_url, herald_sqs), once=once)
        return Tracked(deliverer, config.concurrency)

    # the far ends
    def _webhook(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.payloads.append((request.headers.get("webhook-id", ""), request.body))
        return Reply(200, body=b"ok")

    def _sms(self, request: ReceivedRequest) -> Reply:
        form = parse_qs(request.body.decode(), keep_blank_values=True)
        if not form.get("To") or "Body" not in form:
            return Reply(400, body=json.dumps({"code": 21604, "message": "'To' and 'Body' are required"}).encode())
        return Reply(201, body=b'{"sid": "SMfuzz", "status": "queued"}')

    # one example
    def run(self, batch: list[Case]) -> list[Violation]:
        found: list[Violation] = []
        produced: list[tuple[Case, str]] = []
        for case in batch:
            self._serial += 1
            body = case.body(f"fz-{self._serial}", self.webhooks.url)
            if not sqs_text(body) or not 0 < sqs_size(body) <= SQS_MAX_BYTES:
                self.report.skipped[case.kind] += 1  # SQS would refuse it: the generator's doing, not Herald's
                continue
            produced.append((case, body))
        sent = self._produce(produced)
        self.report.bodies += len(sent)
        marks = len(self.accepted), len(self.payloads), len(self.runner.results), len(self.rejections)
        lost_lines = len(self.lines.lost)
        leftovers = self._settle(set(sent), found)
        accepted = self.accepted[marks[0] :]
        payloads = self.payloads[marks[1] :]
        results = self.runner.results[marks[2] :]
        herald_rejections = self.rejections[marks[3] :]
        dead_lettered = sum(1 for _, _, outcome, _ in results if outcome in ("invalid", "permanent", "retry_failed"))
        letters = self._dead_letters(dead_lettered)
        found += self._judge(sent, accepted, payloads, results, letters, leftovers, herald_rejections)
        for source, problem in herald_rejections:
            kind = "dead_letter_over_size_limit" if "shorter than" in problem else "dead_letter_refused_by_sqs"
            body = sent[source][1] if source in sent else ""
            found.append(Violation(kind, f"SQS refuses Herald's dead letter: {problem}", body))
        for line in self.lines.lost[lost_lines:]:
            body = next((b for _, b in sent.values() if (m := LINE_ID.search(line)) and m.group(1) in b), "")
            found.append(Violation("log_line_unencodable", f"a log line that cannot be written: {line[:200]!r}", body))
        unique: dict[tuple[str, str], Violation] = {}
        for violation in found:  # one per body and kind: a stuck message is refused on every receive
            unique.setdefault((violation.kind, violation.body or violation.what), violation)
        found = list(unique.values())
        self.report.violations += found
        return found

    def _produce(self, produced: list[tuple[Case, str]]) -> dict[str, tuple[Case, str]]:
        """Send the bodies as a producer would (batches of up to 10, at most 1 MiB a batch)."""
        sent: dict[str, tuple[Case, str]] = {}
        groups: list[list[tuple[Case, str]]] = []
        size = 0
        for item in produced:
            item_size = sqs_size(item[1])
            if not groups or len(groups[-1]) == 10 or size + item_size > SQS_MAX_BYTES:
                groups.append([])
                size = 0
            groups[-1].append(item)
            size += item_size
        for group in groups:
            response = self.sqs.send_message_batch(
                QueueUrl=self.url, Entries=[{"Id": str(i), "MessageBody": body} for i, (_, body) in enumerate(group)]
            )
            if response.get("Failed"):
                raise RuntimeError(f"the producer could not send: {response['Failed']}")
            for entry in response["Successful"]:
                case, body = group[int(entry["Id"])]
                sent[entry["MessageId"]] = (case, body)
                self.report.kinds[case.kind] += 1
        return sent

    def _settle(self, pending: set[str], found: list[Violation]) -> set[str]:
        """Run the event source until the example's messages are all deleted (bounded); returns those that were
        not, after removing them so the next example starts from an empty queue."""
        idle_rounds = 0
        while pending and idle_rounds <= MAX_ATTEMPTS + 3:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES).get(
                "Messages", []
            )
            if not messages:
                self.clock.shift(361)  # past the retry delay (300 s) and the visibility timeout (360 s)
                idle_rounds += 1
                continue
            self.report.batches += 1
            event = lambda_sqs_event(messages, self.arn)
            try:
                response: dict[str, Any] = dict(self.runner.handle(event, SimContext(f"fuzz-{self.report.batches}")))
            except Exception as error:
                crash = f"{type(error).__name__}: {error}"
                self.report.batch_crashes.append(crash)
                found.append(Violation("unknown", f"batch crashed: {crash}", messages[0]["Body"]))
                continue
            failed = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
            if not failed <= {m["MessageId"] for m in messages}:
                found.append(Violation("unknown", f"a malformed partial batch response: {response}", ""))
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
                pending -= {m["MessageId"] for m in done}
        if pending:
            self.clock.shift(43_201)
            while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        return pending

    def _dead_letters(self, expected: int) -> dict[str, list[dict[str, Any]]]:
        """The dead letters Herald reported writing for this example (removed from the DLQ once read)."""
        letters: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        read = 0
        while read < expected and (
            messages := self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES
            ).get("Messages", [])
        ):
            read += len(messages)
            for m in messages:
                attributes = {k: v.get("StringValue", "") for k, v in m.get("MessageAttributes", {}).items()}
                letters[attributes.get("source_message_id", "?")].append({"body": m["Body"], **attributes})
            self.sqs.delete_message_batch(
                QueueUrl=self.dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return letters

    def dead_letter_queue_depth(self) -> int:
        """Dead letters nobody accounted for (must be 0 at the end of a run)."""
        self.clock.shift(43_201)
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def _judge(
        self,
        sent: dict[str, tuple[Case, str]],
        accepted: list[Accepted],
        payloads: list[tuple[str, bytes]],
        results: list[tuple[str, int, str, str | None]],
        letters: dict[str, list[dict[str, Any]]],
        leftovers: set[str],
        herald_rejections: list[tuple[str, str]],
    ) -> list[Violation]:
        found: list[Violation] = []
        by_message: defaultdict[str, list[tuple[int, str, str | None]]] = defaultdict(list)
        for message_id, attempt, outcome, error in results:
            by_message[message_id].append((attempt, outcome, error))
        accepted_by_id: defaultdict[str, list[Accepted]] = defaultdict(list)
        for a in accepted:
            accepted_by_id[a.notification_id].append(a)
        expectations = {mid: expect(body, self.webhooks.url) for mid, (_, body) in sent.items()}
        id_to_body = {e.notification["id"]: sent[mid][1] for mid, e in expectations.items() if e.notification}
        for webhook_id, payload in payloads:
            try:
                json.loads(payload, parse_constant=_refuse)
            except ValueError as error:
                what = f"webhook {webhook_id} got a payload that is not JSON: {error}"
                found.append(Violation("nonstandard_json_payload", what, id_to_body.get(webhook_id, "")))
        # Ids that should be delivered by exactly one of their messages (ids may repeat after a mutation).
        claims: defaultdict[str, list[str]] = defaultdict(list)
        for mid, e in expectations.items():
            if e.verdict == "deliver" and e.notification is not None:
                claims[e.notification["id"]].append(mid)
        delivered_ids = set(self.delivered_ids) | set(accepted_by_id)
        for mid, (_case, body) in sent.items():
            e = expectations[mid]
            history = by_message.get(mid, [])
            dead = letters.get(mid, [])
            notification_id = e.notification["id"] if e.notification else None
            got = accepted_by_id.get(notification_id, []) if notification_id else []
            observed = self._observed(mid, dead, got, history, leftovers, notification_id)
            if observed == "suppressed" and notification_id not in delivered_ids:
                observed = "suppressed_but_never_delivered"
            self.report.outcomes[observed] += 1
            for letter in dead:
                if letter["body"] != body:
                    found.append(Violation("unknown", "the dead letter's body differs from the message's", body))
                if not letter.get("reason") or not letter.get("last_error"):
                    found.append(Violation("unknown", f"a dead letter without reason or last_error: {letter}", body))
            ok = {
                "invalid": {"invalid"},
                "deliver": {"delivered", "suppressed"},
                "undeliverable": {"undeliverable"},
            }[e.verdict]
            if e.either:
                ok = ok | {"invalid", "delivered", "suppressed"}
            if observed == "undeliverable" and any("InvalidURL" in (err or "") for _, _, err in history):
                what = f"a webhook URL that can never be posted is retried as transient: {history[-1][2]}"
                found.append(Violation("unsendable_webhook_url_retried", what, body))
            if observed not in ok:
                summary = [(d.get("reason"), d.get("attempts"), d.get("last_error", "")[:160]) for d in dead]
                what = (
                    f"expected {e.verdict}{f' ({e.reason})' if e.reason else ''}"
                    f"{f' or invalid: {e.either}' if e.either else ''}; observed {observed}; "
                    f"Herald: {[(a, o, (err or '')[:160]) for a, o, err in history]}; dead letters: {summary}"
                )
                found.append(Violation(classify(e, observed, history, herald_rejections), what, body))
        for notification_id, got in accepted_by_id.items():
            body = id_to_body.get(notification_id, "")
            earlier = self.delivered_ids.get(notification_id)
            # Once its idempotency record expires (TTL), an id may be sent again; simulated time runs fast here.
            if len(got) > 1 or (earlier is not None and got[0].at - earlier < self.ttl_seconds):
                found.append(Violation("unknown", f"notification {notification_id} accepted twice", body))
            mids = claims.get(notification_id, [])
            bodies = {n["body"] for m in mids if (n := expectations[m].notification)}
            if mids and not any(a.body in bodies for a in got):
                found.append(Violation("unknown", f"{notification_id} delivered with a body that was not sent", body))
        self.delivered_ids.update({notification_id: got[-1].at for notification_id, got in accepted_by_id.items()})
        return found

    def _observed(
        self,
        mid: str,
        dead: list[dict[str, Any]],
        got: list[Accepted],
        history: list[tuple[int, str, str | None]],
        leftovers: set[str],
        notification_id: str | None,
    ) -> str:
        if mid in leftovers:
            return "unsettled"
        if dead:
            reason = dead[0].get("reason")
            if reason == "invalid" and dead[0].get("attempts") == "1":
                return "invalid"
            if reason in ("exhausted", "permanent") and not got:
                return "undeliverable"
            return f"dead_lettered_{reason}_attempt_{dead[0].get('attempts')}"
        if any(outcome == "sent" for _, outcome, _ in history) and got:
            return "delivered"
        if any(outcome == "duplicate" for _, outcome, _ in history):
            return "suppressed"
        return "lost"


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def classify(
    e: Expect, observed: str, history: list[tuple[int, str, str | None]], rejections: list[tuple[str, str]]
) -> str:
    """Name the known bug a violation is an instance of ("unknown" if none)."""
    errors = " ".join(err or "" for _, _, err in history)
    if "UnicodeEncodeError" in errors:
        return "unencodable_text_retried"
    if "RecursionError" in errors:
        return "deep_metadata_retried"
    if any(outcome == "dead_letter_failed" for _, outcome, _ in history) and rejections:
        if any("shorter than" in problem for _, problem in rejections):
            return "dead_letter_over_size_limit"
        return "dead_letter_refused_by_sqs"
    return "unknown"


# --- running it --------------------------------------------------------------------------------------


def fuzz_settings(examples: int, seed: int | None = None, shrink: bool = True) -> settings:
    return settings(
        max_examples=examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def run_fuzz(bodies: int, seed: int) -> FuzzReport:
    """At least ``bodies`` generated bodies (batches of 1-10) through Herald; violations counted, not raised."""
    from hypothesis import seed as hypothesis_seed

    started = time.perf_counter()
    with FuzzHarness() as harness:
        for batch in EDGE_CASES:
            harness.run(batch)
        while harness.report.bodies < bodies:
            before = harness.report.bodies
            examples = max(1, (bodies - before) // 5)

            @hypothesis_seed(seed)
            @fuzz_settings(examples, seed=seed, shrink=False)
            @given(batch=batches())
            def fuzz_batch(batch: list[Case]) -> None:
                harness.run(batch)

            fuzz_batch()
            seed += 1
            if harness.report.bodies == before:
                break
        stray = harness.dead_letter_queue_depth()
        if stray:
            harness.report.violations.append(Violation("unknown", f"{stray} dead letters no result accounts for", ""))
    harness.report.wall_seconds = time.perf_counter() - started
    return harness.report


def main(argv: list[str]) -> None:
    bodies = int(argv[0]) if argv else 10_000
    seed = int(argv[1]) if len(argv) > 1 else 1
    from bench.__main__ import herald_logs_discarded

    with herald_logs_discarded():
        report = run_fuzz(bodies, seed)
    for name, value in report.lines():
        print(f"{name}: {value}")
    print(f"# generated kinds: {dict(report.kinds)}; skipped (SQS would refuse them): {dict(report.skipped)}")
    shown: Counter[str] = Counter()
    for violation in report.violations:
        shown[violation.kind] += 1
        if shown[violation.kind] <= 3:
            print("# " + str(violation).replace("\n", "\n# "))


if __name__ == "__main__":
    main(sys.argv[1:])
