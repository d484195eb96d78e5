"""`herald`: the operator CLI. Send a notification, see the queues, inspect and redrive dead letters.

The commands are thin: flags in, a call into :mod:`herald.ops`, output out. Failures map to the
exit codes documented in ``herald --help``: :class:`~herald.ops.errors.HeraldError` carries its
own, AWS errors are 1, click's usage errors are 2.
"""

from __future__ import annotations

import functools
import importlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import click
from click.core import ParameterSource

from herald.ops.deadletters import REASONS
from herald.ops.errors import HeraldError, UsageProblem
from herald.ops.render import Output

if TYPE_CHECKING:
    from herald.ops.aws import Target
    from herald.ops.deadletters import DeadLetter, Filters, Group

CHANNELS = ("email", "sms", "webhook")
DEFAULT_RATE = 10.0

MAIN_HELP = """Herald's operator CLI: send a notification, see the queues, inspect and
redrive dead letters.

\b
Which queues (every command that talks to AWS takes these options):
  --stack NAME     the stack's NotificationQueueUrl and DeadLetterQueueUrl
                   outputs (env HERALD_STACK)
  --queue-url URL  the notification queue (env HERALD_QUEUE_URL)
  --dlq-url URL    the dead-letter queue (env HERALD_DLQ_URL)

Flags on the command line win over --stack, which wins over the environment.
Given only one of the two queues, Herald finds the other from the queue's
redrive policy.

AWS: --profile and --region as in the AWS CLI (AWS_PROFILE, AWS_REGION and
SSO work too); --endpoint-url or AWS_ENDPOINT_URL for a local endpoint, such
as the one `herald local` starts.

\b
Examples:
  herald status --stack herald-prod --profile ops
  herald send --stack herald-prod --id order-1 --channel webhook \\
      --to https://example.com/hooks --body "Shipped"
  herald dlq list --stack herald-prod --reason exhausted --since 2h
  herald dlq redrive --stack herald-prod --provider webhook --dry-run

\b
Exit codes:
  0  success
  1  operational failure: an AWS error, a dead letter not found, a redrive
     that left some of its dead letters unmoved
  2  usage or validation error: bad flags, a message that breaks the contract
     (nothing is sent), no queue given, a stack or output that does not exist
"""


class Failure(click.ClickException):
    """An operational failure, printed as ``Error: ...``: exit 1."""

    exit_code = 1


class BadInput(Failure):
    """A usage or validation error, printed as ``Error: ...`` (no usage text): exit 2."""

    exit_code = 2


class HeraldGroup(click.Group):
    """The top-level group: maps Herald's and AWS's errors to exit codes, loads `herald local` on demand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HeraldError as error:
            raise (BadInput if error.exit_code == 2 else Failure)(str(error)) from None
        except Exception as error:
            from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

            from herald.ops.aws import describe_aws_error

            if isinstance(error, NoCredentialsError):
                raise Failure(f"{error}: use --profile, or configure AWS credentials") from None
            if isinstance(error, BotoCoreError | ClientError):
                raise Failure(describe_aws_error(error)) from None
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "local"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "local" and "local" not in self.commands:
            # The local emulator (moto and all) is imported only when `herald local` is used or listed.
            local: click.Command = importlib.import_module("herald.local.cli").local
            self.add_command(local)
        return super().get_command(ctx, cmd_name)


@click.group(cls=HeraldGroup, help=MAIN_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="herald", prog_name="herald")
def main() -> None:
    pass


# --- shared options -------------------------------------------------------------------------------

_TARGET_OPTIONS = [
    click.option(
        "--stack", metavar="NAME", envvar="HERALD_STACK", show_envvar=True, help="Queues from this stack's outputs."
    ),
    click.option(
        "--queue-url", metavar="URL", envvar="HERALD_QUEUE_URL", show_envvar=True, help="The notification queue."
    ),
    click.option("--dlq-url", metavar="URL", envvar="HERALD_DLQ_URL", show_envvar=True, help="The dead-letter queue."),
    click.option("--profile", metavar="NAME", help="AWS profile."),
    click.option("--region", metavar="REGION", help="AWS region."),
    click.option(
        "--endpoint-url", metavar="URL", envvar="AWS_ENDPOINT_URL", show_envvar=True, help="A local AWS endpoint."
    ),
]
_TARGET_PARAMS = ("stack", "queue_url", "dlq_url", "profile", "region", "endpoint_url")


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the target flags and hand the command a ``target`` (a lazily resolved :class:`Target`)."""

    @functools.wraps(command)
    def with_target(**kwargs: Any) -> Any:
        from herald.ops.aws import Aws, Target

        ctx = click.get_current_context()
        given = {name: kwargs.pop(name) for name in _TARGET_PARAMS}
        stack = given["stack"]

        def url(name: str) -> str | None:
            # The command line beats --stack; the environment only counts without a stack.
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE or not stack:
                value: str | None = given[name]
                return value
            return None

        aws = Aws(given["profile"], given["region"], given["endpoint_url"])
        return command(target=Target(aws, stack, url("queue_url"), url("dlq_url")), **kwargs)

    for option in reversed(_TARGET_OPTIONS):
        with_target = option(with_target)
    return with_target


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")


