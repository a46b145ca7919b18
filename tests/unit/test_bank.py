"""Unit tests for the question bank model, its loader and the packaged default bank."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.bank import (
    AlertFamily,
    BankError,
    Change,
    HseScale,
    InvalidAnswer,
    InvalidAnswers,
    Item,
    QuestionBank,
    ResponseKind,
    load_bank,
)

MAX_ITEMS_PER_PULSE = 8
ROUNDS_TO_ASK_EVERY_ITEM = 6


@cache
def default_bank() -> QuestionBank:
    return load_bank()


def default_data() -> dict[str, Any]:
    """The default bank as plain YAML data, for building broken variants."""
    text = resources.files("wellpulse.common").joinpath("bank_default.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def write_bank(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def item_index(data: dict[str, Any], code: str) -> int:
    return next(i for i, item in enumerate(data["items"]) if item["code"] == code)


def scored_items() -> list[Item]:
    bank = default_bank()
    likert = {ResponseKind.AGREEMENT, ResponseKind.FREQUENCY}
    return [item for item in bank.items if bank.scales[item.response].kind in likert]


# --- the default bank -----------------------------------------------------------------------


def test_default_bank_loads_with_version_and_languages() -> None:
    bank = default_bank()
    assert bank.version == "2026.1"
    assert bank.languages == ("en", "cy")


def test_default_bank_has_22_items_5_family_and_17_rotating() -> None:
    bank = default_bank()
    assert len(bank.items) == 22
    assert len(bank.family_items()) == 5
    assert len(bank.rotating_items()) == 17
    family_codes = {item.code for item in bank.family_items()}
    assert family_codes.isdisjoint(item.code for item in bank.rotating_items())


def test_rotation_is_satisfiable() -> None:
    bank = default_bank()
    free_slots = MAX_ITEMS_PER_PULSE - len(bank.family_items())
    assert free_slots > 0
    assert len(bank.rotating_items()) <= free_slots * ROUNDS_TO_ASK_EVERY_ITEM


def test_family_items_cover_every_alert_family_without_hse_scale() -> None:
    family_items = default_bank().family_items()
    assert {item.family for item in family_items} == set(AlertFamily)
    assert all(item.hse_scale is None for item in family_items)
    codes = {item.code for item in family_items}
    assert codes == {"CASE-COUNT", "CASE-MANAGE", "BHD-4W", "LEAVE-JOB", "LEAVE-PROF"}


def test_family_items_use_the_expected_response_kinds() -> None:
    bank = default_bank()
    kinds = {item.code: bank.scales[item.response].kind for item in bank.family_items()}
    assert kinds == {
        "CASE-COUNT": ResponseKind.INTEGER,
        "CASE-MANAGE": ResponseKind.AGREEMENT,
        "BHD-4W": ResponseKind.CHOICE,
        "LEAVE-JOB": ResponseKind.AGREEMENT,
        "LEAVE-PROF": ResponseKind.AGREEMENT,
    }


def test_every_hse_scale_has_items_with_matching_codes() -> None:
    prefixes = {
        HseScale.DEMANDS: "DEM-",
        HseScale.CONTROL: "CON-",
        HseScale.MANAGER_SUPPORT: "MGR-",
        HseScale.PEER_SUPPORT: "PEER-",
        HseScale.RELATIONSHIPS: "REL-",
        HseScale.ROLE: "ROLE-",
        HseScale.CHANGE: "CHG-",
    }
    rotating = default_bank().rotating_items()
    assert {item.hse_scale for item in rotating} == set(HseScale)
    for item in rotating:
        assert item.hse_scale is not None
        assert item.code.startswith(prefixes[item.hse_scale]), item.code


def test_every_one_of_the_12_changes_is_informed() -> None:
    informed = {change for item in default_bank().items for change in item.changes}
    assert len(Change) == 12
    assert informed == set(Change)


def test_every_item_and_label_is_in_english_and_welsh() -> None:
    bank = default_bank()
    for item in bank.items:
        assert set(item.text) == {"en", "cy"}, item.code
        assert item.text["en"].strip(), item.code
        assert item.text["cy"].strip(), item.code
        assert item.text["en"] != item.text["cy"], item.code
    for name, scale in bank.scales.items():
        if scale.kind is not ResponseKind.INTEGER:
            assert set(scale.labels) == {"en", "cy"}, name


def test_reversed_items_are_the_negatively_worded_ones() -> None:
    bank = default_bank()
    negative_scales = {HseScale.DEMANDS, HseScale.RELATIONSHIPS}
    rotating_reversed = {item.code for item in bank.rotating_items() if item.reverse}
    assert rotating_reversed == {item.code for item in bank.rotating_items() if item.hse_scale in negative_scales}
    # Agreeing with "I am thinking of leaving" is the bad outcome, so those items are reversed too.
    family_reversed = {item.code for item in bank.family_items() if item.reverse}
    assert family_reversed == {"LEAVE-JOB", "LEAVE-PROF"}


def test_item_lookup_and_unknown_code() -> None:
    bank = default_bank()
    assert bank.item("DEM-01").hse_scale is HseScale.DEMANDS
    with pytest.raises(KeyError, match="NOPE-01"):
        bank.item("NOPE-01")


# --- answers --------------------------------------------------------------------------------


def test_validate_answers_accepts_and_normalises_a_good_set() -> None:
    bank = default_bank()
    asked = ["CASE-COUNT", "CASE-MANAGE", "BHD-4W", "LEAVE-JOB", "LEAVE-PROF", "DEM-01", "CON-01"]
    answers = {
        "CASE-COUNT": "23",
        "CASE-MANAGE": 2,
        "BHD-4W": " Prefer_Not_To_Say ",
        "LEAVE-JOB": 5,
        "DEM-01": 4,
        "CON-01": None,
    }
    assert bank.validate_answers(answers, asked) == {
        "CASE-COUNT": 23,
        "CASE-MANAGE": 2,
        "BHD-4W": "prefer_not_to_say",
        "LEAVE-JOB": 5,
        "DEM-01": 4,
    }


def test_validate_answers_accepts_an_empty_response() -> None:
    assert default_bank().validate_answers({}, ["DEM-01"]) == {}


def test_validate_answers_reports_every_problem_at_once() -> None:
    bank = default_bank()
    asked = ["CASE-COUNT", "BHD-4W", "DEM-01"]
    answers = {
        "NOPE-99": 3,
        "CON-01": 3,
        "CASE-COUNT": 151,
        "BHD-4W": "maybe",
        "DEM-01": 3,
    }
    with pytest.raises(InvalidAnswers) as caught:
        bank.validate_answers(answers, asked)
    errors = caught.value.errors
    assert set(errors) == {"NOPE-99", "CON-01", "CASE-COUNT", "BHD-4W"}
    assert "not an item" in errors["NOPE-99"]
    assert "not asked" in errors["CON-01"]
    assert errors["CASE-COUNT"] == "must be a whole number from 0 to 150"
    assert errors["BHD-4W"] == "must be one of: yes, no, prefer_not_to_say"


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_rejected_for_numeric_items(value: bool) -> None:
    bank = default_bank()
    for code in ("CASE-COUNT", "CASE-MANAGE", "DEM-01"):
        with pytest.raises(InvalidAnswers) as caught:
            bank.validate_answers({code: value}, [code])
        assert caught.value.errors[code].startswith("must be a whole number")


@pytest.mark.parametrize(
    ("code", "value", "accepted"),
    [
        ("CASE-COUNT", 0, True),
        ("CASE-COUNT", 150, True),
        ("CASE-COUNT", -1, False),
        ("CASE-COUNT", 2.5, False),
        ("CASE-COUNT", "ten", False),
        ("CASE-MANAGE", 1, True),
        ("CASE-MANAGE", 0, False),
        ("CASE-MANAGE", 6, False),
        ("BHD-4W", "yes", True),
        ("BHD-4W", 1, False),
    ],
)
def test_scale_bounds(code: str, value: object, accepted: bool) -> None:
    bank = default_bank()
    scale = bank.scales[bank.item(code).response]
    if accepted:
        assert scale.validate_answer(value) == value
    else:
        with pytest.raises(InvalidAnswer):
            scale.validate_answer(value)


# --- scoring --------------------------------------------------------------------------------


def test_score_flips_reversed_items_only() -> None:
    bank = default_bank()
    assert bank.score(bank.item("DEM-01"), 5) == 1.0
    assert bank.score(bank.item("DEM-01"), 2) == 4.0
    assert bank.score(bank.item("REL-02"), 1) == 5.0
    assert bank.score(bank.item("CON-01"), 5) == 5.0
    assert bank.score(bank.item("CON-01"), 2) == 2.0
    assert bank.score(bank.item("LEAVE-JOB"), 5) == 1.0


def test_score_refuses_unscored_items_and_bad_values() -> None:
    bank = default_bank()
    with pytest.raises(ValueError, match="no 1–5 score"):
        bank.score(bank.item("CASE-COUNT"), 10)
    with pytest.raises(InvalidAnswer):
        bank.score(bank.item("DEM-01"), 6)


@given(data=st.data(), value=st.integers(min_value=1, max_value=5))
def test_score_is_on_the_1_to_5_scale_and_reverse_mirrors(data: st.DataObject, value: int) -> None:
    item = data.draw(st.sampled_from(scored_items()))
    score = default_bank().score(item, value)
    assert 1.0 <= score <= 5.0
    if item.reverse:
        assert score + value == 6
    else:
        assert score == value


# --- loading --------------------------------------------------------------------------------


def test_load_bank_reads_a_file(tmp_path: Path) -> None:
    data = default_data()
    data["version"] = "test.1"
    assert load_bank(write_bank(tmp_path, data)).version == "test.1"


def test_load_bank_rejects_duplicate_code(tmp_path: Path) -> None:
    data = default_data()
    data["items"].append(copy.deepcopy(data["items"][item_index(data, "DEM-01")]))
    last = len(data["items"]) - 1
    with pytest.raises(BankError) as caught:
        load_bank(write_bank(tmp_path, data))
    message = str(caught.value)
    assert f"items[{last}].code: duplicate item code 'DEM-01'" in message


def test_load_bank_rejects_unknown_scale(tmp_path: Path) -> None:
    data = default_data()
    index = item_index(data, "CON-02")
    data["items"][index]["response"] = "agree"
    with pytest.raises(BankError) as caught:
        load_bank(write_bank(tmp_path, data))
    assert f"items[{index}].response: item CON-02 uses unknown scale 'agree'" in str(caught.value)


def test_load_bank_rejects_missing_welsh_text(tmp_path: Path) -> None:
    data = default_data()
    index = item_index(data, "ROLE-01")
    del data["items"][index]["text"]["cy"]
    with pytest.raises(BankError) as caught:
        load_bank(write_bank(tmp_path, data))
    assert f"items[{index}].text: item ROLE-01 is missing its 'cy' text" in str(caught.value)


def test_load_bank_reports_yaml_syntax_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text('version: "2026.1"\nname: broken\nitems: [unclosed\n', encoding="utf-8")
    with pytest.raises(BankError, match=r"not valid YAML at line \d+"):
        load_bank(path)


def test_load_bank_lists_every_field_problem_with_location(tmp_path: Path) -> None:
    data = default_data()
    dem = item_index(data, "DEM-02")
    bhd = item_index(data, "BHD-4W")
    data["items"][dem]["hse_scale"] = "stress"
    data["items"][bhd]["changes"] = []
    with pytest.raises(BankError) as caught:
        load_bank(write_bank(tmp_path, data))
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert f"items[{dem}].hse_scale: " in message
    assert f"items[{bhd}].changes: " in message


def test_load_bank_rejects_hse_scale_and_reverse_on_non_likert_items(tmp_path: Path) -> None:
    data = default_data()
    count = item_index(data, "CASE-COUNT")
    bhd = item_index(data, "BHD-4W")
    data["items"][count]["hse_scale"] = "demands"
    data["items"][bhd]["reverse"] = True
    with pytest.raises(BankError) as caught:
        load_bank(write_bank(tmp_path, data))
    message = str(caught.value)
    assert f"items[{count}].hse_scale: item CASE-COUNT uses integer answers" in message
    assert f"items[{bhd}].reverse: item BHD-4W uses choice answers" in message


def test_load_bank_hints_at_unquoted_yaml_booleans(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    text = resources.files("wellpulse.common").joinpath("bank_default.yaml").read_text("utf-8")
    path.write_text(text.replace('["yes", "no",', "[yes, no,"), encoding="utf-8")
    with pytest.raises(BankError, match="quote it"):
        load_bank(path)


def test_load_bank_rejects_non_mapping_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(BankError, match="mapping"):
        load_bank(path)
    with pytest.raises(BankError, match="cannot read"):
        load_bank(tmp_path / "missing.yaml")
