"""One application, one record: how rows about the same application are put together.

An export may give an application's A publication and its B publication as two rows; a second
source (USPTO XML after a Patentics export) may describe it again. They make one patent record:
- every publication named by any row is kept (`patent_publication`); the record shows the first
  publication and the grant among them (`numbers.first_and_grant`), corrections (A8, B9) listed
  but never shown as either;
- the bibliographic values (title, abstract, applicants, IPC, status…) are those of the row with
  the latest publication: a grant says what was granted, after amendments. Rows of older
  publications only fill what it lacks, whatever order the rows come in;
- a row that disagrees in substance (not in case, spacing or punctuation) about what identifies
  the application, its title or its filing date, is kept: the record keeps one value and the
  other is recorded with the row that gave it (`patent_conflict`), shown on the record page and
  counted on the job page.
The database side is in `writers` (store_patents); this module holds the rules.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from xjip.hub import numbers
from xjip.hub.records import PatentRecord, Publication

# Fields whose disagreement is a conflict: they identify the application. Others (applicants
# after an assignment, IPC after reclassification, legal status) change over its life.
CONFLICT_FIELDS = ("title", "app_date")

_NOT_WORD = re.compile(r"[\W_]+")


def publications_of(rec: PatentRecord) -> list[list[Any]]:
    """[number, country, kind, date, is_grant] for each publication of a record: those it lists,
    else its `pub_number` and `grant_number`."""
    pubs = rec.publications
    if not pubs:
        pubs = []
        if rec.pub_number:
            same = rec.pub_number == rec.grant_number
            pubs.append(Publication(rec.pub_number, None, rec.pub_date or (rec.grant_date if same else None)))
        if rec.grant_number and rec.grant_number != rec.pub_number:
            pubs.append(Publication(rec.grant_number, None, rec.grant_date))
    out: dict[str, list[Any]] = {}
    for p in pubs:
        if not p.number or p.number in out:
            continue
        country, _, kind = numbers.split_pub(p.number)
        kind = p.kind or kind
        granted = True if p.number == rec.grant_number else numbers.is_grant(p.number, kind)
        out[p.number] = [p.number, country or None, kind, p.date, bool(granted)]
    return list(out.values())


def numbers_of(pubs: list[list[Any]]) -> dict[str, Any] | None:
    """The record's shown numbers from its publications: the first publication, the grant, and
    the kind code of the grant (of the first publication while there is none)."""
    first, grant = numbers.first_and_grant([(p[0], p[2], p[3], p[4]) for p in pubs])
    if first is None:
        return None
    return {"pub_number": first[0], "pub_date": first[2], "grant_number": grant[0] if grant else None,
            "grant_date": grant[2] if grant else None, "kind_code": (grant or first)[1]}


def latest_date(pubs: list[list[Any]]) -> str | None:
    """ISO date of a row's latest publication: the row with the latest one gives the values."""
    dates = [iso(p[3]) for p in pubs if p[3] is not None]
    return max(dates) if dates else None


def iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)[:10]


def normalised(field: str, value: Any) -> str | None:
    """What must be equal for two rows to agree: a title without case, width, spacing and
    punctuation ('PREDICTIVE INVENTORY MANAGEMENT' = 'Predictive inventory management'); a date
    as ISO text."""
    if value is None or value == "":
        return None
    if field == "app_date":
        return iso(value)
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _NOT_WORD.sub("", text) or None


def disagreements(stored: dict[str, Any], incoming: dict[str, Any]) -> list[str]:
    """Fields of CONFLICT_FIELDS on which two rows both have a value and differ in substance."""
    out = []
    for field in CONFLICT_FIELDS:
        a, b = normalised(field, stored.get(field)), normalised(field, incoming.get(field))
        if a is not None and b is not None and a != b:
            out.append(field)
    return out


def incoming_wins(stored_latest: str | None, incoming_latest: str | None, repeat: bool) -> bool:
    """Whether a row's values replace the record's (else it only fills what is empty).
    Another source or a re-import: yes, unless its latest publication is older than the
    record's. Another row of the same file: only when its publication is newer, so the first
    of two rows about the same publication stays."""
    if repeat:
        return incoming_latest is not None and (stored_latest is None or incoming_latest > stored_latest)
    return not (stored_latest and incoming_latest and incoming_latest < stored_latest)
