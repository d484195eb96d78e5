"""Tests for the local CloudWatch Logs filter-pattern evaluator.

"Docs" cases are AWS's own published examples with their documented results, from the CloudWatch Logs
User Guide ("Filter pattern syntax for metric filters, ...", "Using filter patterns to match terms in
unstructured log events", "Using filter patterns to match terms in JSON log events"), as read in
awsdocs/amazon-cloudwatch-logs-user-guide doc_source/FilterAndPatternSyntax.md ("Filter and Pattern
Syntax"). The doc prose puts patterns in quotes ("ERROR Exception" matches ... both terms); those are
prose quotes, so the patterns below are unquoted unless the doc means a quoted term.
"""

import json

import pytest

from tests.support.filter_pattern import matches


def _line(level: str, message: str, **extra: object) -> str:
    """One Powertools Logger line as Herald's Lambda emits it."""
    record = {
        "level": level,
        "location": "deliver:12",
        "message": message,
        "timestamp": "2026-11-23 17:00:00,000+0000",
        "service": "herald",
        **extra,
    }
    return json.dumps(record)


RETRY = _line(
    "WARNING",
    "RETRY: notification n-1 attempt 3/48 via webhook failed with TransientError: 503; next try in 300s",
    notification_id="n-1",
    attempt=3,
    max_attempts=48,
)
RETRY_FAILED = _line(
    "ERROR",
    "RETRY FAILED: notification n-1 attempt 48/48 via webhook failed with TransientError: 503; "
    "no attempts left, dead-lettering",
    notification_id="n-1",
    attempt=48,
    max_attempts=48,
)
PERMANENT = _line(
    "ERROR",
    "PERMANENT FAILURE: notification n-2 attempt 1/48 via ses failed with PermanentError: bad address; "
    "not retrying, dead-lettering",
    notification_id="n-2",
    attempt=1,
    max_attempts=48,
)
INFO = _line("INFO", "SENT: notification n-3 attempt 1/48 via ses as message m-3", notification_id="n-3")

# "Using filter patterns to match terms in JSON log events" / "Filter and Pattern Syntax": the example event.
DOCS_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
# Same pages, "JSON Compound Conditions": the example event.
DOCS_COMPOUND_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize("pattern", ["", "   ", '""'])
@pytest.mark.parametrize("message", ["", "anything at all", RETRY])
def test_empty_pattern_matches_every_event(pattern: str, message: str) -> None:
    # Docs ("Filter and Pattern Syntax", Example 1: Match everything): the filter pattern "" matches all events.
    assert matches(pattern, message)


# "Using filter patterns to match terms in unstructured log events" / "Filter and Pattern Syntax",
# Examples 2-4 and "OR Pattern Matching", with their documented results.
OR_EVENTS = ("ERROR WARN message", "ERROR message", "WARN message")


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("ERROR", "[ERROR] A fatal exception has occurred", True),
        ("ERROR", "Exiting with ERRORCODE: -1", True),
        ('"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True),
        ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
        ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
        ("ERROR Exception", "[ERROR] Unhandled Exception", True),
        ("Failed to process the request", "[WARN] Failed to process the request", True),
        ("Failed to process the request", "[ERROR] Unable to continue: Failed to process the request", True),
        *[("ERROR", event, event in OR_EVENTS[:2]) for event in OR_EVENTS],
        *[("?ERROR ?WARN", event, True) for event in OR_EVENTS],
        *[("ERROR WARN", event, event == OR_EVENTS[0]) for event in OR_EVENTS],
        *[("ERROR -WARN", event, event == OR_EVENTS[1]) for event in OR_EVENTS],
    ],
)
def test_docs_unstructured_examples(pattern: str, message: str, expected: bool) -> None:
    assert matches(pattern, message) is expected


def test_terms_are_case_sensitive_substrings() -> None:
    assert matches("ERROR", "ERRORCODE 7")
    assert not matches("ERROR", "error: disk full")
    assert not matches("error", "ERROR: disk full")


def test_quoted_term_matches_as_one_exact_substring() -> None:
    assert matches('"RETRY FAILED:"', "RETRY FAILED: notification n-1")
    assert not matches('"RETRY FAILED:"', "RETRY: FAILED notification n-1")
    assert matches('"say \\"hi\\""', 'they say "hi" twice')


def test_unquoted_term_with_punctuation_is_rejected() -> None:
    # Docs: terms with characters other than alphanumeric or underscore must be in double quotes.
    with pytest.raises(ValueError, match="quote it"):
        matches("RETRY:", "RETRY: notification n-1")


def test_mixing_or_terms_with_other_terms_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="not documented"):
        matches("?ERROR WARN", "ERROR WARN")


