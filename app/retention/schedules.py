"""Retention schedules as data: load the YAML files of a folder, validate them, choose a series.

A file is a schedule when its top-level `kind` is `retention_schedule`. Other YAML files in the
folder (`classification.yaml`, or anything with another `kind`) belong to other parts of
PostVault and are skipped; a YAML file with no `kind` at all is an error, so a schedule whose
marker was forgotten is never silently ignored. Sub-folders are not read.

Every error names the file, the series (when there is one) and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from app.retention.expressions import (
    Expression,
    ExpressionError,
    add_months,
    parse,
    shortest_span_end,
)

SCHEMA_PATH = Path(__file__).resolve().parent / "schedule.schema.json"
SCHEDULE_KIND = "retention_schedule"
# Files other parts of PostVault keep in the same folder; skipped even without a `kind`.
OTHER_FILES = frozenset({"classification.yaml", "classification.yml"})
LABELS = ("record", "secondary_copy", "transitory")
# Events a series may be triggered by, and where PostVault reads their date.
KNOWN_EVENTS = {
    "post_removed": "the post's removal from the platform (removed_at)",
    # The files of a records request (POSTVAULT_REQUEST_FILES_SERIES) count from its closing.
    "request_closed": "the records request's closing (closed_at)",
}
# 19.21(4)(b): local records are kept at least 7 years unless the Public Records Board approved
# a shorter period. The floor is measured from a fixed start, so that 7Y and 2556D pass and
# 2555D (a day short of seven years from 2001-01-01, with one leap day between) does not.
FLOOR_MONTHS = 84
FLOOR_START = dt.date(2001, 1, 1)
# Public Records Board approvals lapse after 10 years (DOMAIN.md).
APPROVAL_LIFETIME_MONTHS = 120
# An approval this close to lapsing is warned about (schedules check, dashboard, notices).
EXPIRY_WARNING_MONTHS = 12


class ScheduleError(ValueError):
    """The schedules cannot be used. `str()` is one line; `errors` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        first = errors[0] if errors else "the retention schedules are invalid"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        super().__init__(first + more)


@dataclass(frozen=True)
class Approval:
    body: str
    reference: str
    approved_on: dt.date
    expires_on: dt.date


@dataclass(frozen=True)
class Series:
    schedule_id: str
    code: str
    title: str
    description: str
    applies_to: str
    retention: str
    expression: Expression
    trigger_event: str | None
    disposition: str
    whs_notice: str
    authority: tuple[str, ...]
    default: bool = False
    whs_waiver_reference: str | None = None


@dataclass(frozen=True)
class Schedule:
    id: str
    title: str
    jurisdiction: str
    version: str
    path: Path
    approval: Approval | None
    fiscal_year_end: tuple[int, int]
    authority: tuple[str, ...]
    example: bool
    series: tuple[Series, ...]
    sha256: str = ""  # of the file's bytes, recorded to notice a changed schedule

    def approval_notice(self, today: dt.date) -> ApprovalNotice | None:
        """A warning when the approval lapses within 12 months, or lapsed."""
        if self.approval is None:
            return None
        return approval_notice(
            schedule_id=self.id,
            file_name=self.path.name,
            body=self.approval.body,
            reference=self.approval.reference,
            expires_on=self.approval.expires_on,
            today=today,
        )


@dataclass(frozen=True)
class ApprovalNotice:
    """A Public Records Board approval that lapses soon (`expired` False) or lapsed."""

    schedule_id: str
    file_name: str
    body: str
    reference: str
    expires_on: dt.date
    expired: bool

    @property
    def message(self) -> str:
        if self.expired:
            return (
                f"the {self.body} approval {self.reference} of schedule {self.schedule_id} "
                f"({self.file_name}) expired on {self.expires_on}: disposition of its series is "
                "blocked until the renewed approval is in the file"
            )
        return (
            f"the {self.body} approval {self.reference} of schedule {self.schedule_id} "
            f"({self.file_name}) expires on {self.expires_on}: renew it before then, or "
            "disposition of its series stops"
        )


