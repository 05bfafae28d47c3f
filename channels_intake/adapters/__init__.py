"""Channel adapters: each turns a stored ``InboundEvent`` into normalised ``InboundMessage``s."""

from __future__ import annotations

from collections.abc import Callable

from channels_intake.adapters import cli

PARSERS: dict[str, Callable] = {
    cli.SOURCE: cli.parse,
}


def parser_for(source: str) -> Callable:
    try:
        return PARSERS[source]
    except KeyError:
        from tickets.errors import IntakeError

        raise IntakeError(f"no adapter reads events from source {source!r}") from None
