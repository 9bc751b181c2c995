"""EPO Open Patent Services (OPS 3.2) responses → ``PatentRecord`` with INPADOC family and legal events.

Handled responses (root ``ops:world-patent-data``, namespaces ``http://ops.epo.org`` and
``http://www.epo.org/exchange``; see the OPS 3.2 reference guide, "family", "legal" and
"published-data/biblio" services):

* ``ops:patent-family`` — INPADOC family (``family``, ``family/…/biblio``, ``family/…/legal``, ``legal``):
  each ``ops:family-member`` is one publication; members may carry ``ops:legal`` events and an
  ``exchange-document`` (biblio).
* ``exchange-documents`` — bibliographic data (``biblio``, ``full-cycle``, ``search/biblio``).
* ``fault`` (OPS error body, e.g. 404 / 429) → ``SourceError`` with code ``epo_ops_not_found`` /
  ``epo_ops_rate_limited`` / ``epo_ops_fault``. Other OPS services (register, number
  conversion, classification, full text …) → ``SourceError('epo_ops_unsupported')``.

Records: ``PatentRecord.natural_key()`` is the application number, so publications of the same
application (EP2400812 A1 + B1; US2012057518 A1 + US9648662 B2) are ONE record carrying
``pub_number`` (first A-kind publication) and ``grant_number`` (first granted publication).
Every record of a family response carries ``family_id`` (INPADOC family id) and ``family``: all
member publications, ``granted`` from the kind code (see ``granted_kind``). A publication
without an application reference (some abstract/search answers) is a Rejection
(``epo_ops_no_application``): without it, it could not be matched to the patent it belongs to.

Numbers: DOCDB forms made canonical like the national importers: EP ``EP10167109``, US application
``201113167395`` → ``US13167395`` and pre-grant publication ``US2012057518`` → ``US20120057518A1``
(as ``uspto_xml``), CN applications with their check digit (``numbers.canonical_cn_app``),
WO publications ``WO`` + 4-digit year + 6-digit serial.

Legal events (INPADOC PRS codes): category from the code when it is unambiguous (PGFP / MAFP
fee_payment, PG25 lapse, RAP1–4 owner_change, AS transfer, GRAA / STCF grant …), otherwise from
the wording of the event and of the national code (``descData``). ``LegalEvent.date`` is the real
event date when given (payment date L518EP, else effective date L525EP), else the gazette date
L007EP. ``details`` keeps every ``L…EP`` field (``fields``) plus: gazette_date, effective_date,
payment_date (ISO), fee_year (int, L520EP), country (L501EP), owner (L509EP), free_text
(L510EP), national_code / national_desc (L502EP), influence (+/-), application.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from lxml import etree

from xjip.hub.importers._xmlstream import ParsedDocument, iter_parsed, root_element, with_notes
from xjip.hub.importers.base import Source, clean, local, parse_date, register, text_of
from xjip.hub.importers.uspto_xml import patent_type as us_patent_type
from xjip.hub.importers.uspto_xml import us_pub_number, wo_number
from xjip.hub import numbers
from xjip.hub.numbers import canonical_ipc, canonical_pub, type_from_kind
from xjip.hub.records import (
    FamilyMember,
    ItemStream,
    LegalEvent,
    Locator,
    PatentRecord,
    Party,
    Priority,
    Publication,
    RecordError,
    Rejection,
    SourceError,
)

OPS = "http://ops.epo.org"
EX = "http://www.epo.org/exchange"
NS = {"ops": OPS, "ex": EX}

# --- numbers --------------------------------------------------------------------------


def docdb_app(country: str | None, number: str | None, kind: str | None = None) -> str | None:
    """DOCDB application number → the canonical form of the national importers
    (`numbers.docdb_app`: a PCT application, kind W, is PCT/CC…)."""
    try:
        return numbers.docdb_app(clean(country), number, clean(kind))
    except RecordError:
        return (clean(country) or "").upper() + re.sub(r"\s", "", number or "")


def docdb_pub(country: str | None, number: str | None, kind: str | None) -> str | None:
    """DOCDB publication number → canonical ``CC`` + number + kind (US/WO as ``uspto_xml``)."""
    country = (clean(country) or "").upper()
    number = re.sub(r"\s", "", number or "")
    kind = (clean(kind) or "").upper() or None
    if not country or not number:
        return None
    try:
        if country == "US":
            if (kind or "").startswith("A") and re.fullmatch(r"(19|20)\d{8}", number):
                number = f"{number[:4]}0{number[4:]}"  # DOCDB drops a zero of the 7-digit serial
            return us_pub_number(number, kind)
        if country == "WO" and (wo := wo_number(number)):
            return wo + (kind or "")
        return canonical_pub(number, default_country=country, kind=kind)
    except RecordError:
        return country + re.sub(r"[^A-Za-z0-9]", "", number).upper() + (kind or "")


# Kind codes of a granted right (WIPO ST.16: B = patent, C = patent of the old series, US S/E/P2/P3);
# A = application publication, WO never grants.
def granted_kind(country: str | None, kind: str | None) -> bool | None:
    kind = (kind or "").upper()
    if not kind or country == "WO":
        return False if kind else None
    if kind[0] in "BC":
        return True
    if country == "US" and (kind[0] in "SE" or kind in ("P2", "P3")):
        return True
    if kind[0] == "A":
        return False
    return None


# --- legal events ---------------------------------------------------------------------

# INPADOC legal-event codes whose meaning does not depend on the text.
EVENT_CODES = {
    "PGFP": "fee_payment",  # annual fee paid to national office (post-grant, EP)
    "MAFP": "fee_payment",  # US maintenance fee payment
    "PG25": "lapse",  # lapsed in a contracting state
    "RAP1": "owner_change", "RAP2": "owner_change", "RAP3": "owner_change", "RAP4": "owner_change",
    "AS": "transfer",  # US assignment
    "GRAA": "grant", "STCF": "grant",
    "STAA": "other", "FEPP": "other", "INTG": "other", "GRAP": "other", "GRAS": "other",
    "AK": "other", "AX": "other", "17P": "other", "17Q": "other", "RIC1": "other", "PUAI": "other",
}
# Then the wording, in this order (a lapse "because of non-payment of fees" is a lapse).
EVENT_RULES: list[tuple[re.Pattern[str], str]] = [
    # national codes for "not validated" (no translation filed, AT deletion, LT "invalidated") are lapses
    (re.compile(r"NON-PAYMENT|\bLAPSE|\bCEASED|EXPIR|NO TRANSLATION|INVALIDATED EUROPEAN PATENT|\bDELETION"), "lapse"),
    (re.compile(r"WITHDRAW|ABANDON|DISCONTINUED"), "withdrawal"),
    (re.compile(r"REVO[KC]|INVALID|NULLITY"), "invalidation"),
    (re.compile(r"REFUS|REJECT"), "rejection"),
    (re.compile(r"RESTOR|REINSTAT|RE-ESTABLISH"), "restoration"),
    (re.compile(r"LICEN[CS]"), "licence"),
    (re.compile(r"ASSIGNMENT|TRANSFER"), "transfer"),
    (re.compile(r"CHANGE OF (OWNER|PROPRIETOR)|OWNER CHANGE|APPLICANT DATA CHANGED"), "owner_change"),
    (re.compile(r"(ANNUAL|RENEWAL|MAINTENANCE) FEE PAI|PAYMENT OF (ANNUAL|RENEWAL|MAINTENANCE) FEE"), "fee_payment"),
    (re.compile(r"PATENTS? (HAS BEEN )?GRANTED|PATENT GRANT\b|\(EXPECTED\) GRANT"), "grant"),
]


def classify_event(code: str, *texts: str | None) -> str:
    if code in EVENT_CODES:
        return EVENT_CODES[code]
    text = " ".join(t for t in texts if t).upper()
    for pattern, category in EVENT_RULES:
        if pattern.search(text):
            return category
    return "other"


def _iso(value: str | None, field_name: str) -> dt.date | None:
    return parse_date(clean(value), field_name)


def legal_event(el: Any) -> LegalEvent:
    """One ``ops:legal`` element → LegalEvent (raises RecordError on an impossible date)."""
    code = (el.get("code") or "").strip()
    desc = " ".join((el.get("desc") or "").split()) or None
    fields: dict[str, str] = {}
    for child in el.iter():
        tag = local(child.tag)
        if re.fullmatch(r"L\d{3}EP", tag) and len(child) == 0:
            value = " ".join((child.text or "").split())
            if value:
                fields[tag] = value
            if child.get("descData"):
                fields[tag + "_desc"] = child.get("descData")
    gazette = _iso(fields.get("L007EP"), f"legal[{code}]/L007EP")
    effective = _iso(fields.get("L525EP"), f"legal[{code}]/L525EP")
    payment = _iso(fields.get("L518EP"), f"legal[{code}]/L518EP")
    details: dict[str, Any] = {"fields": fields, "influence": (el.get("infl") or "").strip() or None}
    for key, value in (("gazette_date", gazette), ("effective_date", effective), ("payment_date", payment)):
        if value:
            details[key] = value.isoformat()
    for key, tag in (("country", "L501EP"), ("owner", "L509EP"), ("free_text", "L510EP"),
                     ("national_code", "L502EP"), ("national_desc", "L502EP_desc")):
        if tag in fields:
            details[key] = fields[tag]
    if (year := fields.get("L520EP", "")).isdigit():
        details["fee_year"] = int(year)
    if "L001EP" in fields and "L003EP" in fields:
        details["application"] = docdb_app(fields["L001EP"], fields["L003EP"])
    category = classify_event(code, desc, details.get("national_desc"), details.get("free_text"))
    return LegalEvent(category=category, date=payment or effective or gazette, code=code, description=desc,
                      details=details)


# --- publications ---------------------------------------------------------------------

@dataclass
class _Pub:
    """One publication as OPS describes it (family member or exchange-document)."""

    element: Any
    number: str | None
    country: str | None
    kind: str | None
    date: dt.date | None
    app_number: str | None
    app_date: dt.date | None
    family_id: str | None
    priorities: list[Priority] = field(default_factory=list)
    pct: str | None = None  # the PCT application it entered the national/regional phase from
    events: list[LegalEvent] = field(default_factory=list)
    biblio: dict[str, Any] = field(default_factory=dict)


def _docid(parent: Any, kind: str = "docdb") -> Any:
    if parent is None:
        return None
    return parent.find(f"ex:document-id[@document-id-type='{kind}']", NS)


def _t(el: Any, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path, NS)
    return text_of(found) if found is not None else None


def _pub_ref(pubref: Any) -> tuple[str | None, str | None, str | None, dt.date | None]:
    doc = _docid(pubref)
    country, number, kind = _t(doc, "ex:country"), _t(doc, "ex:doc-number"), _t(doc, "ex:kind")
    date = _t(doc, "ex:date") or _t(_docid(pubref, "epodoc"), "ex:date")
    return docdb_pub(country, number, kind), country, kind, _iso(date, "publication-reference/date")


def _app_ref(appref: Any) -> tuple[str | None, dt.date | None]:
    doc = _docid(appref)
    number = docdb_app(_t(doc, "ex:country"), _t(doc, "ex:doc-number"), _t(doc, "ex:kind"))
    date = _t(doc, "ex:date") or _t(_docid(appref, "epodoc"), "ex:date")
    return number, _iso(date, "application-reference/date")


def _pct_entry(claims: Iterable[Any]) -> str | None:
    """The international application a publication entered the national or regional phase
    from: DOCDB lists it among the priority claims with priority-linkage-type W."""
    for claim in claims:
        if _t(claim, "ex:priority-linkage-type") == "W":
            doc = _docid(claim)
            return docdb_app(_t(doc, "ex:country"), _t(doc, "ex:doc-number"), "W")
    return None


def _priorities(claims: Iterable[Any]) -> list[Priority]:
    out = []
    for claim in claims:
        if _t(claim, "ex:priority-linkage-type") == "W":
            continue  # the PCT application the publication comes from (`_pct_entry`), not a priority
        doc = _docid(claim)
        if doc is not None and _t(doc, "ex:doc-number"):
            country = _t(doc, "ex:country")
            number = docdb_app(country, _t(doc, "ex:doc-number"), _t(doc, "ex:kind"))
        else:
            doc = _docid(claim, "epodoc")
            number = _t(doc, "ex:doc-number")
            country = number[:2] if number else None
            m = re.fullmatch(r"EP(?:19|20)(\d{2})\d*?(\d{6})", number or "")
            if m:  # EPODOC EP20100167109 → EP10167109, the DOCDB form used elsewhere
                number = f"EP{m.group(1)}{m.group(2)}"
        if number:
            out.append(Priority(number=number, country=country, date=_iso(_t(doc, "ex:date"), "priority-claim/date")))
    return out


_CC = re.compile(r"^(.*?)\s*\[([A-Z]{2})\]\s*$")


def _names(parent: Any, role: str) -> list[tuple[str, str | None]]:
    """(name, country) of applicants/inventors: the epodoc entries (they carry '[FI]'), else the
    original ones. Trailing commas of OPS 'original' names are removed."""
    if parent is None:
        return []
    entries = parent.findall(f"ex:{role}", NS)
    chosen = [e for e in entries if e.get("data-format") == "epodoc"] or entries
    out: list[tuple[str, str | None]] = []
    for e in chosen:
        raw = _t(e, f"ex:{role}-name/ex:name")
        if not raw:
            continue
        m = _CC.match(raw)
        name, country = (m.group(1), m.group(2)) if m else (raw, None)
        name = name.strip(" ,")
        if name and (name, country) not in out:
            out.append((name, country))
    return out


def _lang_pick(elements: list[Any]) -> Any:
    return next((e for e in elements if (e.get("lang") or "").lower() == "en"), elements[0] if elements else None)


def _biblio(doc: Any) -> dict[str, Any]:
    """Fields of an ``exchange-document``."""
    bib = doc.find("ex:bibliographic-data", NS)
    out: dict[str, Any] = {}
    if bib is None:
        bib = doc
    title = _lang_pick(bib.findall("ex:invention-title", NS))
    out["title"] = text_of(title)
    out["title_lang"] = (title.get("lang") or "").lower() if title is not None else None
    abstract = _lang_pick(doc.findall("ex:abstract", NS))
    if abstract is not None:
        out["abstract"] = "\n".join(t for p in abstract.findall("ex:p", NS) if (t := text_of(p))) or text_of(abstract)
    ipc = [canonical_ipc(text_of(t) or "") for t in bib.iterfind("ex:classifications-ipcr/ex:classification-ipcr/ex:text", NS)]
    out["ipc"] = list(dict.fromkeys(i for i in ipc if i))
    cpc = []
    for pc in bib.iterfind("ex:patent-classifications/ex:patent-classification", NS):
        scheme = pc.find("ex:classification-scheme", NS)
        if scheme is not None and not (scheme.get("scheme") or "").upper().startswith("CPC"):
            continue
        parts = [_t(pc, f"ex:{p}") for p in ("section", "class", "subclass", "main-group", "subgroup")]
        if all(parts):
            cpc.append(f"{parts[0]}{parts[1]}{parts[2]}{int(parts[3]) if parts[3].isdigit() else parts[3]}/{parts[4]}")  # type: ignore[union-attr]
    out["cpc"] = list(dict.fromkeys(cpc))
    parties = bib.find("ex:parties", NS)
    out["applicants"] = [Party(name=n, country=c, role="applicant")
                         for n, c in _names(parties.find("ex:applicants", NS) if parties is not None else None, "applicant")]
    out["inventors"] = [n for n, _ in _names(parties.find("ex:inventors", NS) if parties is not None else None, "inventor")]
    cites = []
    for d in bib.iterfind("ex:references-cited/ex:citation/ex:patcit/ex:document-id[@document-id-type='docdb']", NS):
        cites.append(docdb_pub(_t(d, "ex:country"), _t(d, "ex:doc-number"), _t(d, "ex:kind")))
    out["citations"] = list(dict.fromkeys(c for c in cites if c))
    out["priorities"] = _priorities(bib.iterfind("ex:priority-claims/ex:priority-claim", NS))
    out["pct"] = _pct_entry(bib.iterfind("ex:priority-claims/ex:priority-claim", NS))
    return out


def _from_member(member: Any) -> _Pub:
    number, country, kind, date = _pub_ref(member.find("ex:publication-reference", NS))
    app, app_date = _app_ref(member.find("ex:application-reference", NS))
    pub = _Pub(member, number, country, kind, date, app, app_date, member.get("family-id"))
    pub.priorities = _priorities(member.iterfind("ex:priority-claim", NS))
    pub.pct = _pct_entry(member.iterfind("ex:priority-claim", NS))
    pub.events = [legal_event(el) for el in member.iterfind("ops:legal", NS)]
    doc = member.find("ex:exchange-document", NS)
    if doc is not None:
        pub.biblio = _biblio(doc)
        if not pub.app_number:
            pub.app_number, pub.app_date = _app_ref(doc.find("ex:bibliographic-data/ex:application-reference", NS))
    return pub


def _from_exchange(doc: Any) -> _Pub:
    bib = doc.find("ex:bibliographic-data", NS)
    pubref = bib.find("ex:publication-reference", NS) if bib is not None else None
    number, country, kind, date = _pub_ref(pubref)
    if not number:
        country, kind = doc.get("country"), doc.get("kind")
        number = docdb_pub(country, doc.get("doc-number"), kind)
    app, app_date = _app_ref(bib.find("ex:application-reference", NS) if bib is not None else None)
    pub = _Pub(doc, number, country, kind, date, app, app_date, doc.get("family-id"))
    pub.biblio = _biblio(doc)
    pub.priorities = pub.biblio.pop("priorities", [])
    pub.pct = pub.biblio.pop("pct", None)
    return pub


def _family_member(pub: _Pub) -> FamilyMember:
    return FamilyMember(number=pub.number or "", country=pub.country, kind=pub.kind, date=pub.date,
                        granted=granted_kind(pub.country, pub.kind))


def _record(pubs: list[_Pub], family: list[FamilyMember]) -> PatentRecord:
    """One application's publications → one PatentRecord."""
    first = pubs[0]
    rec = PatentRecord(country=first.country or "", app_number=first.app_number, app_date=first.app_date)
    rec.family_id = next((p.family_id for p in pubs if p.family_id), None)
    rec.family = [FamilyMember(**vars(m)) for m in family]
    ordered = sorted(pubs, key=lambda p: (p.date or dt.date.max))
    grants = [p for p in ordered if granted_kind(p.country, p.kind)]
    apps = [p for p in ordered if not granted_kind(p.country, p.kind)]
    if apps:
        rec.pub_number, rec.pub_date = apps[0].number, apps[0].date
    elif grants:
        rec.pub_number, rec.pub_date = grants[0].number, grants[0].date
    if grants:
        rec.grant_number, rec.grant_date, rec.status = grants[0].number, grants[0].date, "granted"
    rec.publications = [Publication(p.number, p.kind, p.date) for p in ordered if p.number]
    main = (grants or ordered)[0]  # the grant when there is one
    rec.kind_code = main.kind
    if rec.country == "US":
        rec.patent_type = us_patent_type(None, main.kind, main.number[2:] if main.number else None)
    else:
        rec.patent_type = type_from_kind(main.kind)
    for p in pubs:  # biblio: first non-empty value over the publications (A1 before B1)
        b = p.biblio
        if not rec.title and b.get("title"):
            rec.title = b["title"]
            rec.title_en = b["title"] if b.get("title_lang") == "en" else None
        rec.abstract = rec.abstract or b.get("abstract")
        rec.ipc = rec.ipc or b.get("ipc", [])
        rec.cpc = rec.cpc or b.get("cpc", [])
        rec.applicants = rec.applicants or b.get("applicants", [])
        rec.inventors = rec.inventors or b.get("inventors", [])
        for c in b.get("citations", []):
            if c not in rec.citations:
                rec.citations.append(c)
        for pr in p.priorities + b.get("priorities", []):
            if all(pr.number != q.number for q in rec.priorities):
                rec.priorities.append(pr)
        rec.events += p.events
        pct = p.pct or b.get("pct")
        if pct and pct != rec.app_number and not rec.pct_app_number:
            rec.pct_app_number = pct
    rec.ipc_main = rec.ipc[0] if rec.ipc else None
    return rec


