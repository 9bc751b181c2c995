"""Values staff enter by hand (reported indicator values, population, settings, patent awards),
kept in `indicator_entry` and never overwritten: a correction is a new row that names the row it
corrects; the earlier row stays, so the trail shows every value, who entered it, when, and from
which document. Two people correcting the same row at once: the second is refused (the unique
`supersedes_id`), not lost."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from xjip.hub import models as m
from xjip.i18n import both
from xjip.indicators import config, definitions

KINDS = ("reported", "population", "setting", "award", "report_text")
REPORT_SECTIONS = ("summary", "creation", "utilisation", "protection", "services", "gi", "opening")
MAX_REPORT_TEXT = 20_000
AWARDS = ("china_patent_award", "national_st_award")
MAX_TEXT = 500


class EntryError(ValueError):
    """Bad input to an entry: `field` names the form field; the message is in both languages."""

    def __init__(self, code: str, field: str, **params: Any):
        self.code, self.field, self.params = code, field, params
        self.zh, self.en = both(f"indicators.entry.{code}", field=field, **params)
        super().__init__(f"{self.zh} / {self.en}")


@dataclass
class EntryInput:
    kind: str
    key: str
    source_document: str
    entered_by: str
    year: int | None = None
    region_code: str | None = None
    value: Any = None
    value_json: dict[str, Any] | None = None
    note: str | None = None
    withdrawn: bool = False


def _text(value: Any, field: str, required: bool = True) -> str | None:
    text = (str(value) if value is not None else "").strip()
    if not text:
        if required:
            raise EntryError("required", field)
        return None
    if len(text) > MAX_TEXT:
        raise EntryError("too_long", field, limit=MAX_TEXT)
    return text


def _number(value: Any, field: str) -> float:
    try:
        number = float(str(value).strip().replace(",", ""))
    except (TypeError, ValueError):
        raise EntryError("not_a_number", field, value=str(value)[:40]) from None
    if not math.isfinite(number) or number < 0:
        raise EntryError("not_a_number", field, value=str(value)[:40])
    return number


def validate(e: EntryInput) -> dict[str, Any]:
    """The row to store, or EntryError naming the field."""
    if e.kind not in KINDS:
        raise EntryError("bad_kind", "kind", value=str(e.kind)[:20])
    row: dict[str, Any] = {"kind": e.kind, "source_document": _text(e.source_document, "source_document"),
                           "entered_by": _text(e.entered_by, "entered_by"), "note": _text(e.note, "note", False),
                           "withdrawn": bool(e.withdrawn), "value": None, "value_json": None, "unit": None}
    key = _text(e.key, "key")
    if e.year is not None:
        if isinstance(e.year, bool) or not isinstance(e.year, int) or not 1985 <= e.year <= 2100:
            raise EntryError("bad_year", "year", value=str(e.year)[:10])
    region = _text(e.region_code, "region_code", False)
    if region is not None and not (region.isdigit() and len(region) == 6):
        raise EntryError("bad_region", "region_code", value=region[:12])
    if e.kind == "reported":
        try:
            ind = definitions.by_id(key)
        except KeyError:
            raise EntryError("bad_indicator", "key", value=key[:40]) from None
        if e.year is None:
            raise EntryError("required", "year")
        row.update(unit=ind.unit, region_code=region or "650000")
        if not e.withdrawn:
            row["value"] = _number(e.value, "value")
    elif e.kind == "population":
        if e.year is None:
            raise EntryError("required", "year")
        if region is None:
            raise EntryError("required", "region_code")
        row.update(unit="persons", region_code=region)
        key = key or "year_end_resident_population"
        if not e.withdrawn:
            row["value"] = float(round(_number(e.value, "value")))
            if row["value"] < 1:
                raise EntryError("not_a_number", "value", value=str(e.value)[:40])
    elif e.kind == "setting" and key.startswith("value_weights_"):
        from xjip.indicators.value import SCENARIOS

        if key[len("value_weights_"):] not in SCENARIOS:
            raise EntryError("bad_setting", "key", value=key[:40])
        try:
            parts = tuple(float(v) for v in str(e.value).replace("，", ",").split(","))
        except ValueError:
            raise EntryError("bad_setting_value", "value", value=str(e.value)[:40]) from None
        if len(parts) != 3 or any(not math.isfinite(v) or v < 0 for v in parts) or abs(sum(parts) - 1) > 0.001:
            raise EntryError("bad_setting_value", "value", value=str(e.value)[:40])
        row["value_json"] = {"value": list(parts)}
    elif e.kind == "setting":
        try:
            row["value_json"] = {"value": config.coerce(key, e.value)} if not e.withdrawn else None
        except KeyError:
            raise EntryError("bad_setting", "key", value=key[:40]) from None
        except (TypeError, ValueError):
            raise EntryError("bad_setting_value", "value", value=str(e.value)[:40]) from None
    elif e.kind == "report_text":
        if key not in REPORT_SECTIONS:
            raise EntryError("bad_section", "key", value=key[:40])
        if e.year is None:
            raise EntryError("required", "year")
        if not e.withdrawn:
            text = (str(e.value) if e.value is not None else "").strip()
            if not text:
                raise EntryError("required", "text")
            if len(text) > MAX_REPORT_TEXT:
                raise EntryError("too_long", "text", limit=MAX_REPORT_TEXT)
            row["value_json"] = {"text": text}
    elif e.kind == "award":
        award = (e.value_json or {}).get("award")
        if award not in AWARDS:
            raise EntryError("bad_award", "award", value=str(award)[:40])
        if e.year is None:
            raise EntryError("required", "year")
        key = key.upper().replace(" ", "")
        row["value_json"] = {"award": award, "level": _text((e.value_json or {}).get("level"), "level", False)}
    row.update(key=key, year=e.year, region_code=row.get("region_code", region))
    return row


def add(session: Session, e: EntryInput, supersedes: int | None = None) -> m.IndicatorEntry:
    """Store a new entry; with `supersedes`, a correction of that (current) entry. Flushes, does
    not commit (the caller's transaction)."""
    row = validate(e)
    if supersedes is not None:
        old = session.get(m.IndicatorEntry, supersedes) if m.is_row_id(supersedes) else None
        if old is None:
            raise EntryError("not_found", "supersedes_id", value=str(supersedes))
        if session.scalar(select(m.IndicatorEntry.id).where(m.IndicatorEntry.supersedes_id == old.id)) is not None:
            raise EntryError("already_corrected", "supersedes_id", value=str(supersedes))
        if (old.kind, old.key) != (row["kind"], row["key"]):
            raise EntryError("correction_mismatch", "key", value=row["key"][:40])
        row["supersedes_id"] = old.id
    elif row["kind"] not in ("award",) and _current_row(session, row) is not None:
        # A second value for the same thing would silently replace the first: correct it instead.
        raise EntryError("exists", "key", value=row["key"][:40])
    entry = m.IndicatorEntry(**row, entered_at=m.utcnow())
    session.add(entry)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise EntryError("already_corrected", "supersedes_id", value=str(supersedes)) from None
    return entry


def _current_row(session: Session, row: dict[str, Any]) -> m.IndicatorEntry | None:
    for entry in current(session, row["kind"], row["key"]):
        if entry.year == row["year"] and entry.region_code == row["region_code"]:
            return entry
    return None


def current(session: Session, kind: str, key: str | None = None) -> list[m.IndicatorEntry]:
    """The entries nobody has corrected (withdrawn ones included: they say 'no value')."""
    later = aliased(m.IndicatorEntry)
    stmt = (select(m.IndicatorEntry).where(m.IndicatorEntry.kind == kind)
            .where(~select(later.id).where(later.supersedes_id == m.IndicatorEntry.id).exists())
            .order_by(m.IndicatorEntry.id))
    if key is not None:
        stmt = stmt.where(m.IndicatorEntry.key == key)
    return list(session.scalars(stmt))


def history(session: Session, entry_id: int) -> list[m.IndicatorEntry]:
    """The entry and every row it corrected, newest first."""
    out: list[m.IndicatorEntry] = []
    entry = session.get(m.IndicatorEntry, entry_id) if m.is_row_id(entry_id) else None
    while entry is not None and len(out) < 1000:
        out.append(entry)
        entry = session.get(m.IndicatorEntry, entry.supersedes_id) if entry.supersedes_id else None
    return out


def as_dict(e: m.IndicatorEntry) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "key": e.key, "year": e.year, "region_code": e.region_code,
            "value": e.value, "value_json": e.value_json, "unit": e.unit, "source_document": e.source_document,
            "note": e.note, "entered_by": e.entered_by,
            "entered_at": e.entered_at.isoformat() if isinstance(e.entered_at, dt.datetime) else e.entered_at,
            "supersedes_id": e.supersedes_id, "withdrawn": e.withdrawn}


def load_settings(session: Session) -> config.IndicatorSettings:
    values = {e.key: e.value_json["value"] for e in current(session, "setting")
              if not e.withdrawn and e.value_json and "value" in e.value_json}
    base = config.IndicatorSettings()
    out = {}
    for k, v in values.items():
        if k.startswith("value_weights_"):
            continue  # read by xjip.indicators.value.weights
        try:
            out[k] = config.coerce(k, v)
        except (KeyError, ValueError, TypeError):
            continue  # a setting a later version no longer has
    return config.IndicatorSettings(**{**base.__dict__, **out})


def reported(session: Session, year: int | None = None) -> dict[tuple[str, int, str], m.IndicatorEntry]:
    """Current reported values by (indicator, year, region code)."""
    return {(e.key, e.year, e.region_code): e for e in current(session, "reported")
            if not e.withdrawn and (year is None or e.year == year)}


def population_overrides(session: Session) -> dict[tuple[str, int], m.IndicatorEntry]:
    return {(e.region_code, e.year): e for e in current(session, "population") if not e.withdrawn}


def awards(session: Session) -> dict[str, m.IndicatorEntry]:
    return {e.key: e for e in current(session, "award") if not e.withdrawn}
