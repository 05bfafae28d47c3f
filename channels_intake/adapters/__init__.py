"""Channel adapters: each turns a stored ``InboundEvent`` into normalised ``InboundMessage``s and
``DeliveryReceipt``s. Every module here declares ``PARSERS = {source: parse}``; they are collected below,
so adding a channel is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from tickets.errors import IntakeError

PARSERS: dict[str, Callable] = {}
for _module in pkgutil.iter_modules(__path__):
    PARSERS.update(getattr(importlib.import_module(f"{__name__}.{_module.name}"), "PARSERS", {}))


class PayloadError(IntakeError):
    """The provider's payload cannot be read (not JSON, a field missing…): the webhook answers 400."""


def parser_for(source: str) -> Callable:
    try:
        return PARSERS[source]
    except KeyError:
        raise IntakeError(f"no adapter reads events from source {source!r}") from None
