"""The one structured JSON logger (Powertools Logger) every Herald module writes to."""

from aws_lambda_powertools import Logger

logger = Logger(service="herald")
