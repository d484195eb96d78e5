"""Email through Amazon SES (``sesv2`` SendEmail, simple content: subject, text and optional HTML)."""

from __future__ import annotations

from dataclasses import dataclass

from delivery.aws import MAX_CALL_SECONDS, LazyClient
from delivery.config import EnvReader
from delivery.contract import Notification, ProviderContext
from providers.aws_errors import classify

# MessageRejected covers unverified senders/recipients (sandbox) and content SES will never send.
PERMANENT = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "MailFromDomainNotVerified",
        "InvalidParameterValue",
        "BadRequestException",
    }
)
# Throttling and the sending-rate limit; AccountSuspended / SendingPaused stay transient: an operator
# can fix them within the retry window (seed 003).
RATE_LIMITED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"})


@dataclass(frozen=True, slots=True)
class SesConfig:
    from_address: str
    configuration_set: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: EnvReader) -> SesConfig:
        return cls(
            from_address=env.required("HERALD_SES_FROM_ADDRESS", "the verified sender, e.g. no-reply@example.com"),
            configuration_set=env.text("HERALD_SES_CONFIGURATION_SET"),
            region=env.text("HERALD_SES_REGION"),
        )


class SesEmailProvider:
    name = "ses"
    channels = frozenset({"email"})
    max_call_seconds = MAX_CALL_SECONDS

    def __init__(self, config: SesConfig, client: LazyClient | None = None) -> None:
        self.config = config
        self.client = client or LazyClient("sesv2", region_name=config.region)

    def send(self, notification: Notification) -> str:
        body: dict[str, dict[str, str]] = {"Text": {"Data": notification.body, "Charset": "UTF-8"}}
        if notification.html:
            body["Html"] = {"Data": notification.html, "Charset": "UTF-8"}
        request = {
            "FromEmailAddress": self.config.from_address,
            "Destination": {"ToAddresses": [notification.to]},
            "Content": {"Simple": {"Subject": {"Data": notification.subject or "", "Charset": "UTF-8"}, "Body": body}},
        }
        if self.config.configuration_set:
            request["ConfigurationSetName"] = self.config.configuration_set
        try:
            response = self.client.get().send_email(**request)
        except Exception as error:  # noqa: BLE001 - every failure is classified into the contract
            raise classify(error, "SES", notification.to, PERMANENT, RATE_LIMITED) from None
        return str(response["MessageId"])


def create(context: ProviderContext) -> SesEmailProvider:
    return SesEmailProvider(SesConfig.from_env(context.env))