class SinceType(click.ParamType[datetime, Any]):
    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        from herald.ops.deadletters import parse_since

        try:
            return parse_since(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--reason",
            "reasons",
            multiple=True,
            type=click.Choice(REASONS),
            help="Only this reason (repeatable). safety-net: moved by the queue's redrive policy, no attributes.",
        ),
        click.option("--provider", "providers", multiple=True, metavar="NAME", help="Only this provider (repeatable)."),
        click.option(
            "--channel", "channels", multiple=True, type=click.Choice(CHANNELS), help="Only this channel (repeatable)."
        ),
        click.option(
            "--since",
            type=SinceType(),
            help="Only those dead-lettered since: 30m, 2h, 3d, 1w ago, or an ISO time (UTC unless given).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_filters(
    reasons: Sequence[str],
    providers: Sequence[str],
    channels: Sequence[str],
    since: datetime | None,
    ids: Sequence[str] = (),
) -> Filters:
    from herald.ops.deadletters import Filters

    return Filters(frozenset(reasons), frozenset(providers), frozenset(channels), since, frozenset(ids))


def notes(output: Output, target: Target) -> None:
    for note in target.notes:
        output.note(f"using {note}")


# --- herald send ----------------------------------------------------------------------------------

SEND_HELP = """Send one notification to the queue, validated against the message contract first.

Give the message with flags, or whole as JSON with --file PATH (--file - reads stdin). It is
checked with Herald's own validator (schema v1) before anything is sent; on a bad message the
reason is printed, nothing is sent, and the exit code is 2. Whether a pinned --provider is
enabled is only known to the deployed function.

Prints the SQS message id on stdout (details on stderr). On a FIFO queue (.fifo) --group-id is
required and the notification id is the deduplication id.

\b
Examples:
  herald send --stack herald-prod --channel email --to jane@example.com \\
      --subject "Your order" --body "It has shipped" --id order-1234-shipped
  herald send --stack herald-prod --channel webhook \\
      --to https://example.com/hooks/orders --body "Shipped" \\
      --metadata '{"order": 1234}' --critical
  herald send --stack herald-prod --file notification.json
  produce-notification | herald send --queue-url "$URL" --file -
  herald send --dry-run --file notification.json    # validate only
"""

_MESSAGE_FLAGS = ("notification_id", "channel", "to", "body", "subject", "html", "provider", "metadata")


