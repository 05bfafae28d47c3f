"""django-q2 entry points: thin, take ids, call a service, safe to run twice."""

from tickets.models import Team
from tickets.services import autoclose, csat, escalation, routing, rules


def distribute_team(team_id: int) -> int:
    team = Team.objects.filter(pk=team_id).first()
    return len(routing.distribute(team=team)) if team else 0


def distribute_all() -> int:
    return sum(len(assigned) for assigned in routing.distribute_all().values())


def overflow_queues() -> int:
    return len(routing.overflow())


def sla_scan() -> dict[str, int]:
    return escalation.scan()


def send_csat_survey(survey_id: int) -> str:
    return csat.send_survey(survey_id=survey_id)


def send_due_csat_surveys() -> int:
    return csat.send_due()


def auto_close() -> int:
    return autoclose.close_unanswered()


def rules_sweep() -> int:
    return rules.sweep()