def approval_notice(
    *,
    schedule_id: str,
    file_name: str,
    body: str,
    reference: str,
    expires_on: dt.date,
    today: dt.date,
) -> ApprovalNotice | None:
    if expires_on < today:
        return ApprovalNotice(schedule_id, file_name, body, reference, expires_on, True)
    if expires_on <= add_months(today, EXPIRY_WARNING_MONTHS):
        return ApprovalNotice(schedule_id, file_name, body, reference, expires_on, False)
    return None


@dataclass(frozen=True)
class ScheduleSet:
    folder: Path
    schedules: tuple[Schedule, ...]
    _by_code: dict[str, tuple[Schedule, Series]] = field(default_factory=dict, repr=False)
    _by_label: dict[str, tuple[Schedule, Series]] = field(default_factory=dict, repr=False)

    def series_for_label(self, label: str) -> tuple[Schedule, Series]:
        """The one series that applies to a classification label."""
        try:
            return self._by_label[label]
        except KeyError:
            raise KeyError(f"no retention series applies to label '{label}'") from None

    def series(self, code: str) -> tuple[Schedule, Series]:
        return self._by_code[code]

    @property
    def all_series(self) -> list[tuple[Schedule, Series]]:
        return [(s, x) for s in self.schedules for x in s.series]

    @property
    def examples(self) -> list[Schedule]:
        return [s for s in self.schedules if s.example]

    def approval_notices(self, today: dt.date) -> list[ApprovalNotice]:
        found = (s.approval_notice(today) for s in self.schedules)
        return [n for n in found if n is not None]

    @property
    def file_hashes(self) -> dict[str, str]:
        """{schedule id: SHA-256 of its file}: what a recorded schedule is compared by."""
        return {s.id: s.sha256 for s in self.schedules}


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def _plain(value: Any) -> Any:
    """YAML turns 2026-01-15 into a date; the schema and the checks see the text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _where(name: str, data: dict[str, Any], path: list[str | int]) -> str:
    """'file: series CODE: field' for a JSON-schema error path."""
    if len(path) >= 2 and path[0] == "series" and isinstance(path[1], int):
        items = data.get("series") or []
        index = path[1]
        code = None
        if index < len(items) and isinstance(items[index], dict):
            code = items[index].get("code")
        label = f"series {code}" if code else f"series[{index}]"
        rest = ".".join(str(p) for p in path[2:])
        return f"{name}: {label}" + (f": {rest}" if rest else "")
    rest = ".".join(str(p) for p in path)
    return f"{name}: {rest}" if rest else name


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field ({error.message})"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def _date(text: str, where: str, errors: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{where}: '{text}' is not a real date (YYYY-MM-DD)")
        return None


def _read_file(path: Path, errors: list[str]) -> dict[str, Any] | None:
    """The file's data if it is a schedule; None if it is someone else's file or unreadable."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{path.name}: cannot be read ({exc})")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        errors.append(f"{path.name}: not valid YAML{at}")
        return None
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if path.name in OTHER_FILES or (kind is not None and kind != SCHEDULE_KIND):
        return None
    if not isinstance(raw, dict):
        errors.append(f"{path.name}: a schedule file is a mapping with kind: {SCHEDULE_KIND}")
        return None
    if kind is None:
        errors.append(
            f"{path.name}: kind: missing; a schedule file starts with 'kind: {SCHEDULE_KIND}' "
            "(other YAML files in this folder must name their own kind)"
        )
        return None
    plain: dict[str, Any] = _plain(raw)
    return plain