@main.command(help=SEND_HELP, short_help="Send one notification (validated first).")
@click.option("--id", "notification_id", metavar="ID", help="The notification id (default: cli-<random uuid>).")
@click.option("--channel", metavar="CHANNEL", help="email, sms or webhook.")
@click.option("--to", metavar="RECIPIENT", help="An email address, an E.164 number or a webhook URL.")
@click.option("--body", metavar="TEXT", help="The text to send.")
@click.option("--subject", metavar="TEXT", help="The subject line (required for email).")
@click.option("--html", metavar="HTML", help="An HTML alternative to the body (email only).")
@click.option("--critical", is_flag=True, help="Business-critical (kept for the scheduled redrive).")
@click.option("--provider", metavar="NAME", help="Pin this provider instead of the channel's default.")
@click.option("--metadata", metavar="JSON", help="A JSON object passed to the provider.")
@click.option(
    "--file",
    "-f",
    "message_file",
    type=click.File("r", encoding="utf-8"),
    metavar="PATH",
    help="The whole message as JSON, from PATH or - (stdin).",
)
@click.option("--group-id", metavar="GROUP", help="The message group (FIFO queues).")
@click.option("--dry-run", is_flag=True, help="Validate and print the message; send nothing.")
@json_option
@target_options
def send(
    target: Target,
    message_file: TextIO | None,
    group_id: str | None,
    dry_run: bool,
    as_json: bool,
    critical: bool,
    **flags: str | None,
) -> None:
    from delivery.masking import mask_recipient
    from delivery.validation import InvalidMessage, parse_notification

    output = Output(as_json)
    text = _message_text(message_file, critical, flags)
    try:
        notification = parse_notification(text)
    except InvalidMessage as invalid:
        raise UsageProblem(f"invalid message, nothing sent: {invalid}") from None

    if dry_run:
        output.line(text)
        output.note(f"valid: notification {notification.id}; nothing sent (--dry-run)")
        return
    queue_url = target.queue_url
    request: dict[str, str] = {"QueueUrl": queue_url, "MessageBody": text}
    if queue_url.endswith(".fifo"):
        if not group_id:
            raise UsageProblem(f"{queue_url} is a FIFO queue: give --group-id (the message group)")
        request["MessageDeduplicationId"] = notification.id
    if group_id:
        request["MessageGroupId"] = group_id
    message_id = target.sqs.send_message(**request)["MessageId"]  # type: ignore[arg-type]

    notes(output, target)
    if as_json:
        output.data({"message_id": message_id, "notification_id": notification.id, "queue_url": queue_url})
        return
    output.line(message_id)
    output.note(
        f"sent notification {notification.id} ({notification.channel} to {mask_recipient(notification.to)}) "
        f"to {queue_url}"
    )


def _message_text(message_file: TextIO | None, critical: bool, flags: dict[str, str | None]) -> str:
    given = [name for name in _MESSAGE_FLAGS if flags.get(name) is not None] + (["critical"] if critical else [])
    if message_file is not None:
        if given:
            shown = ", ".join("--" + ("id" if name == "notification_id" else name) for name in given)
            raise UsageProblem(f"give the message either with --file or with flags, not both ({shown})")
        return message_file.read()
    if not given:
        raise UsageProblem("no message: give --channel, --to, --body (and --subject for email), or --file PATH")
    message: dict[str, Any] = {"id": flags.get("notification_id") or f"cli-{uuid.uuid4()}"}
    for name in ("channel", "to", "body", "subject", "html", "provider"):
        if flags.get(name) is not None:
            message[name] = flags[name]
    if critical:
        message["critical"] = True
    if flags.get("metadata") is not None:
        try:
            message["metadata"] = json.loads(flags["metadata"] or "")
        except ValueError as error:
            raise UsageProblem(f"invalid message, nothing sent: --metadata is not JSON: {error}") from None
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


# --- herald status --------------------------------------------------------------------------------

STATUS_HELP = """Queue depths of the notification queue and its dead-letter queue, and the oldest dead letter.

\b
For each queue (SQS's approximate counts):
  visible    waiting to be received
  in flight  received and not yet deleted; on the notification queue,
             this includes messages waiting out a retry delay (Herald
             delays a retry by setting the message's visibility)
  delayed    sent with a delay that has not passed yet

The age of the oldest dead letter is how long it has been on the dead-letter queue (SQS deletes
it once that reaches the queue's retention period). SQS has no peek, so finding it means reading
the dead letters: each is received with a 30 s visibility timeout and made visible again as soon
as the read ends, nothing is deleted, and if the read is cut short every dead letter reappears by
itself within 30 s. The notification queue is never read (a receive there would count as a
delivery attempt). --no-peek skips the read. Each read counts as a receive, and SQS leaves a
message out of its ApproximateAgeOfOldestMessage metric (DeadLetterAgeAlarm) once it has been
received three times: on a dead-letter queue you watch by alarm, prefer --no-peek.

\b
Examples:
  herald status --stack herald-prod
  herald status --queue-url "$URL" --json | jq .dead_letter_queue.visible
"""


