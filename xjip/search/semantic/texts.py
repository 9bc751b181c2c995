"""The text each record type is embedded by, in one place: `TEXTS[record_type](session, ids)` →
{id: text}. A type is embedded when its record carries words that say what it is about, so that a
sentence describing a need can find it without sharing a word with it.

Types the search index holds (`xjip.search.documents.INDEXED_TYPES`) that are left out:
- gi_mark_user: an enterprise's name and the GI it may use; the GI itself is embedded.
- transaction, pledge: party names, a right's number and a kind; the right they concern is embedded.
- entity: an owner's name only; names are found by the lexical index (and its pinyin), a name's
  vector says little about what the owner does."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.i18n import t
from xjip.search import documents

Builder = Callable[[Session, list[int]], dict[int, str]]


def join(*parts: Any) -> str:
    return "。".join(str(p).strip() for p in parts if p and str(p).strip())


def patent_text(title: str | None, abstract: str | None, first_claim: str | None, title_en: str | None = None) -> str:
    return join(title or title_en, abstract or first_claim)


def _words(kind: str | None) -> str | None:
    """A code's words (`web.kind.*`, Chinese then English) so the encoder reads "专利代理机构", not "patent_agency"."""
    if not kind:
        return None
    zh, en = t(f"web.kind.{kind}", "zh"), t(f"web.kind.{kind}", "en")
    return None if zh.startswith("web.kind.") else (zh if zh == en else f"{zh} {en}")


def _rows(session: Session, cols: Iterable[Any], id_col: Any, ids: list[int]) -> list[Any]:
    return session.execute(select(*cols).where(id_col.in_(ids))).all()


def _patents(s: Session, ids: list[int]) -> dict[int, str]:
    p = m.Patent
    return {r.id: patent_text(r.title, r.abstract, r.first_claim, r.title_en)
            for r in _rows(s, (p.id, p.title, p.abstract, p.first_claim, p.title_en), p.id, ids)}


def _trademarks(s: Session, ids: list[int]) -> dict[int, str]:
    # the mark's words and the goods/services it covers (the words a clerk would describe)
    tm = m.Trademark
    return {r.id: join(r.word_element, r.goods)
            for r in _rows(s, (tm.id, tm.word_element, tm.goods), tm.id, ids)}


AREA_CHARS = 200  # a protected area's text can be a long legal citation: its first places say enough


def _gis(s: Session, ids: list[int]) -> dict[int, str]:
    # name, product category, GI system in words and where it comes from; `notes` are import
    # remarks (status, source), not a description of the product
    gi = m.GeographicalIndication
    return {r.id: join(r.name, r.category, _words(r.gi_system),
                       r.protected_area_text and f"产地：{r.protected_area_text[:AREA_CHARS]}")
            for r in _rows(s, (gi.id, gi.name, gi.category, gi.gi_system, gi.protected_area_text), gi.id, ids)}


def _copyrights(s: Session, ids: list[int]) -> dict[int, str]:
    c = m.Copyright
    return {r.id: join(r.title, r.category, _words(r.kind))
            for r in _rows(s, (c.id, c.title, c.category, c.kind), c.id, ids)}


def _plant_varieties(s: Session, ids: list[int]) -> dict[int, str]:
    pv = m.PlantVariety
    return {r.id: join(r.name, r.species and f"{r.species}品种")
            for r in _rows(s, (pv.id, pv.name, pv.species), pv.id, ids)}


def _cases(s: Session, ids: list[int]) -> dict[int, str]:
    # cause and result only: party names (persons among them are masked on public pages) stay out
    c = m.EnforcementCase
    return {r.id: join(r.cause, _words(r.right_type), r.result)
            for r in _rows(s, (c.id, c.cause, c.right_type, c.result), c.id, ids)}


def _institutions(s: Session, ids: list[int]) -> dict[int, str]:
    # name and kind in words; the address, phone and contact person say nothing of the service
    i = m.Institution
    return {r.id: join(r.name, _words(r.kind)) for r in _rows(s, (i.id, i.name, i.kind), i.id, ids)}


def _laws(s: Session, ids: list[int]) -> dict[int, str]:
    a, law = m.LawArticle, m.Law
    rows = s.execute(select(a.id, law.title, a.number, a.chapter, a.text).join(law, law.id == a.law_id)
                     .where(a.id.in_(ids))).all()
    return {r.id: join(f"{r.title} {r.number}", r.text) for r in rows}


TEXTS: dict[str, Builder] = {
    "patent": _patents,
    "trademark": _trademarks,
    "gi": _gis,
    "copyright": _copyrights,
    "plant_variety": _plant_varieties,
    "case": _cases,
    "institution": _institutions,
    "law": _laws,
}
EMBEDDED_TYPES = tuple(TEXTS)
MODELS = documents.MODELS  # the table whose ids a type's vectors are keyed by: the search index's


def texts_of(session: Session, record_type: str, ids: list[int]) -> dict[int, str]:
    """{id: text} for the ids that still exist and have some text (an empty one is no vector)."""
    if not ids:
        return {}
    return {i: text for i, text in TEXTS[record_type](session, ids).items() if text}
