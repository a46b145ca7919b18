"""The organisation's alert rules: one YAML file, checked at start with every problem named.

The social-work defaults ship as ``rules_default.yaml``; ``ALERTS_RULES_PATH`` loads another.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wellpulse.common.bank import Change, HseScale

Share = Annotated[float, Field(gt=0, le=1)]
Text = Annotated[str, Field(min_length=1, pattern=r"\S")]


class RulesError(ValueError):
    """A rules file that cannot be read or does not hold together; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FirstStep(_Strict):
    """What the organisation's toolkit suggests doing first, and which of the 12 Changes it serves."""

    text: Text
    changes: tuple[Change, ...] = Field(min_length=1)


class CaseloadRule(_Strict):
    enabled: bool = True
    median_cases_above: float | None = Field(default=None, ge=0)
    unmanageable_share_at_least: Share | None = None
    first_step: FirstStep

    @model_validator(mode="after")
    def _a_clause(self) -> Self:
        if self.enabled and self.median_cases_above is None and self.unmanageable_share_at_least is None:
            raise ValueError("set median_cases_above or unmanageable_share_at_least, or enabled: false")
        return self


class BullyingRule(_Strict):
    enabled: bool = True
    reports_at_least: int | None = Field(default=None, ge=1)
    share_at_least: Share | None = None
    first_step: FirstStep

    @model_validator(mode="after")
    def _a_clause(self) -> Self:
        if self.enabled and self.reports_at_least is None and self.share_at_least is None:
            raise ValueError("set reports_at_least or share_at_least, or enabled: false")
        return self


class IntentToLeaveRule(_Strict):
    enabled: bool = True
    share_at_least: Share | None = None
    rise_at_least: Share | None = None
    baseline_weeks: int = Field(default=8, ge=1, le=26)
    first_step: FirstStep

    @model_validator(mode="after")
    def _a_clause(self) -> Self:
        if self.enabled and self.share_at_least is None and self.rise_at_least is None:
            raise ValueError("set share_at_least or rise_at_least, or enabled: false")
        return self


def _every_scale(steps: dict[HseScale, FirstStep]) -> dict[HseScale, FirstStep]:
    missing = [scale.value for scale in HseScale if scale not in steps]
    if missing:
        raise ValueError(f"first_steps needs an entry for every HSE scale; missing: {', '.join(missing)}")
    return steps


class ScaleInRedRule(_Strict):
    enabled: bool = True
    percentile: float = Field(default=20, gt=0, lt=100)
    min_benchmark_units: int = Field(default=5, ge=3)
    benchmark_file: Path | None = None
    first_steps: dict[HseScale, FirstStep]

    @model_validator(mode="after")
    def _steps(self) -> Self:
        _every_scale(self.first_steps)
        return self


class SustainedDeclineRule(_Strict):
    enabled: bool = True
    reference_k: float = Field(default=0.5, ge=0, le=3)
    decision_h: float = Field(default=4.0, gt=0, le=20)
    min_weeks: int = Field(default=2, ge=1, le=26)
    history_weeks: int = Field(default=26, ge=4, le=104)
    first_steps: dict[HseScale, FirstStep]

    @model_validator(mode="after")
    def _steps(self) -> Self:
        _every_scale(self.first_steps)
        return self


class AlertRules(_Strict):
    version: int = Field(ge=1)
    window_weeks: int = Field(default=4, ge=1, le=26)
    cooldown_weeks: int = Field(default=2, ge=0, le=52)
    caseload: CaseloadRule
    bullying: BullyingRule
    intent_to_leave: IntentToLeaveRule
    scale_in_red: ScaleInRedRule
    sustained_decline: SustainedDeclineRule


class Benchmark(_Strict):
    """Values to compare each scale's mean with (e.g. a national 20th percentile), from a file."""

    scales: dict[HseScale, Annotated[float, Field(ge=1, le=5)]] = Field(min_length=1)


@dataclass(frozen=True)
class RuleBook:
    rules: AlertRules
    # From scale_in_red.benchmark_file; None: the organisation's own teams are the benchmark.
    benchmark: Benchmark | None = None


def load_rules(path: Path | None = None) -> RuleBook:
    """The rules in ``path`` (the packaged defaults when None), or ``RulesError`` naming every problem."""
    source = str(path) if path else "the default rules"
    data = _read_yaml(path, "rules_default.yaml")
    try:
        rules = AlertRules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(_listing(source, exc)) from None
    file = rules.scale_in_red.benchmark_file
    if not rules.scale_in_red.enabled or file is None:
        return RuleBook(rules)
    # A relative benchmark path is read beside the rules file that names it.
    return RuleBook(rules, load_benchmark(file if file.is_absolute() or path is None else path.parent / file))


def load_benchmark(path: Path) -> Benchmark:
    try:
        return Benchmark.model_validate(_read_yaml(path, None))
    except ValidationError as exc:
        raise RulesError(_listing(str(path), exc)) from None


def _read_yaml(path: Path | None, packaged: str | None) -> Any:
    try:
        if path is None:
            assert packaged is not None
            raw = resources.files("wellpulse.alerts").joinpath(packaged).read_text("utf-8")
        else:
            raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RulesError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{path} must hold a YAML mapping at the top level")
    return data


def _listing(source: str, exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in error['loc']) or '(file)'}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors(include_url=False)
    ]
    return f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
