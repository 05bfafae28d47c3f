"""The lifecycle table itself (``tickets.lifecycle``): pure, no database.

The expectation below is written out by hand from DOMAIN.md ("Ticket lifecycle"), independently of the
module, so a change to the table that nobody meant shows up here as a failing pair, not as a silently
different help desk. Every (action, status) pair, every (action, relation) pair, every target and every
button list is checked against it.
"""

from itertools import chain, combinations

import pytest

from tickets import lifecycle
from tickets.lifecycle import CUSTOMER, KEEP, OWNER, RELATIONS, SUPERVISOR, SYSTEM, TEAM, Status

NEW, ASSIGNED, OPEN, PENDING, RESOLVED, CLOSED = (
    "new",
    "assigned",
    "open",
    "pending",
    "resolved",
    "closed",
)
WORKING = {ASSIGNED, OPEN, PENDING}

# action: (sources, target, target when the ticket has no owner afterwards, who, needs)
SPEC = {
    "assign": ({NEW}, ASSIGNED, None, {SYSTEM, SUPERVISOR, TEAM}, ("agent",)),
    "open": ({ASSIGNED}, OPEN, None, {OWNER}, ()),
    "pend": ({OPEN}, PENDING, None, {OWNER, SUPERVISOR}, ("reason",)),
    "customer_reply": ({PENDING}, OPEN, None, {SYSTEM, CUSTOMER}, ()),
    "resolve": ({OPEN, PENDING}, RESOLVED, None, {OWNER, SUPERVISOR}, ("resolution",)),
    "close": (
        {OPEN, PENDING, RESOLVED},
        CLOSED,
        None,
        {OWNER, SUPERVISOR, SYSTEM, CUSTOMER},
        ("resolution",),
    ),
    "reopen": ({RESOLVED, CLOSED}, ASSIGNED, NEW, {OWNER, SUPERVISOR, SYSTEM, CUSTOMER}, ("reason",)),
    "escalate": ({NEW, *WORKING}, KEEP, NEW, {OWNER, SUPERVISOR, SYSTEM}, ("reason",)),
    "transfer": ({NEW, *WORKING}, NEW, None, {OWNER, SUPERVISOR, TEAM, SYSTEM}, ("team",)),
    "reassign": ({NEW, *WORKING}, ASSIGNED, None, {SUPERVISOR}, ("agent", "reason")),
    # Routing (issue 4): a team that returns an offline agent's tickets takes them back into its queue.
    "unassign": (WORKING, NEW, None, {SYSTEM}, ("reason",)),
    # The system merges for a triage rule that says so (tickets.services.rules).
    "merge": ({NEW, *WORKING, RESOLVED}, CLOSED, None, {OWNER, SUPERVISOR, TEAM, SYSTEM}, ("ticket",)),
    "mark_spam": ({NEW, *WORKING}, CLOSED, None, {OWNER, SUPERVISOR, TEAM, SYSTEM}, ()),
}
# The order the workspace shows the buttons in.
BUTTON_ORDER = [
    "assign",
    "open",
    "pend",
    "customer_reply",
    "resolve",
    "close",
    "reopen",
    "escalate",
    "transfer",
    "reassign",
    "unassign",
    "merge",
    "mark_spam",
]
STATUSES = [NEW, ASSIGNED, OPEN, PENDING, RESOLVED, CLOSED]
ALL_RELATION_SETS = [
    frozenset(c) for c in chain.from_iterable(combinations(sorted(RELATIONS), n) for n in range(6))
]

PAIRS = [(a, s) for a in SPEC for s in STATUSES]
ROLE_PAIRS = [(a, r) for a in SPEC for r in sorted(RELATIONS)]


def test_the_states_and_relations_are_the_documented_ones():
    assert list(Status.values) == STATUSES
    assert set(RELATIONS) == {OWNER, TEAM, SUPERVISOR, SYSTEM, CUSTOMER}
    assert set(lifecycle.ACTIVE_STATUSES) == {ASSIGNED, OPEN, PENDING}
    assert set(lifecycle.UNCLOSED_STATUSES) == {NEW, ASSIGNED, OPEN, PENDING, RESOLVED}
    assert set(lifecycle.QUEUED_STATUSES) == {NEW}


def test_the_table_has_exactly_the_documented_actions_in_button_order():
    assert list(lifecycle.ACTIONS) == BUTTON_ORDER
    assert set(lifecycle.TRANSITIONS) == set(SPEC)


@pytest.mark.parametrize(("action", "status"), PAIRS, ids=[f"{a}-from-{s}" for a, s in PAIRS])
def test_each_action_is_allowed_from_exactly_its_documented_statuses(action, status):
    assert lifecycle.allowed_from(action, status) is (status in SPEC[action][0])