# "Using filter patterns to match terms in JSON log events": "The following filters would match" the example event.
@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
    ],
)
def test_docs_json_example_patterns_match_the_example_event(pattern: str) -> None:
    assert matches(pattern, DOCS_EVENT)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "PutTrail" }',
        "{ $.sourceIPAddress != 111.111.* }",
        '{ $.eventType[0] = "UpdateTrail" }',  # docs: "If arrayKey is not an array this will be false"
        "{ $.objectList[0].id = 2 }",
        "{ $.objectList[1].missing = 2 }",  # docs: "... do not have an id property, this will be false"
        "{ $.eventType IS NULL }",  # docs: "only true if the specified object is set to null"
        "{ $.SomeObject NOT EXISTS }",  # docs: "only true if specified object does not exist"
        "{ $.ThisFlag IS FALSE }",
    ],
)
def test_json_example_event_counterparts_do_not_match(pattern: str) -> None:
    assert not matches(pattern, DOCS_EVENT)


# "Using filter patterns to match terms in JSON log events", "JSON Compound Conditions", documented results.
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }',
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) '
            "&& $.actions[2] = nomatch }",
            False,
        ),
    ],
)
def test_docs_compound_conditions_and_binds_tighter_than_or(pattern: str, expected: bool) -> None:
    assert matches(pattern, DOCS_COMPOUND_EVENT) is expected


# "Filter and Pattern Syntax", "OR Pattern Matching" for JSON filters, documented results.
@pytest.mark.parametrize(
    ("pattern", "bar", "baz"),
    [("{$.foo = bar}", True, False), ("{$.foo = baz }", False, True), ("{$.foo = bar || $.foo = baz }", True, True)],
)
def test_docs_json_or_examples(pattern: str, bar: bool, baz: bool) -> None:
    assert matches(pattern, '{"foo": "bar"}') is bar
    assert matches(pattern, '{"foo": "baz"}') is baz


@pytest.mark.parametrize("pattern", ["{$.users = 1}", "{$.users != 1}"])
def test_selector_on_an_array_or_object_matches_neither_equals_nor_not_equals(pattern: str) -> None:
    # Docs, "JSON Special Considerations": both fail to match an event where users is an array.
    assert not matches(pattern, '{"users": [1, 2, 3]}')
    assert not matches(pattern, '{"users": {"id": 1}}')


@pytest.mark.parametrize(
    "pattern", ['{ $.missing = "x" }', '{ $.missing != "x" }', "{ $.missing = * }", "{ $.n != 5 }"]
)
def test_missing_selector_matches_neither_equals_nor_not_equals(pattern: str) -> None:
    assert not matches(pattern, '{"present": "x"}')


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # Docs: "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName.
        # Ev*ent will only match the actual string Ev*ent."
        ("*Event", "PutEvent", True),
        ("*Event", "GetEvent", True),
        ("Event*", "EventId", True),
        ("Event*", "EventName", True),
        ("Ev*ent", "Ev*ent", True),
        ("Ev*ent", "Event", False),
        ("Ev*ent", "Evxent", False),
        ('"*html*"', "GET /index.html HTTP/1.0", True),
        ('"*"', "", True),
        ('"RETRY:*"', "RETRY FAILED: x", False),
    ],
)
def test_wildcard_applies_only_at_the_start_or_end_of_a_value(pattern: str, value: str, expected: bool) -> None:
    assert matches(f"{{ $.v = {pattern} }}", json.dumps({"v": value})) is expected
    assert matches(f"{{ $.v != {pattern} }}", json.dumps({"v": value})) is not expected


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        # Docs, "Numeric Comparisons" examples, against events of our own.
        ("{ $.latency >= 500 }", {"latency": 500}, True),
        ("{ $.latency >= 500 }", {"latency": 499.9}, False),
        ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, True),
        ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.01]}, False),
        ("{ $.processes[4].averageRuntime <= 55.5 }", {"processes": [0, 0, 0, 0, {"averageRuntime": 55.5}]}, True),
        ("{ $.errorCode = 400 }", {"errorCode": 400}, True),
        ("{ $.errorCode != 500 }", {"errorCode": 400}, True),
        ("{ $.latency > +1000 }", {"latency": 1000}, False),
        ("{ $.n = 123 }", {"n": 123.0}, True),
        ("{ $.n > -2.5 }", {"n": -2}, True),
        ("{ $.n < -2.5 }", {"n": -3e0}, True),
        ("{ $.n = 1E3 }", {"n": 1000}, True),
        # A number only compares with a JSON number: not a numeric string, boolean or null.
        ("{ $.n = 400 }", {"n": "400"}, False),
        ("{ $.n != 400 }", {"n": "401"}, False),
        ("{ $.n = 1 }", {"n": True}, False),
        ("{ $.n != 1 }", {"n": None}, False),
    ],
)
def test_numeric_comparisons(pattern: str, event: dict[str, object], expected: bool) -> None:
    assert matches(pattern, json.dumps(event)) is expected


