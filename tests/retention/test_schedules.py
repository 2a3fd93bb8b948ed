"""The schedule loader and checker: shipped examples load; each kind of bad file is rejected
with a message naming the file, the series and the field."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.retention.schedules import ScheduleError, load_schedules
from tests.factories import PROJECT_SCHEDULES

TODAY = dt.date(2026, 11, 25)

BASE: dict[str, Any] = {
    "kind": "retention_schedule",
    "id": "city",
    "title": "City schedule",
    "jurisdiction": "City of Testing, Wisconsin",
    "version": "1",
    "series": [
        {
            "code": "REC",
            "title": "Records",
            "description": "Posts about city business",
            "applies_to": "record",
            "retention": "CR+7Y",
            "disposition": "destroy",
            "whs_notice": "required",
            "authority": ["Wis. Stat. 19.21(4)(b)"],
        },
        {
            "code": "SEC",
            "title": "Copies",
            "description": "Copies",
            "applies_to": "secondary_copy",
            "retention": "CR+7Y",
            "disposition": "destroy",
            "whs_notice": "not_applicable",
            "authority": ["Wis. Stat. 19.32(2)"],
        },
        {
            "code": "TRN",
            "title": "Transitory",
            "description": "Transitory",
            "applies_to": "transitory",
            "retention": "PERM",
            "disposition": "retain_permanently",
            "whs_notice": "not_applicable",
            "authority": ["Wis. Stat. 19.32(2)"],
        },
    ],
}

APPROVAL = {
    "body": "Wisconsin Public Records Board",
    "reference": "RDA 123",
    "approved_on": "2020-01-01",
    "expires_on": "2030-01-01",
}


def write(folder: Path, data: dict[str, Any], name: str = "city.yaml") -> None:
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def errors_for(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[str]:
    data = copy.deepcopy(BASE)
    change(data)
    write(tmp_path, data)
    with pytest.raises(ScheduleError) as caught:
        load_schedules(tmp_path, today=TODAY)
    assert "\n" not in str(caught.value)
    return caught.value.errors


def test_shipped_schedules_are_valid_and_choose_the_city_series() -> None:
    schedules = load_schedules(PROJECT_SCHEDULES, today=TODAY)
    ids = {s.id for s in schedules.schedules}
    assert ids == {"example-city-social-media", "wa-core-gs50-01-12"}
    assert all(s.example for s in schedules.schedules)
    schedule, series = schedules.series_for_label("record")
    assert (schedule.id, series.code) == ("example-city-social-media", "EX-SM-01")
    wa = schedules.series("GS50-01-12")[1]
    assert wa.retention == "CR+2Y, EVT+2Y"
    assert wa.trigger_event == "post_removed"
    assert wa.disposition == "review"
    city = schedules.series("EX-SM-01")[0]
    citations = " ".join(city.authority)
    for cite in ("19.21(4)(b)", "19.32(2)", "19.35(5)", "section VII"):
        assert cite in citations


def test_a_valid_minimal_folder_loads(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    loaded = load_schedules(tmp_path, today=TODAY)
    assert loaded.series_for_label("transitory")[1].code == "TRN"


def test_other_files_in_the_folder_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "classification.yaml").write_text("rules: [1, 2]\n", encoding="utf-8")
    (tmp_path / "other.yaml").write_text("kind: something_else\nx: 1\n", encoding="utf-8")
    (tmp_path / "holidays").mkdir()
    (tmp_path / "holidays" / "x.yaml").write_text("nonsense: [", encoding="utf-8")
    assert [s.id for s in load_schedules(tmp_path, today=TODAY).schedules] == ["city"]


def test_a_yaml_file_without_kind_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "forgot.yaml").write_text("id: x\n", encoding="utf-8")
    with pytest.raises(ScheduleError, match=r"forgot.yaml: kind: missing"):
        load_schedules(tmp_path, today=TODAY)


def test_invalid_yaml(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScheduleError, match=r"broken.yaml: not valid YAML at line"):
        load_schedules(tmp_path, today=TODAY)


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="does not exist"):
        load_schedules(tmp_path / "nope", today=TODAY)
    with pytest.raises(ScheduleError, match="no schedule files"):
        load_schedules(tmp_path, today=TODAY)


def set_series(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["series"][index][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            set_series(0, "retention", "XR+7Y"),
            "city.yaml: series REC: retention: unknown anchor 'XR'",
        ),
        (set_series(0, "retention", "CR+7Q"), "city.yaml: series REC: retention: unknown unit 'Q'"),
        (
            set_series(0, "retention", "CR+2Y"),
            "city.yaml: series REC: retention: 'CR+2Y' can be shorter than 7 years",
        ),
        (
            set_series(1, "retention", "AV"),
            "city.yaml: series SEC: retention: 'AV' can be shorter than 7 years",
        ),
        (
            set_series(0, "retention", "CR+2555D"),
            "city.yaml: series REC: retention: 'CR+2555D' can be shorter",
        ),
        (
            set_series(0, "applies_to", "memo"),
            "city.yaml: series REC: applies_to: 'memo' is not one of",
        ),
        (set_series(0, "colour", "red"), "city.yaml: series REC: unknown field"),
        (
            set_series(0, "trigger_event", "post_deleted"),
            "city.yaml: series REC: trigger_event: unknown event 'post_deleted'",
        ),
        (
            set_series(0, "retention", "EVT+7Y"),
            "city.yaml: series REC: trigger_event: retention uses EVT",
        ),
        (
            set_series(0, "whs_notice", "not_applicable"),
            "city.yaml: series REC: whs_notice: records are destroyed only after notice",
        ),
        (set_series(0, "whs_notice", "waived"), "city.yaml: series REC: whs_waiver_reference"),
        (
            set_series(2, "disposition", "destroy"),
            "city.yaml: series TRN: disposition: PERM series",
        ),
        (
            lambda d: d["series"][0].pop("authority"),
            "city.yaml: series REC: 'authority' is missing",
        ),
        (lambda d: d.pop("version"), "city.yaml: 'version' is missing"),
        (
            lambda d: d.update(kind="retention_schedule", fiscal_year_end="02-30"),
            "city.yaml: fiscal_year_end",
        ),
        (
            lambda d: d["series"][1].update(code="REC"),
            "city.yaml: series REC: code: also used in city.yaml",
        ),
    ],
)
def test_checker_rejects_bad_series(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    errors = errors_for(tmp_path, change)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    ("approval", "expected"),
    [
        ({"approved_on": "2026-02-30"}, "approval.approved_on: '2026-02-30' is not a real date"),
        (
            {"approved_on": "2031-01-01", "expires_on": "2030-01-01"},
            "approval.expires_on: 2030-01-01 is not after approved_on",
        ),
        (
            {"approved_on": "2020-01-01", "expires_on": "2031-01-01"},
            "more than 10 years after approved_on",
        ),
        (
            {"approved_on": "2027-01-01", "expires_on": "2030-01-01"},
            "approval.approved_on: 2027-01-01 is in the future",
        ),
        ({"approved_on": "1/1/2020"}, "approval.approved_on: '1/1/2020' does not match"),
    ],
)
def test_checker_rejects_bad_approvals(
    tmp_path: Path, approval: dict[str, str], expected: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["approval"] = {**APPROVAL, **approval}
        data["series"][1]["retention"] = "CR+2Y"

    errors = errors_for(tmp_path, change)
    assert any(f"city.yaml: {expected}" in e or expected in e for e in errors), errors
    assert all(e.startswith("city.yaml") for e in errors), errors


def test_a_shorter_period_with_an_approval_loads(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["approval"] = APPROVAL
    data["series"][1]["retention"] = "CR+2Y"
    write(tmp_path, data)
    loaded = load_schedules(tmp_path, today=TODAY)
    assert loaded.schedules[0].approval is not None
    assert loaded.schedules[0].approval.reference == "RDA 123"


def test_two_series_for_one_label_need_a_default(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    second = copy.deepcopy(BASE)
    second["id"] = "county"
    second["series"] = [dict(BASE["series"][0], code="REC2")]
    write(tmp_path, second, "county.yaml")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(tmp_path, today=TODAY)
    message = str(caught.value)
    assert "series REC2: default: 2 series apply to 'record'" in message
    assert "none is marked default: true" in message

    second["series"][0]["default"] = True
    write(tmp_path, second, "county.yaml")
    assert load_schedules(tmp_path, today=TODAY).series_for_label("record")[1].code == "REC2"

    both = copy.deepcopy(BASE)
    both["series"][0]["default"] = True
    write(tmp_path, both)
    with pytest.raises(ScheduleError, match="apply to 'record' as default"):
        load_schedules(tmp_path, today=TODAY)


def test_same_schedule_id_twice(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    other = copy.deepcopy(BASE)
    for item in other["series"]:
        item["code"] += "-2"
    write(tmp_path, other, "copy.yaml")
    with pytest.raises(ScheduleError, match=r"copy.yaml: id: 'city' is also the id of city.yaml"):
        load_schedules(tmp_path, today=TODAY)


def test_every_label_needs_a_series(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["series"] = data["series"][:2]
    write(tmp_path, data)
    with pytest.raises(ScheduleError, match="no series applies_to 'transitory'"):
        load_schedules(tmp_path, today=TODAY)


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


def test_schedules_check_command(tmp_path: Path) -> None:
    good = run_cli(["schedules", "check", str(PROJECT_SCHEDULES)])
    assert good.returncode == 0, good.stderr
    assert "EX-SM-01" in good.stdout
    assert "EXAMPLE schedule" in good.stderr

    data = copy.deepcopy(BASE)
    data["series"][0]["retention"] = "CR+7X"
    write(tmp_path, data)
    bad = run_cli(["schedules", "check", str(tmp_path)])
    assert bad.returncode == 1
    assert "city.yaml: series REC: retention: unknown unit 'X'" in bad.stderr
