"""The compiled list of Xinjiang geographical indications (``gi/xinjiang_gi_records.csv``):
one row per (name, GI system), columns record_id, name_zh, gi_type, status, product_category,
protected_area_text, prefecture_codes/names, county_codes/names, authority, announcement_no,
approval_date, applicant_or_holder, registration_no, nice_class, special_mark_or_other_events,
confidence, source_url, source_note (see the folder README).

Rules
- region_codes: the county codes when given, else the prefecture codes (`;`-separated, 6 digits).
- approval_date is printed as found (``2011``, ``2013-01``, ``2003 (publicised 2003-09-02)``,
  ``before 2009-10``): `approval_date_text` keeps it verbatim, `approval_date` is set only when the
  text starts with a full date. A partial or descriptive date never rejects a row.
- The natural key is name|gi_system, as for GIs imported through the `tpl_gi` template.
- status is a code, sometimes with a remark (``application_submitted (2019)``,
  ``applied/registered (wording: 申请注册了中国地理标志商标)``): the code is stored as the status
  (``applied/registered`` spelt as its code, ``applied_or_registered``), so that pages label and
  count it, and the remark goes to the notes. A value that is not a known code is kept as is.
- applicant_or_holder sometimes ends with the compiler's note in half-width brackets after a
  space (``和田地区 (as printed)``, ``…协会 (2002年组建)``): the name is what stands before it,
  the note goes to the notes (the source record keeps the row as read). A name's own full-width
  brackets (``…（有限合伙）``) are part of the name.

``xinjiang_gi_special_mark_events.csv`` is not imported: its rows are aggregate facts (counts of
authorised enterprises, an association's founding) with enterprise names, where any, inside
English prose; none is one enterprise's authorisation with a GI and a date, which is what a
`GIMarkUserRecord` is.
"""
from __future__ import annotations

import re
from typing import Any

from xjip.hub.importers._tabular import head_rows, iter_rows, normalise_header
from xjip.hub.importers.base import Source, clean, register, split_multi
from xjip.hub.importers.templates import GI_SYSTEMS, nice_class, split_partial_date
from xjip.hub.records import GIRecord, ItemStream, Locator, RecordError, Rejection

COLUMNS = ("record_id", "name_zh", "gi_type", "status", "product_category", "protected_area_text",
           "prefecture_codes", "prefecture_names", "county_codes", "county_names", "authority", "announcement_no",
           "approval_date", "applicant_or_holder", "registration_no", "nice_class", "special_mark_or_other_events",
           "confidence", "source_url", "source_note")
REQUIRED = {"name_zh", "gi_type"}
SYSTEMS = {c.value for c in GI_SYSTEMS}
CONFIDENCE = {"high", "medium", "low"}
STATUSES = {"approved_or_registered", "application_accepted", "application_submitted", "planned_application",
            "applied_or_registered"}  # the folder README's list
_STATUS = re.compile(r"([a-z_/]+)\s*(?:\((.*)\))?")


def split_status(value: Any) -> tuple[str | None, str | None]:
    """(status code, remark) of the status column."""
    text = clean(value)
    if not text:
        return None, None
    match = _STATUS.fullmatch(text)
    code = match.group(1).replace("/", "_or_") if match else None
    if code not in STATUSES:
        return text, None
    return code, clean(match.group(2))


def _codes(value: Any, column: str) -> list[str]:
    codes = split_multi(value, ";；,，")
    for code in codes:
        if not (code.isdigit() and len(code) == 6):
            raise RecordError("bad_value", column, value=code)
    return codes


_NAME_NOTE = re.compile(r"^(?P<name>.*?\S)\s+\((?P<note>[^()]*)\)$")


def split_name_note(value: Any) -> tuple[str | None, str | None]:
    """(name, note): a trailing half-width bracketed note after a space is the compiler's
    remark, not part of the name ("和田地区 (as printed)" → 和田地区, as printed). Only after a
    Chinese name: an English name's "(Holdings)" may be its own."""
    text = clean(value)
    match = _NAME_NOTE.match(text) if text else None
    if not match or not re.search(r"[\u4e00-\u9fff]", match.group("name")):  # Chinese names only
        return text, None
    return match.group("name"), match.group("note").strip() or None


def row_to_record(values: dict[str, Any]) -> GIRecord:
    """One row (column → value) → GIRecord; RecordError on a missing or bad value."""
    name = clean(values.get("name_zh"))
    if not name:
        raise RecordError("missing_field", "name_zh")
    system = clean(values.get("gi_type"))
    if not system:
        raise RecordError("missing_field", "gi_type")
    if system not in SYSTEMS:
        raise RecordError("bad_value", "gi_type", value=system)
    confidence = clean(values.get("confidence"))
    if confidence is not None and confidence not in CONFIDENCE:
        raise RecordError("bad_value", "confidence", value=confidence)
    counties = _codes(values.get("county_codes"), "county_codes")
    prefectures = _codes(values.get("prefecture_codes"), "prefecture_codes")
    approval, approval_text = split_partial_date(values.get("approval_date"), "approval_date", strict=False)
    nice = clean(values.get("nice_class"))
    try:
        nice = nice_class(nice) if nice else None
    except ValueError:
        raise RecordError("bad_value", "nice_class", value=nice) from None
    status, remark = split_status(values.get("status"))
    applicant, applicant_note = split_name_note(values.get("applicant_or_holder"))
    notes = [f"状态说明 / status remark: {remark}" if remark else None,
             f"申请人说明 / applicant note: {applicant_note}" if applicant_note else None,
             *(clean(values.get(k)) for k in ("special_mark_or_other_events", "source_note"))]
    return GIRecord(
        name=name,
        gi_system=system,
        status=status,
        category=clean(values.get("product_category")),
        protected_area_text=clean(values.get("protected_area_text")),
        region_codes=counties or prefectures,
        authority=clean(values.get("authority")),
        announcement_no=clean(values.get("announcement_no")),
        approval_date=approval,
        approval_date_text=approval_text,
        applicant=applicant,
        registration_no=clean(values.get("registration_no")),
        nice_class=nice,
        confidence=confidence,
        source_url=clean(values.get("source_url")),
        notes="\n".join(n for n in notes if n) or None,
    )


class GIListImporter:
    name = "gi_list"
    record_types = ("gi",)

    def sniff(self, head: bytes, name: str) -> int:
        return self.sniff_rows(head_rows(head), name)

    def sniff_rows(self, rows: list[list[str]], name: str) -> int:
        for row in rows[:3]:
            cols = {normalise_header(c) for c in row}
            if {"namezh", "gitype"} <= cols:
                known = len(cols & {normalise_header(c) for c in COLUMNS})
                return 70 + min(25, known)
        return 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        seen: dict[str, int | None] = {}
        for item in iter_rows(source, required=REQUIRED, aliases={c: c for c in COLUMNS}):
            if isinstance(item, Rejection):
                yield item
                continue
            try:
                record = row_to_record(item.values)
            except RecordError as err:
                loc = item.locator
                yield Rejection(Locator(loc.file, loc.record, loc.line, item.cell_of(err.field or "")), err.code,
                                err.field, err.params, item.raw)
                continue
            key = record.natural_key()
            if key in seen:
                yield Rejection(item.locator, "duplicate_key", None, {"key": key, "first": seen[key]}, item.raw)
                continue
            seen[key] = item.locator.record
            record.locator, record.raw = item.locator, item.raw
            yield record


gi_list = register(GIListImporter())