@pytest.mark.parametrize(("action", "relation"), ROLE_PAIRS, ids=[f"{a}-by-{r}" for a, r in ROLE_PAIRS])
def test_each_action_is_allowed_for_exactly_its_documented_relations(action, relation):
    assert lifecycle.allowed_for(action, {relation}) is (relation in SPEC[action][3])
    assert lifecycle.allowed_for(action, frozenset({relation})) is (relation in SPEC[action][3])


@pytest.mark.parametrize("action", BUTTON_ORDER)
def test_nobody_without_a_relation_may_act(action):
    assert lifecycle.allowed_for(action, set()) is False
    assert lifecycle.allowed_for(action, frozenset()) is False


@pytest.mark.parametrize("action", BUTTON_ORDER)
def test_any_one_allowed_relation_among_others_is_enough(action):
    who = SPEC[action][3]
    for rels in ALL_RELATION_SETS:
        assert lifecycle.allowed_for(action, rels) is bool(rels & who), sorted(rels)


@pytest.mark.parametrize("action", BUTTON_ORDER)
def test_each_transition_record_matches_the_documentation(action):
    sources, target, target_unowned, who, needs = SPEC[action]
    t = lifecycle.transition(action)
    assert t.action == action
    assert t.sources == sources
    assert t.target == target
    assert t.target_unowned == target_unowned
    assert t.who == who
    assert t.needs == needs
    assert t.label  # every button has a label


@pytest.mark.parametrize(("action", "status"), PAIRS, ids=[f"{a}-from-{s}" for a, s in PAIRS])
@pytest.mark.parametrize("has_owner", [True, False], ids=["owned", "unowned"])
def test_target_status(action, status, has_owner):
    _, target, target_unowned, _, _ = SPEC[action]
    if not has_owner and target_unowned:
        target = target_unowned
    expected = status if target == KEEP else target
    assert lifecycle.target_status(action, status, has_owner=has_owner) == expected
    assert expected in STATUSES


@pytest.mark.parametrize("status", sorted(WORKING))
def test_escalating_to_a_supervisor_keeps_the_status_and_to_a_queue_makes_it_new(status):
    assert lifecycle.target_status("escalate", status, has_owner=True) == status
    assert lifecycle.target_status("escalate", status, has_owner=False) == NEW


@pytest.mark.parametrize("status", [RESOLVED, CLOSED])
def test_reopen_goes_back_to_the_owner_or_to_the_queue(status):
    assert lifecycle.target_status("reopen", status, has_owner=True) == ASSIGNED
    assert lifecycle.target_status("reopen", status, has_owner=False) == NEW


def test_reassign_restarts_at_assigned_and_is_for_supervisors_alone():
    assert lifecycle.transition("reassign").who == {SUPERVISOR}
    for status in [NEW, ASSIGNED, OPEN, PENDING]:
        assert lifecycle.target_status("reassign", status, has_owner=True) == ASSIGNED
    for rel in RELATIONS - {SUPERVISOR}:
        assert not lifecycle.allowed_for("reassign", {rel})
    assert not lifecycle.allowed_for("reassign", {OWNER, TEAM, SYSTEM, CUSTOMER})


def test_merge_and_spam_close_the_ticket():
    assert lifecycle.target_status("merge", OPEN, has_owner=True) == CLOSED
    assert lifecycle.target_status("mark_spam", NEW, has_owner=False) == CLOSED


def _sorted_actions(actions):
    return sorted(actions, key=BUTTON_ORDER.index)


@pytest.mark.parametrize("status", STATUSES)
def test_available_actions_for_every_combination_of_relations(status):
    for rels in ALL_RELATION_SETS:
        expected = [a for a in BUTTON_ORDER if status in SPEC[a][0] and rels & SPEC[a][3]]
        assert lifecycle.available_actions(status, rels) == expected, (status, sorted(rels))
        assert lifecycle.available_actions(status, set(rels)) == expected


