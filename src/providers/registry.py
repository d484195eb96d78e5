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
    """Instantiate the named providers with their configuration; unknown names are config problems."""
    providers: dict[str, Provider] = {}
    for name in names:
        module_name = MODULES.get(name)
        if module_name is None:
            context.env.problems.append(f"unknown provider {name!r}: choose from {', '.join(sorted(MODULES))}")
            continue
        providers[name] = importlib.import_module(module_name).create(context)
    return providers
