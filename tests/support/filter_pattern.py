"""Evaluate CloudWatch Logs filter patterns locally, for tests (moto has no TestMetricFilter).

Implements the documented semantics of the AWS CloudWatch Logs User Guide pages "Filter pattern
syntax for metric filters, subscription filters, filter log events, and Live Tail", "Using filter
patterns to match terms in unstructured log events" and "Using filter patterns to match terms in JSON
log events" (read in the archived source awsdocs/amazon-cloudwatch-logs-user-guide,
doc_source/FilterAndPatternSyntax.md, "Filter and Pattern Syntax"):

* ``""`` (or only whitespace) matches every event.
* Unstructured terms: case-sensitive substring search; several terms must all appear; ``?term`` terms
  match if any appears; ``-term`` excludes; ``"quoted phrase"`` is one exact substring.
* JSON ``{ ... }``: selectors ``$.a.b``, ``$.a[0]``, ``$.a[0][1]``; ``=``/``!=`` on strings (quoted or
  not, ``*`` wildcard at the start and/or end only); ``= != < > <= >=`` on numbers; ``IS TRUE``,
  ``IS FALSE``, ``IS NULL``, ``NOT EXISTS``; ``&&`` binds tighter than ``||``; parentheses.

Regular expressions (``%...%``) and space-delimited patterns (``[a, b, ...]``) raise
NotImplementedError. A pattern CloudWatch would reject raises ValueError.
"""

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

__all__ = ["matches"]

_MISSING = object()  # a selector that resolves to nothing
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_TERM = re.compile(r"\w+\Z", re.ASCII)  # letters, digits, underscore
# Docs: "Strings that consist entirely of alphanumeric characters do not need to be quoted" but ones
# with '@', '$', '\' etc. must be; their own example `!= 123.123.*` is unquoted, so a bare value here
# may hold letters, digits and _ . * + - (the characters of numbers and wildcards) and nothing else.
_JSON_TOKEN = re.compile(
    r"""\s*(?:
      (?P<op>&&|\|\||!=|<=|>=|[=<>()])
    | (?P<selector>\$(?:\.[A-Za-z0-9_-]+|\[\d+\])*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<regex>%[^%]*%)
    | (?P<word>[A-Za-z0-9_.*+-]+)
    )""",
    re.VERBOSE,
)


def matches(pattern: str, message: str) -> bool:
    """Return whether CloudWatch Logs filter ``pattern`` matches the log event ``message``.

    Raises ValueError for a malformed pattern and NotImplementedError for syntax this evaluator
    deliberately does not cover (regular expressions, space-delimited patterns, ?terms mixed with
    other terms). A JSON pattern never matches a message that is not a JSON object.
    """
    text = pattern.strip()
    if text.startswith("{"):
        tree = _parse_json_pattern(text)  # parse first: a malformed pattern fails whatever the message
        data = _load_object(message)
        return data is not None and tree.evaluate(data)
    if text.startswith("["):
        raise NotImplementedError("space-delimited patterns are not supported")
    if text.startswith("%"):
        raise NotImplementedError("regular-expression patterns (%...%) are not supported")
    return _match_terms(text, message)


# --- unstructured term patterns ---------------------------------------------------------------


def _match_terms(pattern: str, message: str) -> bool:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for prefix, term in _split_terms(pattern):
        {"": required, "?": optional, "-": excluded}[prefix].append(term)
    if optional and (required or excluded):
        # The docs show ?terms only on their own; how they combine with plain or -terms is not
        # documented, so refuse rather than guess.
        raise NotImplementedError("mixing ?terms with plain or -terms is not documented")
    if optional:
        return any(term in message for term in optional)
    return all(term in message for term in required) and not any(term in message for term in excluded)


