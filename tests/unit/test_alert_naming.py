"""Which unit an alert may name, with k counted in people: at least k respondents in every week
that contributes to the figure, a headcount of at least k, and no sibling given away by differencing.

The tree (k = 5; everyone answers every week unless a test says otherwise):

    org ─┬─ north ─┬─ n_ten   (10 people)
         │         └─ n_four  (4)
         └─ south ─┬─ s_nine  (9)
                   ├─ s_three (3)
                   └─ s_two   (2)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellpulse.alerts.naming import Fragment, nameable, people, shown_cells, smallest_nameable
from wellpulse.common.disclosure import CountUnknown, OrgTree
from wellpulse.common.measures import BULLYING_REPORTED, INTENDS_TO_LEAVE, RESPONSES
from wellpulse.common.rollups import Sums

K = 5
WEEKS = [date(2026, 11, 2) + timedelta(weeks=i) for i in range(8)]
WINDOW = WEEKS[:4]
RULE = frozenset({INTENDS_TO_LEAVE})
PARENTS: dict[str, str | None] = {
    "org": None,
    "north": "org",
    "south": "org",
    "n_ten": "north",
    "n_four": "north",
    "s_nine": "south",
    "s_three": "south",
    "s_two": "south",
}
TEAMS = {"n_ten": 10, "n_four": 4, "s_nine": 9, "s_three": 3, "s_two": 2}

Own = Mapping[str, Sequence[int]]  # unit → own respondents per week of WEEKS


def below(tree: OrgTree, unit: str) -> list[str]:
    """The unit and every unit under it."""
    units = [unit]
    for child in tree.children(unit):
        units += below(tree, child)
    return units


def build(
    parents: Mapping[str, str | None],
    responses: Own,
    answered: Mapping[str, Own] | None = None,
    headcounts: Mapping[str, int] | None = None,
    weeks: Sequence[date] = WEEKS,
) -> Fragment:
    """A fragment with SUBTREE sums, as the rollups keep them, from each unit's own counts.

    ``answered``: per measure, how many of each unit's own respondents answered it (default:
    all of them, for the intent and bullying measures). ``headcounts``: each unit's own people
    (default: its respondents' most in a week), summed over the subtree."""
    tree = OrgTree(parents)
    by_measure: dict[str, Own] = {RESPONSES: responses, INTENDS_TO_LEAVE: responses, BULLYING_REPORTED: responses}
    by_measure |= answered or {}
    own_people = headcounts or {u: max(responses.get(u, [0]), default=0) for u in parents}
    sums: dict[tuple[str, date, str], Sums] = {}
    for unit in parents:
        members = below(tree, unit)
        for i, week in enumerate(weeks):
            for measure, own in by_measure.items():
                n = sum(own[m][i] for m in members if m in own)
                if n:
                    yes = float(n // 2)  # the figures' values do not matter to naming
                    sums[(unit, week, measure)] = Sums(n, yes, yes)
    subtree_heads = {u: sum(own_people.get(m, 0) for m in below(tree, u)) for u in parents}
    return Fragment(tree, sums, frozenset(parents), subtree_heads)


def everyone_every_week(teams: Mapping[str, int] = TEAMS) -> dict[str, list[int]]:
    return {team: [size] * len(WEEKS) for team, size in teams.items()}


def named(
    fragment: Fragment,
    team: str,
    window: Sequence[date] = WINDOW,
    measures: Collection[str] = RULE,
    k: int = K,
) -> str | None:
    """The unit a rule on ``measures`` for ``team`` over ``window`` names, as evaluation decides it."""
    chain = fragment.tree.chain(team)
    shown = shown_cells(fragment, k, window, [RESPONSES, *measures], focus=set(chain))
    return smallest_nameable(fragment, shown, k, chain, window, measures)


# --- small teams ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("team", "directorate"), [("n_four", "north"), ("s_two", "south"), ("s_three", "south")])
@pytest.mark.parametrize("weeks", range(1, len(WEEKS) + 1))
def test_a_team_under_k_answering_every_week_is_never_named(team: str, directorate: str, weeks: int) -> None:
    """Two people answering for three weeks are six responses, but still two people."""
    fragment = build(PARENTS, everyone_every_week())
    window = WEEKS[:weeks]
    assert named(fragment, team, window) == directorate
    responses = sum(fragment.count(team, w, RESPONSES) for w in window)
    assert responses == TEAMS[team] * weeks  # ≥ k once there are enough weeks; still not nameable


def test_a_team_of_at_least_k_with_a_large_enough_rest_is_named() -> None:
    """The contrast: s_nine's directorate minus s_nine leaves 5 (= k) people, so it may be named."""
    assert named(build(PARENTS, everyone_every_week()), "s_nine") == "s_nine"


# --- headcount ------------------------------------------------------------------------------------


def test_a_unit_with_headcount_under_k_is_never_named_even_with_k_responses() -> None:
    """A stale roster: 9 responses a week from a team the roster says has 4 people."""
    responses = everyone_every_week()
    heads = dict(TEAMS) | {"s_nine": 4}
    fragment = build(PARENTS, responses, headcounts=heads)
    assert all(fragment.count("s_nine", w, RESPONSES) == 9 for w in WINDOW)
    assert fragment.headcounts["s_nine"] == 4
    assert named(fragment, "s_nine") == "south"
    shown = shown_cells(fragment, K, WINDOW, [RESPONSES, INTENDS_TO_LEAVE], {"s_nine", "south", "org"})
    assert all("s_nine" in shown[(w, RESPONSES)] for w in WINDOW)  # its cells alone would be shown
    assert not nameable(fragment, shown, K, "s_nine", WINDOW, RULE)
    # The same responses with the true headcount: named.
    assert named(build(PARENTS, responses, headcounts=dict(TEAMS)), "s_nine") == "s_nine"


def test_a_root_under_k_names_nothing() -> None:
    parents: dict[str, str | None] = {"tiny": None, "tiny_team": "tiny"}
    fragment = build(parents, {"tiny_team": [4] * len(WEEKS)})
    assert named(fragment, "tiny_team") is None


# --- k counted per week ---------------------------------------------------------------------------


def test_k_is_counted_in_every_week_not_summed_over_the_window() -> None:
    responses = everyone_every_week() | {"s_nine": [9, 9, 3, 9, 9, 9, 9, 9]}
    fragment = build(PARENTS, responses, headcounts=dict(TEAMS))
    assert sum(fragment.count("s_nine", w, RESPONSES) for w in WINDOW) == 30  # far above k in total
    assert named(fragment, "s_nine", WEEKS[0:4]) == "south"  # one week of 3
    assert named(fragment, "s_nine", WEEKS[3:7]) == "s_nine"  # the same team, a window of full weeks
    assert named(fragment, "s_nine", WEEKS[4:8]) == "s_nine"


def test_a_week_without_responses_does_not_contribute() -> None:
    responses = everyone_every_week() | {"s_nine": [9, 0, 9, 9, 9, 9, 9, 9]}
    fragment = build(PARENTS, responses, headcounts=dict(TEAMS))
    assert named(fragment, "s_nine") == "s_nine"
    assert people(fragment, "s_nine", WINDOW) == 9


def test_the_rules_own_measure_must_reach_k_too() -> None:
    """Nine people answered each week, but only four of them the intent question in one week."""
    responses = everyone_every_week()
    answered = {INTENDS_TO_LEAVE: responses | {"s_nine": [9, 4, 9, 9, 9, 9, 9, 9]}}
    fragment = build(PARENTS, responses, answered=answered, headcounts=dict(TEAMS))
    assert named(fragment, "s_nine", measures={INTENDS_TO_LEAVE}) == "south"
    assert named(fragment, "s_nine", measures={BULLYING_REPORTED}) == "s_nine"


def test_a_unit_without_answers_to_the_rules_measure_is_not_named() -> None:
    responses = everyone_every_week()
    nobody = {team: [0] * len(WEEKS) for team in TEAMS}
    fragment = build(PARENTS, responses, answered={INTENDS_TO_LEAVE: nobody}, headcounts=dict(TEAMS))
    assert named(fragment, "s_nine", measures={INTENDS_TO_LEAVE}) is None


# --- complementary suppression --------------------------------------------------------------------


def test_naming_a_team_must_not_give_its_sibling_away() -> None:
    """north (14) = n_ten (10) + n_four (4): naming n_ten beside north would reveal the four."""
    fragment = build(PARENTS, everyone_every_week())
    assert fragment.count("north", WINDOW[0], RESPONSES) == 14
    assert named(fragment, "n_ten") == "north"
    assert named(fragment, "n_four") == "north"


def test_a_sibling_of_k_lets_the_larger_team_be_named() -> None:
    """The contrast: north (15) = n_ten (10) + n_five (5)."""
    teams = {k: v for k, v in TEAMS.items() if k != "n_four"} | {"n_five": 5}
    parents = {k: v for k, v in PARENTS.items() if k != "n_four"} | {"n_five": "north"}
    fragment = build(parents, everyone_every_week(teams))
    assert named(fragment, "n_ten") == "n_ten"
    assert named(fragment, "n_five") == "n_five"


def test_the_suppression_decided_for_one_week_applies_to_that_week() -> None:
    """n_four grows to 5 for one week: n_ten is shown that week, but not in the others."""
    responses = everyone_every_week() | {"n_four": [4, 5, 4, 4, 5, 5, 5, 5]}
    fragment = build(PARENTS, responses, headcounts=dict(TEAMS) | {"n_four": 5})
    assert named(fragment, "n_ten", WEEKS[:4]) == "north"
    assert named(fragment, "n_ten", WEEKS[4:8]) == "n_ten"


# --- people ---------------------------------------------------------------------------------------


def test_people_is_the_fewest_respondents_in_any_contributing_week() -> None:
    responses = everyone_every_week() | {"s_nine": [12, 0, 9, 11, 12, 12, 12, 12]}
    fragment = build(PARENTS, responses)
    assert people(fragment, "s_nine", WINDOW) == 9  # not 32 responses, and the empty week is not 0
    assert people(fragment, "south", WINDOW) == 5  # the week s_nine did not answer: 3 + 2
    assert people(fragment, "org", WINDOW) == 19
    assert people(fragment, "north", WINDOW) == 14


def test_people_without_any_response_is_zero() -> None:
    fragment = build(PARENTS, {team: [0] * len(WEEKS) for team in TEAMS})
    assert people(fragment, "s_nine", WINDOW) == 0


def test_a_unit_whose_rows_were_not_read_is_not_guessed_as_zero() -> None:
    fragment = build(PARENTS, everyone_every_week())
    partial = Fragment(fragment.tree, fragment.sums, frozenset({"org", "north"}), fragment.headcounts)
    with pytest.raises(CountUnknown):
        partial.count("s_nine", WINDOW[0], RESPONSES)


# --- property -------------------------------------------------------------------------------------


# The parents, each unit's own respondents and own answers per week, and each unit's own headcount.
Organisation = tuple[dict[str, str | None], dict[str, list[int]], dict[str, list[int]], dict[str, int]]


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    """A random tree of up to 10 units, each unit's own respondents and own answers to the rule's
    measure in each of 4 weeks, and each unit's own headcount."""
    size = draw(st.integers(min_value=1, max_value=10))
    parents: dict[str, str | None] = {"u0": None}
    for i in range(1, size):
        parents[f"u{i}"] = draw(st.sampled_from(sorted(parents)))
    weekly = st.lists(st.integers(min_value=0, max_value=12), min_size=4, max_size=4)
    responses = {unit: draw(weekly) for unit in parents}
    answered = {unit: [draw(st.integers(min_value=0, max_value=n)) for n in responses[unit]] for unit in parents}
    headcounts = {unit: draw(st.integers(min_value=0, max_value=12)) for unit in parents}
    return parents, responses, answered, headcounts


@settings(max_examples=300, deadline=None)
@given(organisations(), st.integers(min_value=3, max_value=6), st.data())
def test_a_named_unit_had_k_people_in_every_contributing_week(
    organisation: Organisation,
    k: int,
    data: st.DataObject,
) -> None:
    parents, responses, answered, headcounts = organisation
    window = WEEKS[:4]
    fragment = build(parents, responses, {INTENDS_TO_LEAVE: answered}, headcounts, weeks=window)
    start = data.draw(st.sampled_from(sorted(parents)))
    unit = named(fragment, start, window, RULE, k)
    if unit is None:
        return
    tree = fragment.tree
    assert unit in tree.chain(start)
    members = below(tree, unit)
    assert sum(headcounts[m] for m in members) >= k
    for i in range(len(window)):
        respondents = sum(responses[m][i] for m in members)
        assert respondents == 0 or respondents >= k
        answering = sum(answered[m][i] for m in members)
        assert answering == 0 or answering >= k
    assert any(sum(answered[m][i] for m in members) for i in range(len(window)))
    assert people(fragment, unit, window) >= k
