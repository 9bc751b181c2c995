"""What the index holds for each record the hub stores: one flat document per record, built from
the hub's tables with plain reads (no part's internals). Field names are the index's
(`index.FIELDS`); text goes through `text.analyse` here, once."""
from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import numbers
from xjip.hub.queries import is_organisation

# Every record type the index covers: the hub's rights, owners (entities and aliases) and laws
# article by article (`law_article` rows, loaded by `xjip reference sync`).
INDEXED_TYPES = ("patent", "trademark", "gi", "gi_mark_user", "copyright", "plant_variety", "transaction",
                 "pledge", "case", "institution", "entity", "law")
MODELS: dict[str, Any] = {**m.RIGHT_MODELS, "entity": m.Entity, "law": m.LawArticle}
CHUNK = 1000
MAX_TEXT = 200_000  # characters of one record's full text that are indexed (a description may be longer)


@dataclass
class Doc:
    record_type: str
    record_id: int
    text: dict[str, list[str]] = field(default_factory=dict)  # field → texts to analyse
    raw: dict[str, list[str]] = field(default_factory=dict)  # field → exact values
    ints: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # names that get a pinyin field

    @property
    def key(self) -> str:
        return f"{self.record_type}:{self.record_id}"

    def add(self, name: str, *values: Any) -> None:
        self.text.setdefault(name, []).extend(str(v) for v in values if v)

    def add_raw(self, name: str, *values: Any) -> None:
        self.raw.setdefault(name, []).extend(str(v) for v in values if v not in (None, ""))


def ymd(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    return None


_CHECK = re.compile(r"\.[0-9X]$")
_KIND = re.compile(r"(?<=\d)[A-Z]\d?$")
_OFFICE = re.compile(r"^[A-Z]{2}(?=\d)")


def number_forms(*values: Any) -> list[str]:
    """Every form of a number that a person may type: letters and digits only, with and without
    the office code, the CN check digit and the kind code (CN218751475U → CN218751475U,
    218751475U, CN218751475, 218751475). A query's number is looked up by its own compact form
    (`query.number_terms`), so any of these finds the record."""
    out: set[str] = set()
    for value in values:
        if not value:
            continue
        text = str(value).upper().strip()
        bases = ["".join(ch for ch in text if ch.isalnum())]
        if _CHECK.search(text):
            bases.append("".join(ch for ch in text[:-2] if ch.isalnum()))
        for base in bases:
            for form in (base, _KIND.sub("", base)):
                out.add(form)
                out.add(_OFFICE.sub("", form))
    return sorted(o for o in out if o)


def _date_fields(doc: Doc, date: Any, ad: Any = None, pd: Any = None, gd: Any = None) -> None:
    for name, value in (("date", date), ("ad", ad), ("pd", pd), ("gd", gd)):
        v = ymd(value)
        if v is not None:
            doc.ints[name] = v
    if "date" in doc.ints:
        doc.ints["year"] = doc.ints["date"] // 10000
    if "gd" in doc.ints:
        doc.ints["gyear"] = doc.ints["gd"] // 10000


def _place(doc: Doc, row: Any, province: str | None = None) -> None:
    doc.add_raw("pref", getattr(row, "prefecture_code", None))
    doc.add_raw("county", getattr(row, "county_code", None))
    region = getattr(row, "region_code", None)
    doc.add_raw("region", region)
    prov = province or (region[:2] if region else None) or \
        ((getattr(row, "prefecture_code", None) or "")[:2] or None)
    doc.add_raw("prov", prov)


def _common(doc: Doc, row: Any) -> None:
    doc.add_raw("syn", "1" if getattr(row, "is_synthetic", False) else "0")
    _place(doc, row)


def _ipc_levels(doc: Doc, codes: Iterable[str]) -> None:
    for code in codes:
        c = numbers.canonical_ipc(code) if code else None
        if not c:
            continue
        doc.add_raw("ipc", c)
        doc.add_raw("ipc_sec", c[:1])
        doc.add_raw("ipc_cls", c[:3])
        if len(c) >= 4:
            doc.add_raw("ipc_sub", c[:4])
        if "/" in c:
            doc.add_raw("ipc_grp", c.split("/")[0] + "/00")


def _rows(session: Session, model: Any, ids: list[int] | None, after: int | None, limit: int) -> list[Any]:
    # plain rows, not ORM objects: building the objects cost more than analysing their text
    table = model.__table__
    stmt = select(table)
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(ids))
    elif after is not None:
        stmt = stmt.where(table.c.id > after)
    return session.execute(stmt.order_by(table.c.id).limit(limit if ids is None else len(ids))).all()


