"""The question bank: items, response scales, tags, answer validation and item scoring.

The default bank ships as ``bank_default.yaml``; an organisation may load its own instead.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from wellpulse.common.events import AlertFamilies, BullyingAnswer

_DEFAULT_PACKAGE = "wellpulse.common"
_DEFAULT_RESOURCE = "bank_default.yaml"

# Whole numbers arrive as strings from HTML forms; the digit cap keeps int() cheap on hostile input.
_WHOLE_NUMBER = re.compile(r"^[+-]?\d{1,9}$")

ItemCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$", examples=["DEM-01"])]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", examples=["en", "cy"])]
OptionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", examples=["prefer_not_to_say"])]
NonBlank = Annotated[str, Field(min_length=1, pattern=r"\S")]


class HseScale(StrEnum):
    """The seven HSE Management Standards scales."""

    DEMANDS = "demands"
    CONTROL = "control"
    MANAGER_SUPPORT = "manager_support"
    PEER_SUPPORT = "peer_support"
    RELATIONSHIPS = "relationships"
    ROLE = "role"
    CHANGE = "change"


class Change(StrEnum):
    """The 12 Changes from the social workers' wellbeing toolkit.

    - cpd: access to continuing professional development
    - career: career opportunities
    - supervision: supervision, mentoring, coaching and peer support
    - wellbeing: support for wellbeing and self-care
    - protection: protection from harm and recovery from work-related trauma (aggression, violence)
    - workload: enough staff and manageable workloads
    - direct_work: time for direct, relationship-based work
    - management: good management and role clarity
    - technology: fit-for-purpose technology and digital skills
    - leadership: effective leadership
    - inclusion: positive, inclusive workplaces free from bullying, harassment and discrimination
    - recognition: respect, recognition and fair pay
    """

    CPD = "cpd"
    CAREER = "career"
    SUPERVISION = "supervision"
    WELLBEING = "wellbeing"
    PROTECTION = "protection"
    WORKLOAD = "workload"
    DIRECT_WORK = "direct_work"
    MANAGEMENT = "management"
    TECHNOLOGY = "technology"
    LEADERSHIP = "leadership"
    INCLUSION = "inclusion"
    RECOGNITION = "recognition"


class AlertFamily(StrEnum):
    """Items asked every week because alert rules watch them."""

    CASELOAD = "caseload"
    BULLYING = "bullying"
    INTENT_TO_LEAVE = "intent_to_leave"


class ResponseKind(StrEnum):
    AGREEMENT = "agreement"
    FREQUENCY = "frequency"
    CHOICE = "choice"
    INTEGER = "integer"


_LIKERT_KINDS = frozenset({ResponseKind.AGREEMENT, ResponseKind.FREQUENCY})
_LIKERT_MIN = 1
_LIKERT_MAX = 5


class BankError(ValueError):
    """A question bank file that cannot be read, parsed or validated."""


# The names read as what callers catch ("except InvalidAnswers"), so no Error suffix.
class InvalidAnswer(ValueError):
    """One answer value that does not fit its response scale."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAnswers(ValueError):
    """Every problem found in one set of answers, keyed by item code."""

    def __init__(self, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{code}: {message}" for code, message in errors.items())
        super().__init__(f"{len(errors)} invalid answer(s): {detail}")
        self.errors = errors


def _as_whole_number(value: object) -> int | None:
    # bool is an int subclass: True would otherwise count as 1 case or "strongly disagree".
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.match(value.strip()):
        return int(value.strip())
    return None


class ResponseScale(BaseModel):
    """How an item is answered: a 1–5 agreement or frequency scale, a choice, or a whole number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ResponseKind
    min: StrictInt | None = None
    max: StrictInt | None = None
    options: tuple[OptionCode, ...] = ()
    labels: dict[Language, tuple[NonBlank, ...]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _likert_bounds_default(cls, data: Any) -> Any:
        # Agreement and frequency scales are always 1..5, so a bank need not spell the bounds out.
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if isinstance(kind, str) and kind in _LIKERT_KINDS:
            return {"min": _LIKERT_MIN, "max": _LIKERT_MAX, **data}
        return data

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        problems: list[str] = []
        if self.kind in _LIKERT_KINDS:
            if (self.min, self.max) != (_LIKERT_MIN, _LIKERT_MAX):
                problems.append(f"{self.kind} scales run from {_LIKERT_MIN} to {_LIKERT_MAX}")
            if self.options:
                problems.append(f"{self.kind} scales take no options")
            expected = _LIKERT_MAX - _LIKERT_MIN + 1
        elif self.kind is ResponseKind.CHOICE:
            if not self.options:
                problems.append("choice scales need at least one option")
            if len(set(self.options)) != len(self.options):
                problems.append("choice options must be unique")
            if self.min is not None or self.max is not None:
                problems.append("choice scales take no min or max")
            expected = len(self.options)
        else:
            if self.min is None or self.max is None:
                problems.append("integer scales need both min and max")
            elif self.min > self.max:
                problems.append(f"min ({self.min}) is greater than max ({self.max})")
            if self.options:
                problems.append("integer scales take no options")
            if self.labels:
                problems.append("integer scales take no labels")
            expected = 0
        if self.kind is not ResponseKind.INTEGER:
            if not self.labels:
                problems.append(f"{self.kind} scales need labels for each language")
            problems.extend(
                f"labels.{language} has {len(labels)} label(s), expected {expected}"
                for language, labels in self.labels.items()
                if len(labels) != expected
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _bounds(self) -> tuple[int, int]:
        if self.min is None or self.max is None:  # pragma: no cover - ruled out by _check_shape
            raise InvalidAnswer(f"{self.kind} scale has no bounds")
        return self.min, self.max

    def validate_answer(self, value: object) -> int | str:
        """Return the normalised answer, or raise ``InvalidAnswer`` saying what is accepted."""
        if self.kind is ResponseKind.CHOICE:
            if isinstance(value, str):
                option = value.strip().lower()
                if option in self.options:
                    return option
            raise InvalidAnswer(f"must be one of: {', '.join(self.options)}")
        low, high = self._bounds()
        number = _as_whole_number(value)
        if number is None or not low <= number <= high:
            raise InvalidAnswer(f"must be a whole number from {low} to {high}")
        return number


class Item(BaseModel):
    """One question, with the tags reporting and alerting group it by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ItemCode
    response: NonBlank
    hse_scale: HseScale | None = None
    changes: tuple[Change, ...] = Field(min_length=1)
    reverse: bool = False
    family: AlertFamily | None = None
    text: dict[Language, NonBlank]

    @model_validator(mode="after")
    def _unique_changes(self) -> Self:
        if len(set(self.changes)) != len(self.changes):
            raise ValueError(f"item {self.code} lists a change more than once")
        return self


class QuestionBank(BaseModel):
    """A versioned set of items and the response scales they use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: NonBlank
    name: NonBlank
    languages: tuple[Language, ...] = Field(min_length=1)
    scales: dict[NonBlank, ResponseScale]
    items: tuple[Item, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        # Collect every problem so an author fixes a bank in one pass rather than one error per run.
        problems: list[str] = []
        if len(set(self.languages)) != len(self.languages):
            problems.append("languages: each language may be listed only once")
        wanted = set(self.languages)
        for name, defined in self.scales.items():
            if defined.kind is ResponseKind.INTEGER:
                continue
            problems.extend(
                f"scales.{name}.labels: missing {language!r} labels"
                for language in self.languages
                if language not in defined.labels
            )
            problems.extend(
                f"scales.{name}.labels: {language!r} is not one of the bank's languages"
                for language in defined.labels
                if language not in wanted
            )
        first_seen: dict[str, int] = {}
        for index, item in enumerate(self.items):
            where = f"items[{index}]"
            if item.code in first_seen:
                problems.append(
                    f"{where}.code: duplicate item code {item.code!r} (first used at items[{first_seen[item.code]}])"
                )
            else:
                first_seen[item.code] = index
            problems.extend(
                f"{where}.text: item {item.code} is missing its {language!r} text"
                for language in self.languages
                if language not in item.text
            )
            problems.extend(
                f"{where}.text: item {item.code} has {language!r} text, which is not one of the bank's languages"
                for language in item.text
                if language not in wanted
            )
            scale = self.scales.get(item.response)
            if scale is None:
                known = ", ".join(sorted(self.scales)) or "none"
                problems.append(
                    f"{where}.response: item {item.code} uses unknown scale {item.response!r} (known scales: {known})"
                )
                continue
            if item.reverse and scale.kind not in _LIKERT_KINDS:
                problems.append(
                    f"{where}.reverse: item {item.code} uses {scale.kind} answers; only agreement"
                    " and frequency items can be reverse-scored"
                )
            # HSE scale means average 1–5 scores, which choice and count answers do not have.
            if item.hse_scale is not None and scale.kind not in _LIKERT_KINDS:
                problems.append(
                    f"{where}.hse_scale: item {item.code} uses {scale.kind} answers; only agreement"
                    " and frequency items can count towards an HSE scale"
                )
            if item.family is not None and (problem := _family_misfit(item.family, scale)):
                problems.append(f"{where}.family: item {item.code} is in family {item.family}, {problem}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @cached_property
    def _by_code(self) -> dict[str, Item]:
        # Looked up for every answer of every response scored: one dict, built once per bank.
        return {item.code: item for item in self.items}

    def item(self, code: str) -> Item:
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"no item with code {code!r} in question bank {self.version}") from None

    def family_items(self) -> tuple[Item, ...]:
        """Items asked in every weekly pulse, because alert rules watch them."""
        return tuple(item for item in self.items if item.family is not None)

    def rotating_items(self) -> tuple[Item, ...]:
        """Items shared out across rounds so each pulse stays short."""
        return tuple(item for item in self.items if item.family is None)

    def families(self, answers: Mapping[str, int | str]) -> AlertFamilies:
        """What one response says for each alert family, read from the items' ``family`` tags and
        scales, never from item codes, so an organisation's own bank feeds the same rules.

        caseload: whole-number items add up to the cases held; 1–5 items give how manageable it is
        (their mean score). bullying: "yes" on any item is a report. intent to leave: a score of
        ``LEAVING_SCORE`` or less on any item (after reverse-scoring: agreeing to "I am thinking
        of leaving") counts as intending to leave.
        """
        cases: list[int] = []
        manageable: list[float] = []
        bullying: list[str] = []
        leaving: list[bool] = []
        for code, value in answers.items():
            item = self.item(code)
            kind = self.scales[item.response].kind
            if item.family is AlertFamily.CASELOAD:
                if kind is ResponseKind.INTEGER and isinstance(value, int):
                    cases.append(value)
                elif isinstance(value, int):
                    manageable.append(self.score(item, value))
            elif item.family is AlertFamily.BULLYING and isinstance(value, str):
                bullying.append(value)
            elif item.family is AlertFamily.INTENT_TO_LEAVE and isinstance(value, int):
                leaving.append(self.score(item, value) <= LEAVING_SCORE)
        return AlertFamilies(
            cases_held=sum(cases) if cases else None,
            caseload_manageable=sum(manageable) / len(manageable) if manageable else None,
            bullying=_bullying_report(bullying),
            intends_to_leave=any(leaving) if leaving else None,
        )

    def reports_bullying(self, answers: Mapping[str, int | str]) -> bool:
        return self.families(answers).bullying == "yes"

    def validate_answers(self, answers: Mapping[str, object], asked: Collection[str]) -> dict[str, int | str]:
        """Normalise one response's answers, or raise ``InvalidAnswers`` naming every problem.

        Every item is optional; ``None`` counts as a skipped item and is left out of the result.
        """
        codes = self._by_code
        normalised: dict[str, int | str] = {}
        errors: dict[str, str] = {}
        for code, value in answers.items():
            item = codes.get(code)
            if item is None:
                errors[code] = "is not an item in this question bank"
            elif code not in asked:
                errors[code] = "was not asked in this round"
            elif value is not None:
                try:
                    normalised[code] = self.scales[item.response].validate_answer(value)
                except InvalidAnswer as exc:
                    errors[code] = exc.message
        if errors:
            raise InvalidAnswers(errors)
        return normalised

    @cached_property
    def _likert_scores(self) -> dict[str, dict[int, float]]:
        # Every 1–5 item's score for each whole-number answer its scale accepts: scoring a response
        # looks an answer up here instead of validating it once more (it was validated on the way in).
        return {
            item.code: {answer: self._score(item, answer) for answer in range(scale.min or 0, (scale.max or 0) + 1)}
            for item in self.items
            if (scale := self.scales[item.response]).kind in _LIKERT_KINDS
        }

    def score(self, item: Item, value: int) -> float:
        """The 1–5 score of an agreement or frequency answer, higher meaning better conditions."""
        if type(value) is int and (score := self._likert_scores.get(item.code, {}).get(value)) is not None:
            return score
        return self._score(item, value)

    def _score(self, item: Item, value: int) -> float:
        scale = self.scales[item.response]
        if scale.kind not in _LIKERT_KINDS:
            raise ValueError(f"item {item.code} uses {scale.kind} answers and has no 1–5 score")
        answer = scale.validate_answer(value)
        if not isinstance(answer, int):  # pragma: no cover - 1–5 scales only yield whole numbers
            raise TypeError(f"item {item.code} produced a non-numeric answer {answer!r}")
        return float(_LIKERT_MIN + _LIKERT_MAX - answer if item.reverse else answer)


# A 1–5 score of 1 or 2 on an intent-to-leave item: agreeing with "I am thinking of leaving".
LEAVING_SCORE = 2
BULLYING_OPTIONS = frozenset({"yes", "no", "prefer_not_to_say"})


def _bullying_report(answers: list[str]) -> BullyingAnswer | None:
    if "yes" in answers:
        return "yes"
    if "no" in answers:
        return "no"
    return "prefer_not_to_say" if answers else None


def _family_misfit(family: AlertFamily, scale: ResponseScale) -> str | None:
    """Why an item's scale cannot feed its family's rules, or None when it can."""
    if family is AlertFamily.CASELOAD and scale.kind not in (*_LIKERT_KINDS, ResponseKind.INTEGER):
        return "which needs a whole number of cases or a 1–5 agreement scale"
    if family is AlertFamily.INTENT_TO_LEAVE and scale.kind not in _LIKERT_KINDS:
        return "which needs a 1–5 agreement or frequency scale"
    if family is AlertFamily.BULLYING and (
        scale.kind is not ResponseKind.CHOICE
        or not {"yes", "no"} <= set(scale.options)
        or not set(scale.options) <= BULLYING_OPTIONS
    ):
        return "which needs a choice of yes, no (and optionally prefer_not_to_say)"
    return None


def _format_location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ValidationError) -> list[str]:
    lines: list[str] = []
    for detail in error.errors():
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "string_type" and isinstance(detail["input"], bool):
            message += " (YAML reads bare yes/no/on/off/true/false as booleans: quote it)"
        location = _format_location(detail["loc"])
        # Cross-field problems already carry their own locations, one per line.
        lines.extend(f"{location}: {line}" if location else line for line in message.splitlines())
    return lines


def load_bank(path: Path | None = None) -> QuestionBank:
    """Load and validate a question bank from YAML; ``None`` loads the packaged default bank."""
    try:
        if path is None:
            source = f"{_DEFAULT_PACKAGE}/{_DEFAULT_RESOURCE}"
            raw = resources.files(_DEFAULT_PACKAGE).joinpath(_DEFAULT_RESOURCE).read_text("utf-8")
        else:
            source = str(path)
            raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankError(f"cannot read question bank {source}: {exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BankError(f"question bank {source} is not valid YAML{where}: {problem}") from exc
    if not isinstance(data, Mapping):
        raise BankError(f"question bank {source} must be a YAML mapping at the top level")
    try:
        return QuestionBank.model_validate(data)
    except ValidationError as exc:
        problems = _describe(exc)
        listing = "\n".join(f"  - {line}" for line in problems)
        raise BankError(f"question bank {source} has {len(problems)} problem(s):\n{listing}") from exc
