from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SendResult:
    provider_message_id: str = ""


class PermanentFailure(Exception):
    """The provider refused the message for good (bad address, policy): mark it failed with the reason."""


class TemporaryFailure(Exception):
    """Worth trying again later (network error, 5xx, rate limit)."""
