"""The security suite's world: one team's ticket with everything that hangs off it, and users of every role
who must not reach it (another front-office team, a back-office team, a supervisor of other teams)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile

from tests.factories import AgentFactory, CustomerFactory, TeamFactory, TicketFactory, UserFactory
from tickets.lifecycle import Status
from tickets.models import Agent, Attachment, Message, Note, Team, Ticket

# Words that occur only in the victim ticket's data: no page shown to someone without access may carry one.
SECRETS = ("Zyxcustomer", "zyx-subject-marker", "zyx-note-marker", "zyx-body-marker", "zyx-file-marker")


@dataclass
class World:
    team: Team  # the victim team
    owner: Agent
    ticket: Ticket
    message: Message
    attachments: list[Attachment]
    note: Note
    case_pk: int
    users: dict  # role → User or None (anonymous)

    def state(self) -> tuple:
        """Everything a refused request must leave as it was."""
        t = Ticket.objects.get(pk=self.ticket.pk)
        owner = Agent.objects.get(pk=self.owner.pk)
        return (
            t.status,
            t.version,
            t.assignee_id,
            t.team_id,
            t.priority,
            t.category_id,
            sorted(t.tags.values_list("pk", flat=True)),
            Note.objects.filter(ticket=t).count(),
            Message.objects.filter(interaction__case__ticket=t).count(),
            t.cases.count(),
            Ticket.objects.count(),
            owner.presence,
            owner.max_active_assignments,
        )


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    victim_team = Team.objects.get(slug="front-office")
    other_front = TeamFactory(name="Billing", slug="billing", kind=Team.Kind.FRONT)
    other_back = TeamFactory(name="Technical back office", slug="technical", kind=Team.Kind.BACK)
    owner = AgentFactory(user__username="victim-owner", teams=[victim_team])
    customer = CustomerFactory(unique_id="VICTIM1", name="Ada Zyxcustomer")
    ticket = TicketFactory(customer=customer, team=victim_team, subject="Router zyx-subject-marker")
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.OPEN, assignee=owner)
    ticket.refresh_from_db()
    message = Message.objects.get(interaction__case__ticket=ticket)
    Message.objects.filter(pk=message.pk).update(body="Help zyx-body-marker")
    attachments = []
    for name, content, kind in (
        ("invoice-zyx-file-marker.pdf", b"%PDF-1.4 secret", "application/pdf"),
        ("photo-zyx-file-marker.jpg", b"\xff\xd8\xff secret", "image/jpeg"),
    ):
        digest = hashlib.sha256(content).hexdigest()
        a = Attachment(message=message, filename=name, content_type=kind, size=len(content), sha256=digest)
        a.file.save(name, ContentFile(content), save=True)
        attachments.append(a)
    note = Note.objects.create(ticket=ticket, author=owner, body="Internal zyx-note-marker")

    def staff(username, role, teams):
        # Like the demo's agents: staff users (they may reach the admin's log-in) without model permissions.
        user = UserFactory(username=username, is_staff=True)
        return AgentFactory(user=user, role=role, teams=teams).user

    users = {
        "anonymous": None,
        "front_office_other_team": staff("fo-other", Agent.Role.FRONT_OFFICE, [other_front]),
        "back_office_other_team": staff("bo-other", Agent.Role.BACK_OFFICE, [other_back]),
        "supervisor_other_team": staff("sup-other", Agent.Role.SUPERVISOR, [other_front, other_back]),
        "admin": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    return World(
        team=victim_team,
        owner=owner,
        ticket=ticket,
        message=message,
        attachments=attachments,
        note=note,
        case_pk=ticket.cases.get().pk,
        users=users,
    )