@main.command(help=STATUS_HELP, short_help="Queue depths, in flight, delayed; the oldest dead letter.")
@click.option("--no-peek", is_flag=True, help="Do not read the dead letters (no oldest dead letter).")
@json_option
@target_options
def status(target: Target, no_peek: bool, as_json: bool) -> None:
    """Counts from GetQueueAttributes; the oldest dead letter from a read that hides nothing for long and
    deletes nothing (:class:`herald.ops.deadletters.Sweep` explains how)."""
    from herald.ops.deadletters import age, iso, queue_counts, read_all

    output = Output(as_json)
    queue_url, dlq_url = target.queue_url, target.dlq_url
    notes(output, target)
    source = queue_counts(target.sqs, queue_url)
    dead = queue_counts(target.sqs, dlq_url)

    oldest: dict[str, Any] | None = None
    warnings: list[str] = []
    if dead.visible and not no_peek:
        scan = read_all(target.sqs, dlq_url)
        warnings = scan.warnings()
        dated = [letter for letter in scan.letters if letter.sent_at is not None]
        if dated:
            first = min(dated, key=lambda letter: letter.sent_at or datetime.max.replace(tzinfo=UTC))
            assert first.sent_at is not None
            seconds = (datetime.now(UTC) - first.sent_at).total_seconds()
            oldest = {
                "message_id": first.message_id,
                "notification_id": first.notification_id,
                "reason": first.reason,
                "dead_lettered_at": iso(first.sent_at),
                "age_seconds": int(seconds),
                "expires_in_seconds": int(dead.retention_seconds - seconds) if dead.retention_seconds else None,
            }

    for warning in warnings:
        output.warn(warning)
    if as_json:

        def counts(url: str, numbers: Any) -> dict[str, Any]:
            return {"url": url, "visible": numbers.visible, "in_flight": numbers.in_flight, "delayed": numbers.delayed}

        output.data(
            {
                "queue": counts(queue_url, source),
                "dead_letter_queue": {**counts(dlq_url, dead), "oldest": oldest},
            }
        )
        return
    if oldest is not None:
        expires = oldest["expires_in_seconds"]
        oldest_text = f"{age(oldest['age_seconds'])}" + (f" (expires in {age(expires)})" if expires else "")
    elif dead.visible and no_peek:
        oldest_text = "not read (--no-peek)"
    else:
        oldest_text = "-"
    output.table(
        ["queue", "visible", "in flight", "delayed", "oldest", "url"],
        [
            ["notifications", str(source.visible), str(source.in_flight), str(source.delayed), "", queue_url],
            ["dead letters", str(dead.visible), str(dead.in_flight), str(dead.delayed), oldest_text, dlq_url],
        ],
        right=("visible", "in flight", "delayed"),
    )


# --- herald dlq -----------------------------------------------------------------------------------

DLQ_HELP = """Inspect and redrive dead letters.

Reading never loses a dead letter: each is received with a short (30 s, kept alive while
reading) visibility timeout and made visible again when the read ends; only `redrive` deletes,
and only a dead letter it has just sent to the queue. Recipients are masked.
"""


@main.group(help=DLQ_HELP, short_help="Inspect and redrive dead letters.")
def dlq() -> None:
    pass


def _group_rows(groups: Sequence[Group]) -> list[list[str]]:
    from herald.ops.deadletters import short_time

    return [
        [
            g.reason,
            g.provider or "-",
            g.recipient or "-",
            str(g.count),
            str(g.critical),
            short_time(g.first_seen),
            short_time(g.last_seen),
            _clip(g.last_error or "-"),
        ]
        for g in groups
    ]


_GROUP_COLUMNS = ["reason", "provider", "recipient", "count", "critical", "first seen", "last seen", "last error"]


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