def test_string_value_compares_with_a_numbers_json_text() -> None:
    # Docs, "Publishing Numerical Values Found in Log Entries": { $.latency = * } selects numeric latencies.
    assert matches("{ $.latency = * }", '{"latency": 42}')
    assert matches('{ $.code = "4*" }', '{"code": 404}')
    assert not matches('{ $.flag = "true" }', '{"flag": true}')


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("{ $.f IS TRUE }", {"f": True}, True),
        ("{ $.f IS TRUE }", {"f": "true"}, False),
        ("{ $.f IS TRUE }", {"f": 1}, False),
        ("{ $.f IS FALSE }", {"f": False}, True),
        ("{ $.f IS FALSE }", {"f": 0}, False),
        ("{ $.f IS FALSE }", {}, False),
        ("{ $.f IS NULL }", {"f": None}, True),
        ("{ $.f IS NULL }", {}, False),
        ("{ $.f NOT EXISTS }", {}, True),
        ("{ $.f NOT EXISTS }", {"f": None}, False),
        ("{ $.f.g NOT EXISTS }", {"f": "scalar"}, True),
        ("{ $.f[3] NOT EXISTS }", {"f": [1, 2]}, True),
    ],
)
def test_is_true_is_false_is_null_and_not_exists(pattern: str, event: dict[str, object], expected: bool) -> None:
    assert matches(pattern, json.dumps(event)) is expected


def test_parentheses_override_precedence() -> None:
    event = '{"a": 1, "b": 2, "c": 3}'
    assert matches("{ $.a = 9 && $.b = 9 || $.c = 3 }", event)
    assert not matches("{ $.a = 9 && ($.b = 9 || $.c = 3) }", event)
    assert matches("{(($.a=1))&&$.b=2}", event)


@pytest.mark.parametrize("message", ["not json", "[1, 2]", '"a string"', "42", "null", "{broken", '{"n": NaN}', ""])
def test_json_pattern_against_a_non_object_message_does_not_match(message: str) -> None:
    assert not matches("{ $.n NOT EXISTS }", message)
    assert not matches("{ $.n != 1 }", message)


# Herald: the metric filter patterns in template.yaml against the lines the Lambda really writes.
@pytest.mark.parametrize(
    ("pattern", "retry", "retry_failed", "permanent"),
    [
        ('{ $.message = "RETRY:*" }', True, False, False),
        ('{ $.message = "RETRY FAILED:*" }', False, True, False),
        ('{ $.level = "ERROR" && $.message = "PERMANENT FAILURE:*" }', False, False, True),
        (
            '{ $.level = "ERROR" && ($.message = "RETRY FAILED:*" || $.message = "PERMANENT FAILURE:*") }',
            False,
            True,
            True,
        ),
    ],
)
def test_herald_metric_filter_patterns(pattern: str, retry: bool, retry_failed: bool, permanent: bool) -> None:
    assert matches(pattern, RETRY) is retry
    assert matches(pattern, RETRY_FAILED) is retry_failed
    assert matches(pattern, PERMANENT) is permanent
    assert not matches(pattern, INFO)


def test_herald_permanent_failure_pattern_needs_level_error() -> None:
    warning = _line("WARNING", "PERMANENT FAILURE: notification n-2 attempt 1/48 via ses failed")
    assert not matches('{ $.level = "ERROR" && $.message = "PERMANENT FAILURE:*" }', warning)


@pytest.mark.parametrize(
    "pattern",
    [
        "{ }",
        "{ $.a = 1",
        "{ $.a = 1 } trailing",
        "{ $.a = 1 } }",
        "{ $.a = }",
        '{ $.a "x" }',
        "{ $.a == 1 }",
        '{ $.a = "unterminated }',
        "{ ($.a = 1 }",
        "{ $.a = 1) }",
        "{ $.a = 1 && }",
        "{ && $.a = 1 }",
        "{ $.a = 1 $.b = 2 }",
        "{ a = 1 }",
        "{ $ = 1 }",
        "{ $[0] = 1 }",
        "{ $.a. = 1 }",
        "{ $.a < abc }",
        '{ $.a >= "5" }',
        "{ $.a = x@y }",
        "{ $.a IS MAYBE }",
        "{ $.a is null }",
        "{ $.a NOT THERE }",
        "{ $.a EXISTS }",
        '"unterminated',
        '"ERROR"x',
        "ERROR:",
        "-",
        "ERROR ?",
        "--ERROR",
    ],
)
def test_malformed_patterns_raise_value_error(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"filter pattern|term"):
        matches(pattern, '{"a": 1}')


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        ("[w1=ERROR, w2]", "space-delimited patterns are not supported"),
        ("[ip, user, ..., status_code, bytes]", "space-delimited patterns are not supported"),
        ("%AUTHORIZED%", "regular-expression"),
        ("{ $.message = %RETRY% }", "regular-expression"),
    ],
)
def test_regex_and_space_delimited_patterns_raise_not_implemented(pattern: str, what: str) -> None:
    with pytest.raises(NotImplementedError, match=what):
        matches(pattern, "ERROR message")
