"""The alert rules file: the packaged defaults load, and a bad file is refused naming every problem."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from wellpulse.alerts.rules_file import RulesError, load_benchmark, load_rules
from wellpulse.common.bank import HseScale


def defaults() -> dict[str, Any]:
    """The packaged defaults as plain data, to be changed one problem at a time."""
    data: dict[str, Any] = yaml.safe_load(
        resources.files("wellpulse.alerts").joinpath("rules_default.yaml").read_text("utf-8")
    )
    # The file shares first_steps between two rules with a YAML anchor: give each its own copy.
    for rule in ("scale_in_red", "sustained_decline"):
        data[rule]["first_steps"] = {scale: dict(step) for scale, step in data[rule]["first_steps"].items()}
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems(message: str) -> list[str]:
    return [line.removeprefix("  - ") for line in message.splitlines() if line.startswith("  - ")]


def test_the_packaged_defaults_load() -> None:
    book = load_rules()
    rules = book.rules
    assert rules.version == 1
    assert (rules.window_weeks, rules.cooldown_weeks) == (4, 2)
    assert rules.caseload.median_cases_above == 22
    assert rules.caseload.unmanageable_share_at_least == 0.5
    assert (rules.bullying.reports_at_least, rules.bullying.share_at_least) == (None, 0.2)
    assert (rules.intent_to_leave.share_at_least, rules.intent_to_leave.rise_at_least) == (0.5, 0.15)
    assert rules.intent_to_leave.baseline_weeks == 8
    assert set(rules.scale_in_red.first_steps) == set(HseScale)
    assert set(rules.sustained_decline.first_steps) == set(HseScale)
    assert (rules.sustained_decline.reference_k, rules.sustained_decline.decision_h) == (0.5, 4.0)
    assert book.benchmark is None  # the organisation's own teams are the benchmark


def test_the_defaults_written_out_load_the_same(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path / "rules.yaml", defaults())).rules == load_rules().rules


def test_a_file_with_several_problems_names_each(tmp_path: Path) -> None:
    data = defaults()
    data["window_weeks"] = 0
    data["caseload"]["unmanageable_share_at_least"] = 1.5
    data["bullying"]["first_step"]["changes"] = ["inclusion", "kindness"]
    del data["scale_in_red"]["first_steps"]["role"]
    del data["intent_to_leave"]["share_at_least"]
    del data["intent_to_leave"]["rise_at_least"]
    data["cooldown_week"] = 3
    path = write(tmp_path / "rules.yaml", data)

    with pytest.raises(RulesError) as refused:
        load_rules(path)

    message = str(refused.value)
    assert message.startswith(f"{path} has 6 problem(s):")
    listed = problems(message)
    assert len(listed) == 6

    def one(prefix: str) -> str:
        (line,) = [p for p in listed if p.startswith(prefix + ":")]
        return line

    assert "greater than or equal to 1" in one("window_weeks")
    assert "less than or equal to 1" in one("caseload.unmanageable_share_at_least")
    assert "'inclusion'" in one("bullying.first_step.changes.1")  # says what a change may be
    assert "missing: role" in one("scale_in_red")
    assert "set share_at_least or rise_at_least, or enabled: false" in one("intent_to_leave")
    assert "not permitted" in one("cooldown_week").lower()
    # The rules the file got right are not blamed.
    assert not [p for p in listed if p.startswith(("sustained_decline", "caseload.first_step", "version"))]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nwindow_weeks: 4\n  cooldown_weeks: 2\ncaseload: {}\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"not valid YAML at line 3") as refused:
        load_rules(path)
    assert str(path) in str(refused.value)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- version: 1\n", encoding="utf-8")
    with pytest.raises(RulesError, match="mapping"):
        load_rules(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nowhere.yaml")


def test_a_benchmark_file_is_read_beside_the_rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file of the same name in the working directory must not be the one read.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "national.yaml").write_text("scales: {demands: 1.5}\n", encoding="utf-8")
    config = tmp_path / "config"
    config.mkdir()
    (config / "national.yaml").write_text("scales: {demands: 2.9, control: 3.4}\n", encoding="utf-8")
    data = defaults()
    data["scale_in_red"]["benchmark_file"] = "national.yaml"

    book = load_rules(write(config / "rules.yaml", data))

    assert book.benchmark is not None
    assert book.benchmark.scales == {HseScale.DEMANDS: 2.9, HseScale.CONTROL: 3.4}


def test_an_absolute_benchmark_file_is_read_where_it_is(tmp_path: Path) -> None:
    bench = tmp_path / "elsewhere" / "bench.yaml"
    bench.parent.mkdir()
    bench.write_text("scales: {role: 3.1}\n", encoding="utf-8")
    data = defaults()
    data["scale_in_red"]["benchmark_file"] = str(bench)
    book = load_rules(write(tmp_path / "config" / "rules.yaml", data))
    assert book.benchmark is not None
    assert book.benchmark.scales == {HseScale.ROLE: 3.1}


def test_a_bad_benchmark_file_names_its_problems(tmp_path: Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text("scales: {demands: 6, wellbeing: 3}\n", encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        load_benchmark(bench)
    listed = problems(str(refused.value))
    assert str(refused.value).startswith(f"{bench} has 2 problem(s):")
    assert any(p.startswith("scales.demands:") and "less than or equal to 5" in p for p in listed)
    assert any(p.startswith("scales.wellbeing") for p in listed)


def test_a_missing_benchmark_file_is_refused(tmp_path: Path) -> None:
    data = defaults()
    data["scale_in_red"]["benchmark_file"] = "absent.yaml"
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(write(tmp_path / "rules.yaml", data))


def test_a_disabled_scale_rule_does_not_read_its_benchmark_file(tmp_path: Path) -> None:
    data = defaults()
    data["scale_in_red"]["enabled"] = False
    data["scale_in_red"]["benchmark_file"] = "absent.yaml"
    book = load_rules(write(tmp_path / "rules.yaml", data))
    assert book.benchmark is None
    assert book.rules.scale_in_red.enabled is False


@pytest.mark.parametrize(
    ("rule", "clauses"),
    [
        ("caseload", ("median_cases_above", "unmanageable_share_at_least")),
        ("bullying", ("reports_at_least", "share_at_least")),
        ("intent_to_leave", ("share_at_least", "rise_at_least")),
    ],
)
def test_a_disabled_rule_needs_no_clause(tmp_path: Path, rule: str, clauses: tuple[str, str]) -> None:
    data = defaults()
    for clause in clauses:
        del data[rule][clause]
    with pytest.raises(RulesError, match=f"{rule}: set {clauses[0]} or {clauses[1]}, or enabled: false"):
        load_rules(write(tmp_path / "enabled.yaml", data))

    data[rule]["enabled"] = False
    loaded = getattr(load_rules(write(tmp_path / "disabled.yaml", data)).rules, rule)
    assert loaded.enabled is False
    assert all(getattr(loaded, clause) is None for clause in clauses)


def test_one_clause_is_enough(tmp_path: Path) -> None:
    data = defaults()
    del data["caseload"]["median_cases_above"]
    del data["bullying"]["share_at_least"]
    data["bullying"]["reports_at_least"] = 3
    rules = load_rules(write(tmp_path / "rules.yaml", data)).rules
    assert rules.caseload.median_cases_above is None
    assert rules.caseload.unmanageable_share_at_least == 0.5
    assert rules.bullying.share_at_least is None
    assert rules.bullying.reports_at_least == 3