def _check_schedule(
    path: Path, data: dict[str, Any], today: dt.date, errors: list[str]
) -> Schedule | None:
    name = path.name
    before = len(errors)
    validator = jsonschema.Draft202012Validator(_schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        errors.append(f"{_where(name, data, list(error.path))}: {_schema_message(error)}")
    if len(errors) > before:
        return None

    approval: Approval | None = None
    raw_approval = data.get("approval")
    if raw_approval:
        approved = _date(raw_approval["approved_on"], f"{name}: approval.approved_on", errors)
        expires = _date(raw_approval["expires_on"], f"{name}: approval.expires_on", errors)
        if approved and expires:
            if expires <= approved:
                errors.append(
                    f"{name}: approval.expires_on: {expires} is not after approved_on {approved}"
                )
            elif expires > add_months(approved, APPROVAL_LIFETIME_MONTHS):
                errors.append(
                    f"{name}: approval.expires_on: {expires} is more than 10 years after "
                    f"approved_on {approved}; Public Records Board approvals lapse after 10 years"
                )
            if approved > today:
                errors.append(
                    f"{name}: approval.approved_on: {approved} is in the future; the approval "
                    "is not in force yet"
                )
            # An approval that lapsed is not an error of the file: PostVault keeps running and
            # blocks disposition of the schedule's series until it is renewed (approvals.py).
            approval = Approval(
                body=raw_approval["body"],
                reference=raw_approval["reference"],
                approved_on=approved,
                expires_on=expires,
            )

    fye = (12, 31)
    if "fiscal_year_end" in data:
        text = data["fiscal_year_end"]
        try:
            month, day = (int(p) for p in text.split("-"))
            dt.date(2001, month, day)  # no February 29: a fiscal year ends every year
            fye = (month, day)
        except ValueError:
            errors.append(f"{name}: fiscal_year_end: '{text}' is not a MM-DD day of the year")

    series: list[Series] = []
    for item in data["series"]:
        where = f"{name}: series {item['code']}"
        try:
            expression = parse(item["retention"])
        except ExpressionError as exc:
            errors.append(f"{where}: retention: {exc}")
            continue
        trigger = item.get("trigger_event")
        if trigger is not None and trigger not in KNOWN_EVENTS:
            errors.append(
                f"{where}: trigger_event: unknown event '{trigger}' "
                f"(known: {', '.join(sorted(KNOWN_EVENTS))})"
            )
        if expression.uses_event and trigger is None:
            errors.append(f"{where}: trigger_event: retention uses EVT, so name its event")
        if trigger is not None and not expression.uses_event:
            errors.append(
                f"{where}: trigger_event: '{trigger}' is given but retention "
                f"'{item['retention']}' has no EVT term"
            )
        end = shortest_span_end(expression, FLOOR_START)
        if end is not None and end < add_months(FLOOR_START, FLOOR_MONTHS) and approval is None:
            errors.append(
                f"{where}: retention: '{item['retention']}' can be shorter than 7 years, which "
                "needs a Public Records Board approval: add approval.reference (Wis. Stat. "
                "19.21(4)(b))"
            )
        disposition = item["disposition"]
        if expression.kind == "perm" and disposition != "retain_permanently":
            errors.append(
                f"{where}: disposition: PERM series are retained permanently, not '{disposition}'"
            )
        if disposition == "retain_permanently" and expression.kind != "perm":
            errors.append(f"{where}: disposition: retain_permanently needs retention PERM")
        whs = item["whs_notice"]
        if item["applies_to"] == "record" and disposition == "destroy" and whs == "not_applicable":
            errors.append(
                f"{where}: whs_notice: records are destroyed only after notice to the Wisconsin "
                "Historical Society (required) or under its waiver (waived), Wis. Stat. "
                "19.21(4)(a)"
            )
        if whs == "waived" and not item.get("whs_waiver_reference"):
            errors.append(f"{where}: whs_waiver_reference: a waived notice cites the waiver")
        series.append(
            Series(
                schedule_id=data["id"],
                code=item["code"],
                title=item["title"],
                description=item["description"],
                applies_to=item["applies_to"],
                retention=item["retention"],
                expression=expression,
                trigger_event=trigger,
                disposition=disposition,
                whs_notice=whs,
                authority=tuple(item["authority"]),
                default=bool(item.get("default", False)),
                whs_waiver_reference=item.get("whs_waiver_reference"),
            )
        )
    if len(errors) > before:
        return None
    return Schedule(
        id=data["id"],
        title=data["title"],
        jurisdiction=data["jurisdiction"],
        version=data["version"],
        path=path,
        approval=approval,
        fiscal_year_end=fye,
        authority=tuple(data.get("authority") or ()),
        example=bool(data.get("example", False)),
        series=tuple(series),
    )


def load_schedules(folder: Path, *, today: dt.date | None = None) -> ScheduleSet:
    """Load and validate every schedule file in `folder`; raise ScheduleError on any problem."""
    today = today or dt.datetime.now(dt.UTC).date()
    folder = Path(folder)
    if not folder.is_dir():
        raise ScheduleError([f"{folder}: the retention schedules folder does not exist"])
    errors: list[str] = []
    schedules: list[Schedule] = []
    ids: dict[str, str] = {}
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    for path in paths:
        data = _read_file(path, errors)
        if data is None:
            continue
        schedule = _check_schedule(path, data, today, errors)
        if schedule is None:
            continue
        if schedule.id in ids:
            errors.append(f"{path.name}: id: '{schedule.id}' is also the id of {ids[schedule.id]}")
            continue
        ids[schedule.id] = path.name
        schedules.append(replace(schedule, sha256=hashlib.sha256(path.read_bytes()).hexdigest()))

    by_code: dict[str, tuple[Schedule, Series]] = {}
    for schedule in schedules:
        for item in schedule.series:
            if item.code in by_code:
                other = by_code[item.code][0].path.name
                errors.append(
                    f"{schedule.path.name}: series {item.code}: code: also used in {other}"
                )
            else:
                by_code[item.code] = (schedule, item)

    by_label: dict[str, tuple[Schedule, Series]] = {}
    for label in LABELS:
        claims = [(s, x) for s in schedules for x in s.series if x.applies_to == label]
        defaults = [c for c in claims if c[1].default]
        names = ", ".join(f"{s.path.name} series {x.code}" for s, x in claims)
        if len(claims) == 1:
            by_label[label] = claims[0]
        elif len(claims) > 1 and len(defaults) == 1:
            by_label[label] = defaults[0]
        elif len(claims) > 1 and not defaults:
            errors.append(
                f"{claims[1][0].path.name}: series {claims[1][1].code}: default: {len(claims)} "
                f"series apply to '{label}' ({names}) and none is marked default: true"
            )
        elif len(defaults) > 1:
            errors.append(
                f"{defaults[1][0].path.name}: series {defaults[1][1].code}: default: "
                f"{len(defaults)} series apply to '{label}' as default ("
                + ", ".join(f"{s.path.name} series {x.code}" for s, x in defaults)
                + "); mark only one"
            )
    if not errors:
        if not schedules:
            errors.append(f"{folder}: no schedule files (YAML with kind: {SCHEDULE_KIND})")
        for label in LABELS:
            if schedules and label not in by_label:
                errors.append(
                    f"{folder}: no series applies_to '{label}'; the classifier can give that "
                    "label, so some series must apply to it"
                )
    if errors:
        raise ScheduleError(errors)
    return ScheduleSet(
        folder=folder, schedules=tuple(schedules), _by_code=by_code, _by_label=by_label
    )


log = logging.getLogger("postvault.retention")
_CACHE: dict[Path, tuple[tuple[tuple[str, int, int], ...], ScheduleSet]] = {}
_CACHE_LOCK = threading.Lock()


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError:
        return ()


def current_schedules(folder: Path) -> ScheduleSet:
    """The schedules as the folder holds them now: loaded again when a file changed (so a
    changed schedule needs no restart), else the set loaded before. A change that makes the
    folder invalid is logged and the last valid set kept; ScheduleError only when no valid set
    was ever loaded from it."""
    folder = Path(folder)
    fingerprint = _fingerprint(folder)
    with _CACHE_LOCK:
        cached = _CACHE.get(folder)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        try:
            loaded = load_schedules(folder)
        except ScheduleError as exc:
            if cached is None:
                raise
            log.error("the changed retention schedules in %s are not used: %s", folder, exc)
            _CACHE[folder] = (fingerprint, cached[1])  # logged once per change
            return cached[1]
        _CACHE[folder] = (fingerprint, loaded)
        return loaded
