"""Domain errors: each names its cause in words an agent or operator can act on."""


class HelpdeskError(Exception):
    """Base of every refusal the domain makes; views turn these into a clear message."""


class InvalidTransition(HelpdeskError):
    """The ticket is not in a state the action may start from."""


class PermissionDenied(HelpdeskError):
    """The actor may not take this action on this ticket."""


class ConflictError(HelpdeskError):
    """Someone else changed the ticket since the actor looked at it."""


class ValidationFailed(HelpdeskError):
    """The action is missing something it needs (a reason, a resolution, a team…)."""


class IntakeError(HelpdeskError):
    """An inbound message cannot be accepted as it is (no sender, unknown channel…)."""
