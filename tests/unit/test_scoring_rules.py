"""Unit tests for the pure scoring rules: HSE scale means with reversal, and alert-family values."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from functools import cache
from statistics import fmean
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.bank import InvalidAnswers, Item, QuestionBank, load_bank
from wellpulse.common.events import AlertFamilies, Envelope, PulseResponseSubmitted, start_of_day
from wellpulse.scoring.scales import SCORING_VERSION, score_response, scored_event


@cache
def bank() -> QuestionBank:
    return load_bank()


def scale_items() -> list[Item]:
    return [item for item in bank().items if item.hse_scale is not None]


def expected_means(answers: dict[str, int]) -> dict[str, float]:
    """What a person reading the bank expects: reversed items count 6 - answer, then the mean."""
    by_scale: defaultdict[str, list[int]] = defaultdict(list)
    for code, value in answers.items():
        item = bank().item(code)
        if item.hse_scale is not None:
            by_scale[item.hse_scale.value].append(6 - value if item.reverse else value)
    return {scale: fmean(scores) for scale, scores in by_scale.items()}


def response(answers: dict[str, Any], **changes: Any) -> PulseResponseSubmitted:
    fields: dict[str, Any] = {
        "pulse_id": "p-2026-W10-abcd1234",
        "unit_id": "team-a",
        "iso_week": "2026-W10",
        "bank_version": bank().version,
        "answers": answers,
    }
    fields.update(changes)
    return PulseResponseSubmitted(**fields)


def submitted(answers: dict[str, Any], at: datetime | None = None) -> Envelope[PulseResponseSubmitted]:
    return Envelope.wrap(
        response(answers),
        source="/wellpulse/pulse-intake",
        subject="team-a",
        at=at or start_of_day(date(2026, 3, 4)),
    )


def test_default_bank_has_reversed_and_plain_items_on_scales() -> None:
    """The reversal tests below mean something only if the bank has both kinds."""
    reversed_codes = {item.code for item in scale_items() if item.reverse}
    assert {"DEM-01", "DEM-02", "DEM-03", "REL-01", "REL-02"} <= reversed_codes
    assert "CON-01" not in reversed_codes


def test_reversed_items_are_scored_so_that_higher_is_better() -> None:
    # Always having more work than one can do (5) is the worst demands score (1).
    scales, items, _ = score_response(response({"DEM-01": 5, "DEM-02": 4, "DEM-03": 1}).answers, bank())

    assert items == {"DEM-01": 1.0, "DEM-02": 2.0, "DEM-03": 5.0}
    assert scales == {"demands": pytest.approx((1 + 2 + 5) / 3)}


def test_plain_items_keep_their_answer() -> None:
    scales, items, _ = score_response(response({"CON-01": 5, "CON-02": 2}).answers, bank())

    assert items == {"CON-01": 5.0, "CON-02": 2.0}
    assert scales == {"control": 3.5}


def test_every_scale_mean_matches_the_bank() -> None:
    answers = {item.code: (i % 5) + 1 for i, item in enumerate(scale_items())}

    scales, items, _ = score_response(response(answers).answers, bank())

    expected = expected_means(answers)
    assert set(scales) == {"demands", "control", "manager_support", "peer_support", "relationships"} | {
        "role",
        "change",
    }
    assert scales == {scale: pytest.approx(mean, abs=1e-6) for scale, mean in expected.items()}
    assert set(items) == set(answers)


def test_skipped_items_leave_their_scale_out() -> None:
    scales, items, _ = score_response(response({"CON-01": 4, "LEAVE-JOB": 2}).answers, bank())

    assert scales == {"control": 4.0}
    assert "demands" not in scales
    assert items == {"CON-01": 4.0}


def test_a_skipped_item_does_not_pull_its_scale_down() -> None:
    scales, _, _ = score_response(response({"MGR-01": 5, "MGR-03": 5}).answers, bank())

    assert scales == {"manager_support": 5.0}


def test_an_empty_response_has_no_scales_and_no_families() -> None:
    scales, items, families = score_response(response({}).answers, bank())

    assert (scales, items) == ({}, {})
    assert families.intends_to_leave is None
    assert families.bullying is None
    assert families.cases_held is None


def test_family_items_never_count_towards_a_scale() -> None:
    answers = {"CASE-COUNT": 40, "CASE-MANAGE": 1, "BHD-4W": "yes", "LEAVE-JOB": 5, "LEAVE-PROF": 5}

    scales, items, _ = score_response(response(answers).answers, bank())

    assert (scales, items) == ({}, {})


# --- alert families ---------------------------------------------------------------------------


def alert_families(answers: dict[str, int | str]) -> AlertFamilies:
    return bank().families(answers)


@pytest.mark.parametrize(("answer", "intends"), [(1, False), (2, False), (3, False), (4, True), (5, True)])
def test_agreeing_to_leave_the_job_counts_as_intending_to(answer: int, intends: bool) -> None:
    assert alert_families({"LEAVE-JOB": answer}).intends_to_leave is intends


@pytest.mark.parametrize(("job", "profession", "intends"), [(2, 3, False), (2, 4, True), (5, 1, True)])
def test_agreeing_to_leave_either_the_job_or_the_profession_counts(job: int, profession: int, intends: bool) -> None:
    assert alert_families({"LEAVE-PROF": profession, "LEAVE-JOB": job}).intends_to_leave is intends


@pytest.mark.parametrize("answer", ["yes", "no", "prefer_not_to_say"])
def test_bullying_answer_is_carried_as_given(answer: str) -> None:
    assert alert_families({"BHD-4W": answer}).bullying == answer


def test_caseload_values_are_carried_as_given() -> None:
    families = alert_families({"CASE-COUNT": 27, "CASE-MANAGE": 2})

    assert families.cases_held == 27
    assert families.caseload_manageable == 2


def test_unanswered_families_stay_unknown() -> None:
    families = alert_families({"CON-01": 4})

    assert families.model_dump() == {
        "cases_held": None,
        "caseload_manageable": None,
        "bullying": None,
        "intends_to_leave": None,
    }


def test_an_organisations_own_bank_feeds_the_families_by_their_tags_not_their_codes() -> None:
    """Other codes, other wording (a positively worded "I intend to stay", not reversed), two
    caseload counts and two bullying questions: the families still come out."""
    document = bank().model_dump(mode="json")
    document["version"] = "own-1"
    document["items"] = [
        {
            "code": "KIDS",
            "response": "cases_held",
            "family": "caseload",
            "changes": ["workload"],
            "text": {"en": "Children's cases?", "cy": "Achosion plant?"},
        },
        {
            "code": "ADULTS",
            "response": "cases_held",
            "family": "caseload",
            "changes": ["workload"],
            "text": {"en": "Adults' cases?", "cy": "Achosion oedolion?"},
        },
        {
            "code": "OK",
            "response": "agreement",
            "family": "caseload",
            "changes": ["workload"],
            "text": {"en": "I can manage my work.", "cy": "Gallaf reoli fy ngwaith."},
        },
        {
            "code": "SEEN",
            "response": "yes_no_pns",
            "family": "bullying",
            "changes": ["inclusion"],
            "text": {"en": "Seen bullying?", "cy": "Gweld bwlio?"},
        },
        {
            "code": "FELT",
            "response": "yes_no_pns",
            "family": "bullying",
            "changes": ["inclusion"],
            "text": {"en": "Experienced bullying?", "cy": "Profi bwlio?"},
        },
        {
            "code": "STAY",
            "response": "agreement",
            "family": "intent_to_leave",
            "changes": ["career"],
            "text": {"en": "I intend to stay.", "cy": "Rwy'n bwriadu aros."},
        },
        *[i for i in document["items"] if i["family"] is None],
    ]
    own = QuestionBank.model_validate(document)

    families = own.families({"KIDS": 12, "ADULTS": 9, "OK": 2, "SEEN": "no", "FELT": "yes", "STAY": 1})
    assert families.model_dump() == {
        "cases_held": 21,
        "caseload_manageable": 2.0,
        "bullying": "yes",
        "intends_to_leave": True,
    }
    assert own.families({"STAY": 5, "SEEN": "no", "FELT": "prefer_not_to_say"}).model_dump() == {
        "cases_held": None,
        "caseload_manageable": None,
        "bullying": "no",
        "intends_to_leave": False,
    }
    assert own.reports_bullying({"FELT": "yes"}) is True


@pytest.mark.parametrize(
    ("answers", "expected_scales", "expected_families"),
    [
        ({"DEM-01": "4"}, {"demands": 2.0}, {}),
        ({"CON-01": " 5 "}, {"control": 5.0}, {}),
        ({"LEAVE-JOB": "5"}, {}, {"intends_to_leave": True}),
        ({"CASE-COUNT": "30"}, {}, {"cases_held": 30}),
        ({"BHD-4W": "Yes"}, {}, {"bullying": "yes"}),
    ],
    ids=["reversed-item", "padded-item", "leave-job", "case-count", "bullying-capitalised"],
)
def test_answers_the_bank_accepts_as_text_are_scored_like_numbers(
    answers: dict[str, str], expected_scales: dict[str, float], expected_families: dict[str, Any]
) -> None:
    """The envelope allows text answers and the bank accepts "4" for a 1–5 item (forms send text),
    so scoring must either score them or dead-letter them, never pass them through as unanswered."""
    event = scored_event(submitted(answers), bank())

    assert event.data.scales == expected_scales
    for name, value in expected_families.items():
        assert getattr(event.data.families, name) == value


# --- the scored event -------------------------------------------------------------------------


def test_scored_event_carries_the_response_and_the_rules_version() -> None:
    incoming = submitted({"DEM-01": 5, "CON-01": 4, "LEAVE-JOB": 4, "BHD-4W": "no"})

    event = scored_event(incoming, bank())

    assert event.type == "org.wellpulse.pulse.response.scored"
    assert event.subject == "team-a"
    assert event.data.response_id == incoming.id
    assert event.data.pulse_id == "p-2026-W10-abcd1234"
    assert event.data.unit_id == "team-a"
    assert event.data.iso_week == "2026-W10"
    assert event.data.scoring_version == SCORING_VERSION
    assert event.data.scales == {"demands": 1.0, "control": 4.0}
    assert event.data.items == {"DEM-01": 1.0, "CON-01": 4.0}
    assert event.data.families.intends_to_leave is True
    assert event.data.families.bullying == "no"


def test_scoring_the_same_response_twice_gives_the_same_event_id() -> None:
    incoming = submitted({"CON-01": 3})

    assert scored_event(incoming, bank()).id == scored_event(incoming, bank()).id


def test_different_responses_get_different_event_ids() -> None:
    answers = {"CON-01": 3}
    first, second = submitted(answers), submitted(answers)
    assert first.id != second.id

    assert scored_event(first, bank()).id != scored_event(second, bank()).id
    assert scored_event(first, bank()).id not in {first.id, second.id}


def test_scored_event_time_is_the_responses_time() -> None:
    day = start_of_day(date(2026, 12, 31))

    event = scored_event(submitted({"CON-01": 3}, at=day), bank())

    assert event.time == day == datetime(2026, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answers", "bad"),
    [
        ({"NOPE-01": 3}, "NOPE-01"),
        ({"CON-01": 3, "dem-01": 2}, "dem-01"),
        ({"CON-01": 9}, "CON-01"),
        ({"CASE-COUNT": 151}, "CASE-COUNT"),
        ({"BHD-4W": "maybe"}, "BHD-4W"),
        ({"LEAVE-JOB": "strongly"}, "LEAVE-JOB"),
    ],
)
def test_answers_that_do_not_fit_the_bank_are_refused(answers: dict[str, Any], bad: str) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        scored_event(submitted(answers), bank())

    assert set(caught.value.errors) == {bad}


def test_unknown_item_reason_names_the_code_but_not_other_answers() -> None:
    with pytest.raises(InvalidAnswers) as caught:
        scored_event(submitted({"NOPE-01": 3, "BHD-4W": "yes"}), bank())

    assert set(caught.value.errors) == {"NOPE-01"}
    assert "yes" not in str(caught.value)


# --- properties -------------------------------------------------------------------------------


@st.composite
def likert_answers(draw: st.DrawFn) -> dict[str, int]:
    codes = draw(st.sets(st.sampled_from([item.code for item in scale_items()])))
    return {code: draw(st.integers(min_value=1, max_value=5)) for code in sorted(codes)}


@given(likert_answers())
def test_every_scale_mean_is_between_one_and_five_and_matches_the_bank(answers: dict[str, int]) -> None:
    event = scored_event(submitted(answers), bank())

    for mean in event.data.scales.values():
        assert 1.0 <= mean <= 5.0
    expected = expected_means(answers)
    assert event.data.scales == {scale: pytest.approx(mean, abs=1e-6) for scale, mean in expected.items()}
    assert event.data.items.keys() == answers.keys()


@given(st.uuids(version=4), st.uuids(version=4))
def test_scored_event_id_is_a_function_of_the_response_id(first: uuid.UUID, second: uuid.UUID) -> None:
    def scored_id(response_id: uuid.UUID) -> uuid.UUID:
        incoming = Envelope.wrap(response({"CON-01": 2}), source="/x", subject="team-a", event_id=response_id)
        return scored_event(incoming, bank()).id

    assert (scored_id(first) == scored_id(second)) == (first == second)