# --- importer -------------------------------------------------------------------------

FAULT_CODES = {"404": "epo_ops_not_found", "429": "epo_ops_rate_limited", "403": "epo_ops_forbidden",
               "401": "epo_ops_unauthorized", "400": "epo_ops_bad_request"}


class EpoOpsImporter:
    name = "epo_ops"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        root = root_element(head)
        if root is None or root[1] != OPS:
            return 0
        if root[0] == "world-patent-data":
            return 95
        if root[0] == "fault":
            return 90  # an OPS error body saved instead of the answer: reported as such, clearly
        return 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        counter = [0]
        for item in iter_parsed(source, max_doc_mb=int(options.get("max_doc_mb", 64))):
            if isinstance(item, Rejection):
                yield item
                continue
            yield from with_notes(item, self._document(source, item, counter))

    def _document(self, source: Source, doc: ParsedDocument, counter: list[int]) -> ItemStream:
        root = doc.root
        tag = local(root.tag)
        if tag == "fault":
            status = _t(root, "ops:code") or ""
            raise SourceError(Locator(source.name, doc.record, doc.line), FAULT_CODES.get(status, "epo_ops_fault"),
                              status=status, message=_t(root, "ops:message") or "",
                              description=_t(root, "ops:description") or "")
        if tag != "world-patent-data":
            raise SourceError(Locator(source.name, doc.record, doc.line), "unknown_format", detail=f"<{tag}>")
        families = root.findall("ops:patent-family", NS)
        exchanges = [d for d in root.iter(f"{{{EX}}}exchange-document")
                     if d.getparent() is None or local(d.getparent().tag) != "family-member"]
        if not families and not exchanges:
            found = root.findall("ops:biblio-search/ops:search-result/ops:publication-reference", NS)
            if found:
                # A plain search answer: numbers without application, dates or titles. Stored
                # as records they could not be matched to the patent they belong to.
                raise SourceError(Locator(source.name, doc.record, doc.line), "epo_ops_search_numbers_only",
                                  count=len(found))
            services = sorted({local(c.tag) for c in root if local(c.tag) != "meta"})
            raise SourceError(Locator(source.name, doc.record, doc.line), "epo_ops_unsupported",
                              service=", ".join(services) or "-")
        for fam in families:
            yield from self._records(source, doc, fam.findall("ops:family-member", NS), counter)
        if exchanges:
            yield from self._records(source, doc, exchanges, counter)

    def _records(self, source: Source, doc: ParsedDocument, elements: list[Any], counter: list[int]) -> ItemStream:
        """Publications → one record per application, yielded where the application first
        appears; publications that cannot be placed become Rejections in file order."""
        pubs: list[tuple[_Pub | None, Any, RecordError | None]] = []
        for el in elements:
            try:
                pub = _from_member(el) if local(el.tag) == "family-member" else _from_exchange(el)
                pubs.append((pub, el, None))
            except RecordError as exc:
                pubs.append((None, el, exc))
        is_family = bool(elements) and local(elements[0].tag) == "family-member"
        family = [_family_member(p) for p, _, _ in pubs if p is not None and p.number] if is_family else []
        by_app: dict[str, list[_Pub]] = {}
        for pub, _, _ in pubs:
            if pub is not None and pub.app_number:
                by_app.setdefault(pub.app_number, []).append(pub)
        for pub, el, err in pubs:
            line = doc.line + (el.sourceline or 1) - 1
            if pub is not None and pub.app_number:
                group = by_app.pop(pub.app_number, None)
                if group is None:
                    continue  # already yielded with the first publication of its application
                counter[0] += 1
                rec = _record(group, family)
                rec.locator = Locator(source.name, counter[0], line)
                rec.raw = "\n".join(etree.tostring(p.element, encoding="unicode") for p in group)
                yield rec
                continue
            counter[0] += 1
            loc = Locator(source.name, counter[0], line)
            raw = etree.tostring(el, encoding="unicode")
            if err is not None:
                yield Rejection(loc, err.code, err.field, err.params, raw=raw)
            else:
                yield Rejection(loc, "epo_ops_no_application", "application-reference",
                                {"publication": pub.number if pub else "-"}, raw=raw)


epo_ops = register(EpoOpsImporter())