LIST_HELP = """Dead letters grouped by provider, masked recipient and reason.

Each group shows how many dead letters it holds, how many are critical, when the first and the
last of them were dead-lettered, and the latest error. --json prints a list of objects (one per
group, with every notification id) for scripts.

\b
Examples:
  herald dlq list --stack herald-prod
  herald dlq list --stack herald-prod --reason exhausted --since 2h
  herald dlq list --stack herald-prod --reason permanent --reason invalid
  herald dlq list --stack herald-prod --channel sms --since 2026-11-23
  herald dlq list --stack herald-prod --json | jq 'map(select(.critical > 0))'
"""


@dlq.command("list", help=LIST_HELP, short_help="Dead letters grouped by provider, recipient, reason.")
@filter_options
@json_option
@target_options
def dlq_list(
    target: Target,
    reasons: tuple[str, ...],
    providers: tuple[str, ...],
    channels: tuple[str, ...],
    since: datetime | None,
    as_json: bool,
) -> None:
    from herald.ops.deadletters import group, read_all

    output = Output(as_json)
    filters = make_filters(reasons, providers, channels, since)
    dlq_url = target.dlq_url
    notes(output, target)
    scan = read_all(target.sqs, dlq_url)
    letters = [letter for letter in scan.letters if filters.matches(letter)]
    groups = group(letters)
    for warning in scan.warnings():
        output.warn(warning)
    if as_json:
        output.data([g.to_json() for g in groups])
        return
    matched = f"{len(letters)} of {len(scan.letters)}" if not filters.empty else f"{len(letters)}"
    title = f"{matched} dead letters in {len(groups)} groups on {dlq_url}"
    if not groups:
        output.line(title)
        return
    output.table(_GROUP_COLUMNS, _group_rows(groups), title=title, right=("count", "critical"))


SHOW_HELP = """One dead letter: every attribute and the body.

ID is the notification id, the dead letter's SQS message id, or the message id it had on the
notification queue. A notification dead-lettered more than once shows each dead letter. The
recipient is masked, in the body too, unless --reveal. --json prints a list of objects.

\b
Examples:
  herald dlq show --stack herald-prod order-1234-shipped
  herald dlq show --stack herald-prod 5fbd3c52-0a8e-4b6c-9d64-0f6f1c2b9f11
  herald dlq show --stack herald-prod --reveal --json order-1234-shipped
"""


@dlq.command("show", help=SHOW_HELP, short_help="One dead letter with its attributes and body.")
@click.argument("ident", metavar="ID")
@click.option("--reveal", is_flag=True, help="Show the recipient unmasked.")
@json_option
@target_options
def dlq_show(target: Target, ident: str, reveal: bool, as_json: bool) -> None:
    from herald.ops.deadletters import find, read_all

    output = Output(as_json)
    dlq_url = target.dlq_url
    notes(output, target)
    scan = read_all(target.sqs, dlq_url)
    found = find(scan.letters, ident)
    if not found:
        for warning in scan.warnings():
            output.warn(warning)
        raise HeraldError(f"no dead letter {ident!r} among the {len(scan.letters)} read from {dlq_url}")
    if as_json:
        output.data([letter.to_json(reveal) for letter in found])
        return
    for number, letter in enumerate(found):
        if number:
            output.line()
        output.pairs(_letter_rows(letter, reveal), title=f"dead letter {letter.message_id}")


def _letter_rows(letter: DeadLetter, reveal: bool) -> list[tuple[str, str]]:
    from herald.ops.deadletters import short_time

    recipient = letter.recipient if reveal else letter.masked_recipient
    rows = [
        ("notification id", letter.notification_id or "-"),
        ("reason", letter.reason),
        ("last error", letter.last_error or "-"),
        ("attempts", str(letter.attempts) if letter.attempts is not None else "-"),
        ("provider", letter.provider or "-"),
        ("channel", letter.channel or "-"),
        ("recipient", recipient or "-"),
        ("critical", "yes" if letter.critical else "no"),
        ("first seen", short_time(letter.first_seen)),
        ("last attempt", short_time(letter.last_attempt)),
        ("dead-lettered", short_time(letter.sent_at)),
        ("source message id", letter.source_message_id or "-"),
    ]
    if letter.group_id:
        rows.append(("message group", letter.group_id))
    return [*rows, ("body", letter.shown_body(reveal))]


