"""Provider names -> modules, each with ``create(context: ProviderContext) -> Provider``.

Adding a provider is a module plus one line here; no core change.

Modules are imported only when their provider is enabled, so an unused provider's
dependencies never cost cold-start time.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from delivery.contract import Provider, ProviderContext

MODULES: dict[str, str] = {
    "http_sms": "providers.http_sms",
    "local": "providers.local",
    "ses": "providers.ses",
    "sns": "providers.sns",
    "webhook": "providers.webhook",
}


def create_providers(names: Iterable[str], context: ProviderContext) -> dict[str, Provider]:
    """Instantiate the named (known) providers; their configuration problems land in ``context.env``."""
    return {name: importlib.import_module(MODULES[name]).create(context) for name in names}