def _parties(session: Session, patent_ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    rows = session.execute(select(m.PatentParty.patent_id, m.PatentParty.role, m.PatentParty.name,
                                  m.PatentParty.entity_id).where(m.PatentParty.patent_id.in_(patent_ids))
                           .order_by(m.PatentParty.patent_id, m.PatentParty.role, m.PatentParty.seq))
    for r in rows:
        out.setdefault(r.patent_id, []).append(r)
    return out


def _texts(session: Session, patent_ids: list[int]) -> dict[int, Any]:
    return {r.patent_id: r for r in session.execute(
        select(m.PatentText.patent_id, m.PatentText.claims, m.PatentText.description)
        .where(m.PatentText.patent_id.in_(patent_ids)))}


def _patents(session: Session, rows: list[Any]) -> Iterator[Doc]:
    ids = [r.id for r in rows]
    parties, texts = _parties(session, ids), _texts(session, ids)
    for r in rows:
        d = Doc("patent", r.id)
        _common(d, r)
        d.add_raw("prov", r.province_code)
        d.add("ti", r.title, r.title_en)
        d.add("ab", r.abstract)
        claims = [r.first_claim]
        full = texts.get(r.id)
        if full is not None:
            claims += [c if isinstance(c, str) else str(c) for c in (full.claims or [])]
        d.add("cl", *claims)
        d.add("tx", r.title, r.title_en, r.abstract, *claims, (full.description or "")[:MAX_TEXT] if full else None)
        applicants = [p for p in parties.get(r.id, []) if p.role == "applicant"] or []
        names = [p.name for p in applicants] or [r.first_applicant]
        d.add("pa", *names)
        d.names += [n for n in names if n]
        inventors = [p.name for p in parties.get(r.id, []) if p.role == "inventor"] + \
            [i if isinstance(i, str) else (i or {}).get("name", "") for i in (r.inventors or [])]
        d.add("inv", *dict.fromkeys(inventors))
        d.add("agc", r.agency, *[a if isinstance(a, str) else "" for a in (r.agents or [])])
        d.add_raw("num", *number_forms(r.app_number, r.pub_number, r.grant_number, r.pct_app_number))
        _ipc_levels(d, [*(r.ipc or []), r.ipc_main])
        d.add_raw("status", r.status)
        d.add_raw("kind", r.patent_type)
        ents = sorted({p.entity_id for p in applicants if p.entity_id} |
                      ({r.first_applicant_entity_id} if r.first_applicant_entity_id else set()))
        d.add_raw("ent", *ents)
        d.add_raw("copair", *[f"{a}-{b}" for a, b in itertools.combinations(ents[:12], 2)])
        _date_fields(d, r.app_date, r.app_date, r.pub_date, r.grant_date)
        yield d


def _simple(record_type: str, session: Session, rows: list[Any]) -> Iterator[Doc]:
    for r in rows:
        d = Doc(record_type, r.id)
        _common(d, r)
        if record_type == "trademark":
            translit = [str(v) for v in (r.transliterations or {}).values()]
            d.add("ti", r.word_element)
            d.add("tx", r.word_element, r.goods, *translit)
            d.add("pa", r.owner_name)
            d.add("agc", r.agent)
            d.names += [r.word_element or "", r.owner_name or ""]
            d.add_raw("num", *number_forms(r.app_number, r.reg_number))
            d.add_raw("status", r.status)
            d.add_raw("kind", r.mark_kind)
            d.add_raw("ent", r.owner_entity_id)
            _date_fields(d, r.app_date, r.app_date, None, r.reg_date)
        elif record_type == "gi":
            d.add("ti", r.name)
            d.add("tx", r.name, r.category, r.protected_area_text, r.standard, r.authority, r.notes)
            d.add("pa", r.applicant)
            d.names += [r.name, r.applicant or ""]
            d.add_raw("num", *number_forms(r.registration_no), r.announcement_no)
            d.add_raw("status", r.status)
            d.add_raw("kind", r.gi_system)
            d.add_raw("ent", r.applicant_entity_id)
            _date_fields(d, r.approval_date, r.approval_date, None, r.approval_date)
        elif record_type == "gi_mark_user":
            d.add("ti", r.user_name)
            d.add("tx", r.gi_name, r.user_name)
            d.add("pa", r.user_name)
            d.names += [r.user_name, r.gi_name]
            d.add_raw("num", r.credit_code, r.announcement_no)
            d.add_raw("ent", r.entity_id)
            _date_fields(d, r.approved_date, r.approved_date, None, r.approved_date)
        elif record_type == "copyright":
            d.add("ti", r.title)
            d.add("tx", r.title, r.category)
            d.add("pa", r.owner_name)
            d.add("inv", *[a if isinstance(a, str) else "" for a in (r.authors or [])])
            d.names += [r.title or "", r.owner_name or ""]
            d.add_raw("num", *number_forms(r.key), r.key)
            d.add_raw("kind", r.kind)
            d.add_raw("ent", r.owner_entity_id)
            _date_fields(d, r.reg_date, r.completion_date, r.first_publication_date, r.reg_date)
        elif record_type == "plant_variety":
            d.add("ti", r.name)
            d.add("tx", r.name, r.species)
            d.add("pa", r.applicant)
            d.add("inv", *[b if isinstance(b, str) else "" for b in (r.breeders or [])])
            d.names += [r.name or "", r.applicant or ""]
            d.add_raw("num", *number_forms(r.key, r.grant_number), r.key)
            d.add_raw("status", r.status)
            d.add_raw("ent", r.applicant_entity_id)
            _date_fields(d, r.app_date, r.app_date, None, r.grant_date)
        elif record_type == "transaction":
            d.add("ti", r.right_number, r.from_party, r.to_party)
            d.add("tx", r.right_number, r.from_party, r.to_party, r.licence_type)
            d.add("pa", r.from_party, r.to_party)
            d.names += [r.from_party or "", r.to_party or ""]
            d.add_raw("num", *number_forms(r.right_number, r.record_number))
            d.add_raw("kind", r.kind)
            d.add_raw("ent", r.to_entity_id)
            _date_fields(d, r.date, r.date, None, None)
        elif record_type == "pledge":
            d.add("ti", r.pledgor, r.pledgee)
            d.add("tx", r.pledgor, r.pledgee, *(r.right_numbers or []))
            d.add("pa", r.pledgor, r.pledgee)
            d.names += [r.pledgor or "", r.pledgee or ""]
            d.add_raw("num", *number_forms(*(r.right_numbers or [])), r.key)
            d.add_raw("status", r.status)
            d.add_raw("ent", r.pledgor_entity_id)
            _date_fields(d, r.reg_date, r.reg_date, None, None)
        elif record_type == "case":
            # Party names a person could be searched by are masked on the public pages
            # (queries.MASKING_POLICY): only organisations' names are indexed.
            parties = [p for p in [*(r.plaintiffs or []), *(r.defendants or [])]
                       if isinstance(p, str) and is_organisation(p)]
            d.add("ti", r.cause)
            d.add("tx", r.cause, r.result, r.authority, *parties)
            d.add("pa", *parties)
            d.add_raw("num", r.key)
            d.add_raw("kind", r.kind)
            _date_fields(d, r.accepted_date, r.accepted_date, None, r.closed_date)
        elif record_type == "institution":
            d.add("ti", r.name)
            d.add("tx", r.name, r.address)
            d.add("pa", r.name)
            d.names.append(r.name)
            d.add_raw("num", r.credit_code, r.licence_number)
            d.add_raw("kind", r.kind)
            d.add_raw("ent", r.entity_id)
            _date_fields(d, r.established_date, r.established_date, None, None)
        yield d


def _entities(session: Session, rows: list[Any]) -> Iterator[Doc]:
    live = [r for r in rows if r.merged_into is None]
    aliases: dict[int, list[str]] = {}
    if live:
        for eid, alias in session.execute(select(m.EntityAlias.entity_id, m.EntityAlias.alias)
                                          .where(m.EntityAlias.entity_id.in_([r.id for r in live]))):
            aliases.setdefault(eid, []).append(alias)
    for r in live:
        d = Doc("entity", r.id)
        _place(d, r)
        d.add_raw("syn", "0")
        names = [r.name, *aliases.get(r.id, [])]
        d.add("ti", r.name)
        d.add("pa", *names)
        d.add("tx", *names)
        d.names += names
        d.add_raw("kind", r.kind)
        d.add_raw("ent", r.id)
        _date_fields(d, r.created_at)
        yield d


def _laws(session: Session, rows: list[Any]) -> Iterator[Doc]:
    laws = {r.id: r for r in session.execute(select(m.Law.__table__).where(m.Law.id.in_({a.law_id for a in rows})))} \
        if rows else {}
    for a in rows:
        law = laws.get(a.law_id)
        d = Doc("law", a.id)
        d.add_raw("syn", "0")
        d.add("ti", law.title if law else None, a.number)
        d.add("tx", a.chapter, a.text)
        d.add_raw("kind", law.category if law else None)
        _date_fields(d, law.version_date if law else None)
        yield d


def build_docs(session: Session, record_type: str, rows: list[Any]) -> Iterator[Doc]:
    if record_type == "patent":
        return _patents(session, rows)
    if record_type == "entity":
        return _entities(session, rows)
    if record_type == "law":
        return _laws(session, rows)
    return _simple(record_type, session, rows)


def iter_docs(session: Session, record_type: str, ids: list[int] | None = None,
              chunk: int = CHUNK, after: int = 0) -> Iterator[tuple[list[int], list[Doc]]]:
    """([ids read], [docs]) chunk by chunk: every record of the type (with an id above `after`: a
    resumed rebuild), or those of `ids`. An id whose row is gone (or an entity merged away) yields
    no doc: the caller deletes it."""
    model = MODELS[record_type]
    if ids is not None:
        wanted = sorted({int(i) for i in ids if m.is_row_id(int(i))})
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            rows = _rows(session, model, part, None, chunk)
            yield part, list(build_docs(session, record_type, rows))
            session.expunge_all()
        return
    while True:
        rows = _rows(session, model, None, after, chunk)
        if not rows:
            return
        after = rows[-1].id
        yield [r.id for r in rows], list(build_docs(session, record_type, rows))
        session.expunge_all()


def count_rows(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {t: int(session.scalar(select(func.count()).select_from(MODELS[t])) or 0) for t in INDEXED_TYPES}
