"""SMS through Amazon SNS (Publish to a phone number, transactional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from delivery.aws import MAX_CALL_SECONDS, LazyClient
from delivery.config import EnvReader
from delivery.contract import Notification, ProviderContext
from providers.aws_errors import classify

PERMANENT = frozenset({"InvalidParameter", "InvalidParameterValue"})  # e.g. not a valid E.164 number
RATE_LIMITED = frozenset({"Throttled", "ThrottledException", "Throttling", "ThrottlingException", "KMSThrottling"})


@dataclass(frozen=True, slots=True)
class SnsConfig:
    sender_id: str | None = None
    origination_number: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: EnvReader) -> SnsConfig:
        return cls(
            sender_id=env.text("HERALD_SNS_SENDER_ID"),
            origination_number=env.text("HERALD_SNS_ORIGINATION_NUMBER"),
            region=env.text("HERALD_SNS_REGION"),
        )


class SnsSmsProvider:
    name = "sns"
    channels = frozenset({"sms"})
    max_call_seconds = MAX_CALL_SECONDS

    def __init__(self, config: SnsConfig, client: LazyClient | None = None) -> None:
        self.config = config
        self.client = client or LazyClient("sns", region_name=config.region)
        self.attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        if config.sender_id:
            self.attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": config.sender_id}
        if config.origination_number:
            self.attributes["AWS.MM.SMS.OriginationNumber"] = {
                "DataType": "String",
                "StringValue": config.origination_number,
            }

    def send(self, notification: Notification) -> str:
        try:
            response = self.client.get().publish(
                PhoneNumber=notification.to, Message=notification.body, MessageAttributes=self.attributes
            )
        except Exception as error:  # noqa: BLE001 - every failure is classified into the contract
            raise classify(error, "SNS", notification.to, PERMANENT, RATE_LIMITED) from None
        return str(response["MessageId"])


def create(context: ProviderContext) -> SnsSmsProvider:
    return SnsSmsProvider(SnsConfig.from_env(context.env))
