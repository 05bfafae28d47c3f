"""The help desk's domain models, one module per aggregate (ARCHITECTURE.md)."""

from .audit import AuditEntry
from .conversations import Attachment, Case, Interaction, Message
from .csat import CsatFollowUp, CsatSurvey, Verification, VerificationKeyword
from .customers import Customer, CustomerConflict, CustomerIdentity, Reference, ReferenceKind
from .kb import Article
from .rules import PriorityMatrixCell, Rule, RuleFiring
from .sla import EscalationFiring, EscalationRule
from .teams import Agent, BusinessCalendar, RoutingRule, Team
from .tickets import Acknowledgement, CannedResponse, Category, Note, SlaPolicy, Tag, Ticket, TicketEvent

__all__ = [
    "Acknowledgement",
    "Agent",
    "Article",
    "Attachment",
    "AuditEntry",
    "BusinessCalendar",
    "CannedResponse",
    "Case",
    "Category",
    "CsatFollowUp",
    "CsatSurvey",
    "Customer",
    "CustomerConflict",
    "CustomerIdentity",
    "EscalationFiring",
    "EscalationRule",
    "Interaction",
    "Message",
    "Note",
    "PriorityMatrixCell",
    "Reference",
    "ReferenceKind",
    "RoutingRule",
    "Rule",
    "RuleFiring",
    "SlaPolicy",
    "Tag",
    "Team",
    "Ticket",
    "TicketEvent",
    "Verification",
    "VerificationKeyword",
]
