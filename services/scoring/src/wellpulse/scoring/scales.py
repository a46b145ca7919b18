"""Pure scoring rules: HSE Management Standards scale means and the alert-family values.

Versioned: a change to how a response is scored gets a new ``SCORING_VERSION``, so a scored event
always says which rules made it and a replay under new rules yields new event ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from statistics import fmean

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import (
    AlertFamilies,
    Answer,
    Envelope,
    PulseResponseSubmitted,
    ResponseScored,
    derived_id,
)

# 2026.2: alert-family values from the bank's tags.
SCORING_VERSION = "2026.2"


def score_response(
    answers: Mapping[str, Answer], bank: QuestionBank
) -> tuple[dict[str, float], dict[str, float], AlertFamilies]:
    """Scale means (1–5, higher is better), per-item scores and alert-family values.

    Items a person skipped are left out; a scale nobody answered this time has no mean.
    """
    item_scores: dict[str, float] = {}
    by_scale: defaultdict[str, list[float]] = defaultdict(list)
    for code, value in answers.items():
        item = bank.item(code)
        if item.hse_scale is None or not isinstance(value, int):
            continue
        score = bank.score(item, value)
        item_scores[code] = score
        by_scale[item.hse_scale.value].append(score)
    scales = {scale: round(fmean(scores), 6) for scale, scores in sorted(by_scale.items())}
    return scales, item_scores, bank.families(answers)


def scored_event(submitted: Envelope[PulseResponseSubmitted], bank: QuestionBank) -> Envelope[ResponseScored]:
    """The scored event for one response. Its id derives from the response's id and the rules'
    version, so scoring the same response twice yields the same event and consumers absorb it.

    Raises ``InvalidAnswers`` when the answers do not fit the bank (the caller dead-letters them).
    """
    response = submitted.data
    # Score the answers as the bank normalises them ("4" is 4, " Yes" is "yes"), never the raw ones.
    answers = bank.validate_answers(response.answers, asked=response.answers.keys())
    scales, items, families = score_response(answers, bank)
    return Envelope.wrap(
        ResponseScored(
            response_id=submitted.id,
            pulse_id=response.pulse_id,
            unit_id=response.unit_id,
            iso_week=response.iso_week,
            scoring_version=SCORING_VERSION,
            scales=scales,
            items=items,
            families=families,
        ),
        source=SOURCE,
        subject=response.unit_id,
        event_id=derived_id("scored", str(submitted.id), SCORING_VERSION),
        at=submitted.time,
    )


SOURCE = "/wellpulse/scoring"