REDRIVE_HELP = """Send dead letters back to the notification queue: all (--all) or those the filters match.

Each dead letter is received, its body sent to the queue as a new message (so its attempt count
starts again at 1), and deleted from the dead-letter queue only after that send succeeded: a
crash midway leaves at worst a copy on both queues, never none. A dead letter whose send fails
stays on the dead-letter queue and counts as failed; the redrive carries on and exits 1. On a
FIFO queue each keeps its message group. Sends are paced to --rate per second. Invalid messages
come straight back unless what made them invalid (e.g. a provider not enabled) was fixed.

Prints a summary: moved, skipped (read but not matched), failed.

\b
Examples:
  herald dlq redrive --stack herald-prod --reason exhausted --dry-run
  herald dlq redrive --stack herald-prod --reason exhausted --since 6h
  herald dlq redrive --stack herald-prod --provider webhook --channel webhook
  herald dlq redrive --stack herald-prod --id order-1234-shipped
  herald dlq redrive --stack herald-prod --all --rate 50 --json
"""


@dlq.command("redrive", help=REDRIVE_HELP, short_help="Re-send dead letters to the queue, never losing one.")
@filter_options
@click.option("--id", "ids", multiple=True, metavar="ID", help="Only this notification or message id (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Redrive every dead letter (required without filters).")
@click.option("--dry-run", is_flag=True, help="Show what would be moved; move nothing.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1, max=3000),
    default=DEFAULT_RATE,
    metavar="N",
    help="At most N sends a second (default 10).",
)
@json_option
@target_options
def dlq_redrive(
    target: Target,
    reasons: tuple[str, ...],
    providers: tuple[str, ...],
    channels: tuple[str, ...],
    since: datetime | None,
    ids: tuple[str, ...],
    everything: bool,
    dry_run: bool,
    rate: float,
    as_json: bool,
) -> None:
    from herald.ops.deadletters import group
    from herald.ops.redrive import Redrive, RedriveReport

    output = Output(as_json)
    filters = make_filters(reasons, providers, channels, since, ids)
    if filters.empty and not everything:
        raise UsageProblem("say which dead letters: give --all, or filters (--reason, --provider, --id, ...)")
    if everything and not filters.empty:
        raise UsageProblem("--all redrives every dead letter: give either --all or filters, not both")
    dlq_url, queue_url = target.dlq_url, target.queue_url
    notes(output, target)
    verb = "would redrive" if dry_run else "redriving"
    output.note(f"{verb} dead letters from {dlq_url} to {queue_url}" + ("" if dry_run else f" at {rate:g}/s"))

    report = RedriveReport(dry_run=dry_run)
    with output.status("redriving…") as live:

        def progress(event: str, letter: DeadLetter, error: str | None) -> None:
            if error is not None:
                output.warn(f"{letter.notification_id or letter.message_id}: {error}")
            if live is not None:
                live.update(f"redriving… moved {len(report.moved)}, failed {len(report.failed)}")

        Redrive(target.sqs, dlq_url, queue_url, filters, rate, dry_run, progress).run(report)

    for warning in report.warnings():
        output.warn(warning)
    if as_json:
        output.data(
            {
                "dry_run": dry_run,
                "read": report.read,
                "moved": len(report.moved),
                "would_move": len(report.would_move),
                "skipped": report.skipped,
                "came_back": report.came_back,
                "failed": len(report.failed),
                "moved_ids": [letter.notification_id or letter.message_id for letter in report.moved],
                "would_move_ids": [letter.notification_id or letter.message_id for letter in report.would_move],
                "failures": [
                    {"message_id": letter.message_id, "notification_id": letter.notification_id, "error": error}
                    for letter, error in report.failed
                ],
                "interrupted": report.interrupted,
            }
        )
    else:
        if dry_run and report.would_move:
            output.table(
                _GROUP_COLUMNS,
                _group_rows(group(report.would_move)),
                title="would move (nothing was moved: --dry-run)",
                right=("count", "critical"),
            )
        rows = [["would move", str(len(report.would_move))]] if dry_run else [["moved", str(len(report.moved))]]
        rows += [["skipped", str(report.skipped)], ["failed", str(len(report.failed))]]
        output.table(["redrive", "dead letters"], rows, right=("dead letters",))
    if not report.ok:
        raise click.exceptions.Exit(1)