@pytest.mark.parametrize(
    ("status", "relations", "buttons"),
    [
        # A queued ticket: the team may take it, move it on, fold it, or bin it.
        (NEW, {TEAM}, ["assign", "transfer", "merge", "mark_spam"]),
        (NEW, {TEAM, SUPERVISOR}, ["assign", "escalate", "transfer", "reassign", "merge", "mark_spam"]),
        (NEW, {SYSTEM}, ["assign", "escalate", "transfer", "merge", "mark_spam"]),
        # The owner's own ticket, before and after looking at it.
        (ASSIGNED, {OWNER, TEAM}, ["open", "escalate", "transfer", "merge", "mark_spam"]),
        (ASSIGNED, {TEAM}, ["transfer", "merge", "mark_spam"]),
        (
            OPEN,
            {OWNER, TEAM},
            ["pend", "resolve", "close", "escalate", "transfer", "merge", "mark_spam"],
        ),
        (
            PENDING,
            {SYSTEM},
            ["customer_reply", "close", "escalate", "transfer", "unassign", "merge", "mark_spam"],
        ),
        (PENDING, {CUSTOMER}, ["customer_reply", "close"]),
        (RESOLVED, {OWNER, TEAM}, ["close", "reopen", "merge"]),
        (RESOLVED, {CUSTOMER}, ["close", "reopen"]),
        # A closed ticket can only be reopened, and not by a mere teammate.
        (CLOSED, {OWNER, TEAM, SUPERVISOR, SYSTEM, CUSTOMER}, ["reopen"]),
        (CLOSED, {TEAM}, []),
        # No relation, no buttons.
        (OPEN, set(), []),
    ],
)
def test_available_actions_examples(status, relations, buttons):
    assert lifecycle.available_actions(status, relations) == buttons


@pytest.mark.parametrize("status", STATUSES)
def test_available_actions_agrees_with_allowed_from_and_allowed_for(status):
    for rels in ALL_RELATION_SETS:
        shown = lifecycle.available_actions(status, rels)
        for action in BUTTON_ORDER:
            assert (action in shown) is (
                lifecycle.allowed_from(action, status) and lifecycle.allowed_for(action, rels)
            )


def test_activities_are_not_buttons_of_the_lifecycle():
    for status in STATUSES:
        shown = lifecycle.available_actions(status, RELATIONS)
        assert "reply" not in shown and "note" not in shown


@pytest.mark.parametrize("status", STATUSES)
def test_reply_and_note_are_checked_by_the_same_rules(status):
    assert lifecycle.allowed_from("reply", status) is (status in {ASSIGNED, OPEN, PENDING, RESOLVED})
    assert lifecycle.allowed_from("note", status) is True
    assert lifecycle.target_status("reply", status, has_owner=True) == status
    assert lifecycle.target_status("note", status, has_owner=False) == status
    assert lifecycle.allowed_for("reply", {OWNER}) and lifecycle.allowed_for("reply", {SYSTEM})
    assert not lifecycle.allowed_for("reply", {TEAM})  # a teammate writes a note, not to the customer
    assert not lifecycle.allowed_for("reply", {CUSTOMER})
    assert lifecycle.allowed_for("note", {TEAM}) and not lifecycle.allowed_for("note", {SYSTEM})


@pytest.mark.parametrize(
    "call",
    [
        lambda: lifecycle.transition("fly"),
        lambda: lifecycle.allowed_from("fly", NEW),
        lambda: lifecycle.allowed_for("fly", {OWNER}),
        lambda: lifecycle.target_status("fly", NEW, has_owner=True),
    ],
    ids=["transition", "allowed_from", "allowed_for", "target_status"],
)
def test_an_unknown_action_is_an_error_not_a_refusal(call):
    with pytest.raises(ValueError, match="unknown action 'fly'"):
        call()


def test_an_unknown_status_allows_nothing():
    assert lifecycle.available_actions("archived", RELATIONS) == []
    assert not any(lifecycle.allowed_from(a, "archived") for a in BUTTON_ORDER)


def test_the_table_is_sound():
    """Every source and target is a real status; every ``who`` is a known relation; nothing is a dead end."""
    for action, t in lifecycle.TRANSITIONS.items():
        assert t.sources and t.sources <= set(STATUSES), action
        assert t.target in {*STATUSES, KEEP}, action
        assert t.target_unowned in {None, *STATUSES}, action
        assert t.who and t.who <= RELATIONS, action
    # Every status can be reached from new, and every status can get to closed.
    reachable, frontier = {NEW}, [NEW]
    while frontier:
        status = frontier.pop()
        for action in lifecycle.available_actions(status, RELATIONS):
            for has_owner in (True, False):
                nxt = lifecycle.target_status(action, status, has_owner=has_owner)
                if nxt not in reachable:
                    reachable.add(nxt)
                    frontier.append(nxt)
    assert reachable == set(STATUSES)
    for status in STATUSES:
        assert lifecycle.available_actions(status, RELATIONS), f"{status} is a dead end"
    closers = {a for a, t in lifecycle.TRANSITIONS.items() if t.target == CLOSED}
    assert {s for a in closers for s in lifecycle.TRANSITIONS[a].sources} == set(STATUSES) - {CLOSED}


def test_the_table_cannot_be_changed_at_run_time():
    t = lifecycle.transition("open")
    with pytest.raises(AttributeError):
        t.who = frozenset(RELATIONS)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        t.sources.add(CLOSED)  # type: ignore[attr-defined]