def _split_terms(pattern: str) -> list[tuple[str, str]]:
    """Split a term pattern into (prefix, term) pairs; prefix is "", "?" or "-"."""
    terms: list[tuple[str, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i].isspace():
            i += 1
            continue
        prefix = ""
        if pattern[i] in "?-":
            prefix = pattern[i]
            i += 1
            # The docs' own example writes the exclusion with a space: "ERROR" - "Exiting".
            while i < n and pattern[i].isspace():
                i += 1
            if i == n or pattern[i] in "?-":
                raise ValueError(f"{prefix!r} must be followed by a term in filter pattern {pattern!r}")
        if pattern[i] == '"':
            term, i = _read_quoted(pattern, i)
            if i < n and not pattern[i].isspace():
                raise ValueError(f"a quoted term must be followed by a space in filter pattern {pattern!r}")
        else:
            end = i
            while end < n and not pattern[end].isspace():
                end += 1
            term, i = pattern[i:end], end
            # Docs: "terms that include characters other than alphanumeric or underscore must be
            # placed inside double quotes". Stricter reading: an unquoted one is an error.
            if not _TERM.match(term):
                raise ValueError(
                    f"unquoted term {term!r} in filter pattern {pattern!r} has characters other than "
                    "letters, digits and _; quote it"
                )
        terms.append((prefix, term))
    return terms


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the double-quoted string at ``text[start]``; return its content and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ValueError(f"unterminated quoted string in filter pattern {text!r}")


# --- JSON patterns ----------------------------------------------------------------------------


class _JsonNumber:
    """A number from the log event, keeping its JSON text for string comparisons."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.value = Decimal(text)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _load_object(message: str) -> dict[str, Any] | None:
    try:
        data = json.loads(message, parse_int=_JsonNumber, parse_float=_JsonNumber, parse_constant=_reject_constant)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _resolve(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        in_object = isinstance(step, str) and isinstance(data, dict) and step in data
        in_array = isinstance(step, int) and isinstance(data, list) and step < len(data)
        if not (in_object or in_array):
            return _MISSING
        data = data[step]
    return data


def _wildcard_match(wanted: str, actual: str) -> bool:
    # Docs: "*" matches any text at, before or after a term: "*Event" matches "PutEvent", "Event*"
    # matches "EventId", but "Ev*ent will only match the actual string Ev*ent" - so only a leading
    # and/or trailing "*" is a wildcard.
    if wanted == "*":
        return True
    head, tail = wanted.startswith("*"), wanted.endswith("*")
    core = wanted[1 if head else 0 : len(wanted) - 1 if tail else len(wanted)]
    if head and tail:
        return core in actual
    if head:
        return actual.endswith(core)
    if tail:
        return actual.startswith(core)
    return actual == core


@dataclass(frozen=True)
class _Comparison:
    path: tuple[str | int, ...]
    op: str  # = != < > <= >= IS_TRUE IS_FALSE IS_NULL NOT_EXISTS
    operand: Decimal | str | None = None

    def evaluate(self, data: dict[str, Any]) -> bool:
        value = _resolve(data, self.path)
        if self.op == "NOT_EXISTS":
            return value is _MISSING
        if self.op in ("IS_TRUE", "IS_FALSE"):
            return value is (self.op == "IS_TRUE")
        if self.op == "IS_NULL":
            return value is None
        # Docs: the selector must point to a string or number; on an array or object both = and !=
        # fail. A missing field is treated the same way (so != does not match it either), which is
        # what CloudWatch does (github.com/DataBiosphere/azul/issues/5884).
        if isinstance(self.operand, Decimal):
            if not isinstance(value, _JsonNumber):
                return False
            return _COMPARE[self.op](value.value, self.operand)
        if isinstance(value, _JsonNumber):
            actual = value.text
        elif isinstance(value, str):
            actual = value
        else:
            return False
        assert isinstance(self.operand, str)
        return _wildcard_match(self.operand, actual) == (self.op == "=")


_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Junction:
    op: str  # && or ||
    parts: tuple["_Node", ...]

    def evaluate(self, data: dict[str, Any]) -> bool:
        if self.op == "&&":
            return all(part.evaluate(data) for part in self.parts)
        return any(part.evaluate(data) for part in self.parts)


_Node = _Comparison | _Junction


@dataclass(frozen=True)
class _Token:
    kind: str  # op, selector, string, regex, word
    text: str


def _tokenize(body: str, pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    body = body.rstrip()
    while position < len(body):
        found = _JSON_TOKEN.match(body, position)
        if found is None or found.lastgroup is None:
            char = body[position:].lstrip()[:1]
            raise ValueError(f"unexpected {char!r} (quote values that contain it) in filter pattern {pattern!r}")
        tokens.append(_Token(found.lastgroup, found.group(found.lastgroup)))
        position = found.end()
    return tokens


class _Parser:
    """Recursive descent: or := and ('||' and)*; and := primary ('&&' primary)*."""

    def __init__(self, tokens: list[_Token], pattern: str) -> None:
        self.tokens, self.pattern, self.index = tokens, pattern, 0

    def fail(self, what: str) -> ValueError:
        found = repr(self.tokens[self.index].text) if self.index < len(self.tokens) else "the end"
        return ValueError(f"expected {what} but found {found} in filter pattern {self.pattern!r}")

    def peek(self, *texts: str) -> bool:
        return self.index < len(self.tokens) and self.tokens[self.index].text in texts

    def take(self, what: str, *kinds: str, texts: tuple[str, ...] = ()) -> _Token:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        if token is None or token.kind not in kinds or (texts and token.text not in texts):
            raise self.fail(what)
        self.index += 1
        return token

    def parse(self) -> _Node:
        node = self.disjunction()
        if self.index != len(self.tokens):
            raise self.fail("&&, || or the closing }")
        return node

    def disjunction(self) -> _Node:
        parts = [self.conjunction()]
        while self.peek("||"):
            self.index += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Junction("||", tuple(parts))

    def conjunction(self) -> _Node:
        parts = [self.primary()]
        while self.peek("&&"):
            self.index += 1
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else _Junction("&&", tuple(parts))

    def primary(self) -> _Node:
        if self.peek("("):
            self.index += 1
            node = self.disjunction()
            self.take(")", "op", texts=(")",))
            return node
        path = _selector_path(self.take("a selector such as $.field, or (", "selector").text, self.pattern)
        if self.peek("IS"):
            self.index += 1
            word = self.take("TRUE, FALSE or NULL after IS", "word", texts=("TRUE", "FALSE", "NULL")).text
            return _Comparison(path, "IS_" + word)
        if self.peek("NOT"):
            self.index += 1
            self.take("EXISTS after NOT", "word", texts=("EXISTS",))
            return _Comparison(path, "NOT_EXISTS")
        op = self.take("an operator (= != < > <= >=), IS or NOT EXISTS", "op", texts=tuple(_COMPARE)).text
        if self.index < len(self.tokens) and self.tokens[self.index].kind == "regex":
            raise NotImplementedError("regular-expression values (%...%) are not supported")
        token = self.take(f"a value after {op}", "string", "word")
        if token.kind == "word" and _NUMBER.match(token.text):
            return _Comparison(path, op, Decimal(token.text))
        if op not in ("=", "!="):
            self.index -= 1
            raise self.fail(f"a number after {op}")
        text = _read_quoted(token.text, 0)[0] if token.kind == "string" else token.text
        return _Comparison(path, op, text)


def _selector_path(selector: str, pattern: str) -> tuple[str | int, ...]:
    # Docs: selectors start with $; array elements use [NUMBER] "and must follow a property".
    steps = re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", selector)
    if not steps or not selector.startswith("$."):
        raise ValueError(f"selector {selector!r} must name a property, like $.field, in filter pattern {pattern!r}")
    return tuple(name if name else int(index) for name, index in steps)


def _parse_json_pattern(pattern: str) -> _Node:
    if not pattern.endswith("}"):
        raise ValueError(f"JSON filter pattern must end with }}: {pattern!r}")
    tokens = _tokenize(pattern[1:-1], pattern)
    if not tokens:
        raise ValueError(f"empty JSON filter pattern {pattern!r}")
    return _Parser(tokens, pattern).parse()
