"""Patent documents in the WIPO XML standards, one publication per document:

* WIPO ST.36 as used by the EPO (``ep-patent-document``, bibliographic data in the INID-coded
  ``SDOBI`` B-tags of the EPO DTD ep-patent-document-v1-x: B110 number, B130 kind, B210/B220
  application, B310-B330 priority, B510EP IPC, B540 titles, B560 citations, B710/B730 applicant /
  proprietor, B720 inventors, B740 representatives, B860/B870 PCT);
* the generic ST.36 ``patent-document`` and the JPO gazette ``jp-official-gazette`` (ST.36
  element names: bibliographic-data/publication-reference/document-id …);
* WIPO ST.96 ``PatentPublication`` (namespace http://www.wipo.int/standards/XMLSchema/ST96/Patent).

Other ST.96 documents (trademark, design, geographical indication) are not patents: ``sniff``
returns 0 for them. USPTO ``us-patent-*`` documents belong to the USPTO importer.

Application numbers other than CN are written country + number without separators, the EPO
check digit dropped (DOCDB form, as in EPO OPS: EP05255002).
"""
from __future__ import annotations

import re
import sys
from typing import Any

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers.base import SKIPPED, Source, register, shard_of
from xjip.hub.importers.cnipa_xml import at, claims_of, date_of, dedupe, ipc_from, paragraphs, record_or_rejection, \
    set_ipc, st36_citations
from xjip.hub.importers.uspto_xml import wo_number
from xjip.hub import numbers
from xjip.hub.numbers import canonical_cn_app, canonical_ipc, canonical_pub, type_from_kind
from xjip.hub.records import FamilyMember, ItemStream, Party, PatentRecord, Priority, RecordError, Rejection

name = "wipo_xml"
record_types = ("patent",)

NS_ST96_PATENT = "http://www.wipo.int/standards/XMLSchema/ST96/Patent"
EP_ROOT, ST36_ROOT, JP_ROOT = "ep-patent-document", "patent-document", "jp-official-gazette"
ST96_ROOT = "PatentPublication"

_KIND = re.compile(r"^[A-Z]\d?$")
# ST.16 kind codes of grants: B everywhere; USPTO also S design, P plant, E reissue; CNIPA C/U/Y/S
GRANT_KINDS = {"US": ("B", "S", "P", "E"), "CN": ("B", "C", "U", "Y", "S")}
_EP_CITATION = re.compile(r"^\s*([A-Z]{2})\s*-\s*([A-Z]\d?)\s*-\s*(.+)$")


def sniff(head: bytes, name: str) -> int:
    root = xs.root_element(head)
    if not root:
        return 0
    local, ns, _ = root
    if local == ST96_ROOT and ns == NS_ST96_PATENT:
        return 95
    if local == EP_ROOT:
        return 95
    if local in (ST36_ROOT, JP_ROOT) and not ns:
        return 90
    return 0


def can_shard(source: Source) -> bool:
    return True  # one record per document (see base.Shard)


def parse(source: Source, options: dict[str, Any]) -> ItemStream:
    max_mb = int(options.get("max_doc_mb", 64))
    parsers = {EP_ROOT: _parse_ep, ST36_ROOT: _parse_st36, JP_ROOT: _parse_st36, ST96_ROOT: _parse_st96}
    for item in xs.iter_parsed(source, max_doc_mb=max_mb, shard=shard_of(options)):
        if item is SKIPPED or isinstance(item, Rejection):
            yield item
            continue
        rec = record_or_rejection(item, source.name, parsers)
        rec.import_notes.extend(item.notes)  # repairs made to read the document
        yield rec


# --- shared ------------------------------------------------------------------------------

def app_number(country: str, number: str, el: Any = None) -> str:
    """'EP', '05255002.7' → 'EP05255002'; 'US', '13797521' → 'US13797521'; CN numbers are
    verified (check digit) by numbers.canonical_cn_app."""
    if country == "CN":
        return at(el, canonical_cn_app, number, "app_number")
    text = re.sub(r"[\s/,\-]", "", number).upper()
    if text.startswith(country):
        text = text[len(country):]
    text = text.split(".")[0] if country == "EP" else text.replace(".", "")
    if not text.isalnum():
        exc = RecordError("bad_number", "app_number", value=number)
        exc.sourceline = getattr(el, "sourceline", None)  # type: ignore[attr-defined]
        raise exc
    return f"{country}{text}"


# EPO DTD ep-patent-document v1.0 (before 2006) B511/B512: the IPC edition stuck to the section
# letter, the symbol spaced out, then a letter ("  7C 07C  29/44   A"): edition 7, C07C 29/44.
_EP_IPC7 = re.compile(r"^\s*(\d{1,2})?\s*([A-H])\s*(\d{2})\s*([A-Z])\s*(\d{1,4})\s*/\s*(\d{1,6})\b")


def ep_ipc7(text: str | None) -> tuple[str | None, str | None]:
    """(symbol, edition) of a v1.0 B511/B512 (see _EP_IPC7); other layouts as `ipc_from`."""
    m = _EP_IPC7.match(text or "")
    if not m:
        return ipc_from(text)
    return canonical_ipc(f"{m.group(2)}{m.group(3)}{m.group(4)} {m.group(5)}/{m.group(6)}"), m.group(1)


def pct_number(text: str | None) -> str | None:
    """EPO and DOCDB write PCT applications compactly, US2004035927 (before 2004 with a 2-digit
    year and a 5-digit serial, JP0107711): give WIPO's form PCT/US2004/035927, PCT/JP2001/007711
    (`numbers`); 'PCT/…' forms too; anything else as printed."""
    if not text:
        return None
    compact = re.sub(r"\s", "", text).upper()
    m = re.fullmatch(r"([A-Z]{2})(\d{7}|\d{10})", compact)
    if m:
        return numbers.docdb_app(m.group(1), m.group(2), "W")
    return numbers.pct_app(compact) or text.strip()


def kind_code(text: str | None, fallback: str | None = None) -> str | None:
    """ST.16 kind code; JPO prints '公開特許公報(A)' and puts the code in @kind-of-st16."""
    if text and _KIND.match(text.strip()):
        return text.strip()
    if fallback and _KIND.match(fallback.strip()):
        return fallback.strip()
    m = re.search(r"\(([A-Z]\d?)\)", text or "")
    return m.group(1) if m else None


_JP_YEAR_SERIAL = re.compile(r"^(\d{4})-(\d{1,6})$")
_JP_ADDRESS = re.compile(r"^(東京都|北海道|京都府|大阪府|\S{2,3}県)")


def cited_pub(country: str | None, number: str | None, kind: str | None) -> str | None:
    """A cited publication in canonical form, None when unusable. JPO numbers written
    'YYYY-serial' get the 6-digit serial of the DOCDB form (2000-56265 → 2000056265)."""
    if not number or not country:
        return None
    m = _JP_YEAR_SERIAL.match(number.strip())
    if country == "JP" and m:
        number = f"{m.group(1)}{int(m.group(2)):06d}"
    try:
        return canonical_pub(number, country, kind)
    except RecordError:
        return None


def finish(rec: PatentRecord, kind: str | None) -> PatentRecord:
    if rec.app_number is None and rec.pub_number is None:
        raise RecordError("missing_field", "app_number")
    rec.patent_type = rec.patent_type or type_from_kind(kind)
    if (kind or "")[:1] in GRANT_KINDS.get(rec.country, ("B",)):
        rec.grant_number = rec.pub_number
        rec.grant_date = rec.grant_date or rec.pub_date
    return rec


def _pub(rec: PatentRecord, country: str, number: str | None, kind: str | None, el: Any) -> None:
    if number:
        rec.pub_number = at(el, canonical_pub, number, country, kind, "pub_number")
    rec.kind_code = kind


def _wo(rec: PatentRecord, number: str | None, date_el: Any) -> None:
    if not number:
        return
    wo = wo_number(number)  # 'WO02020444' (v1.0) → WO2002020444
    if wo is None:
        try:
            wo = canonical_pub(number, "WO")
        except RecordError:
            return
    rec.family.append(FamilyMember(number=wo, country=wo[:2], date=date_of(date_el, "pct_pub_date")))


def _language_block(root: Any, tag: str, lang: str | None) -> Any:
    """The ``tag`` child in the publication language: EPO B documents carry the claims in en,
    de and fr."""
    blocks = list(xs.kids(root, tag))
    for b in blocks:
        if lang and (b.get("lang") or "").lower() == lang:
            return b
    return blocks[0] if blocks else None


# --- EPO ST.36 (SDOBI B-tags) -------------------------------------------------------------

def _parse_ep(root: Any) -> PatentRecord:
    sdobi = xs.kid(root, "SDOBI")
    b100, b200, b400, b500 = (xs.kid(sdobi, t) for t in ("B100", "B200", "B400", "B500"))
    country = xs.value(b100, "B190") or root.get("country") or "EP"
    rec = PatentRecord(country=country)
    lang = (xs.value(b200, "B260") or root.get("lang") or "").lower() or None
    rec.language = lang

    kind = kind_code(xs.value(b100, "B130"), root.get("kind"))
    _pub(rec, country, xs.value(b100, "B110") or root.get("doc-number"), kind, xs.kid(b100, "B110"))
    rec.pub_date = date_of(xs.kid(b100, "B140/date"), "pub_date")
    if rec.pub_date is None:
        rec.pub_date = date_of(root, "pub_date", root.get("date-publ"))
    rec.grant_date = date_of(xs.kid(b400, "B450/date"), "grant_date")

    num_el = xs.kid(b200, "B210")
    if xs.value(num_el):
        rec.app_number = app_number(country, xs.value(num_el) or "", num_el)
    rec.app_date = date_of(xs.kid(b200, "B220/date"), "app_date")

    # B300 holds repeated (B310 number, B320 date, B330 country) groups in order
    current: dict[str, Any] = {}
    b300 = xs.kid(sdobi, "B300")
    for el in b300 if b300 is not None else ():
        tag = xs.lname(el)
        if tag == "B310":
            if current.get("number"):
                rec.priorities.append(Priority(**current))
            current = {"number": xs.value(el), "country": None, "date": None}
        elif tag == "B320":
            current["date"] = date_of(xs.kid(el, "date"), "priority")
        elif tag == "B330":
            current["country"] = xs.value(el, "ctry")
    if current.get("number"):
        rec.priorities.append(Priority(**current))

    items = [ipc_from(xs.value(c, "text")) for c in xs.descendants(xs.kid(b500, "B510EP"), "classification-ipcr")]
    b510 = xs.kid(b500, "B510")  # before 2006: B511 main, B512 further (IPC 7)
    if b510 is not None:
        items += [ep_ipc7(xs.value(c)) for c in b510 if xs.lname(c) in ("B511", "B512")]
        edition = xs.value(b510, "B516")  # IPC edition number, e.g. "7"
        items = [(c, e or edition) for c, e in items]
    set_ipc(rec, items)

    titles: dict[str, str] = {}
    title_lang = None
    b540 = xs.kid(b500, "B540")  # (B541 language, B542 title) pairs
    for el in b540 if b540 is not None else ():
        if xs.lname(el) == "B541":
            title_lang = (xs.value(el) or "").lower()
        elif xs.lname(el) == "B542" and title_lang:
            titles[title_lang] = xs.value(el) or ""
    rec.title = titles.get(lang or "") or next(iter(titles.values()), None)
    rec.title_en = titles.get("en")

    cites = []
    for el in xs.kids(xs.kid(b500, "B560"), "B561"):
        m = _EP_CITATION.match(xs.value(el, "text") or "")  # 'EP-A- 0 529 854'
        if m and (cite := cited_pub(m.group(1), re.sub(r"\D", "", m.group(3)), m.group(2))):
            cites.append(cite)
    rec.citations = dedupe(cites)

    b700 = xs.kid(sdobi, "B700")
    for group, member, role in (("B710", "B711", "applicant"), ("B730", "B731", "owner")):
        for p in xs.kids(xs.kid(b700, group), member):
            party = _ep_party(p, role)
            if party:
                rec.applicants.append(party)
    rec.inventors = dedupe([xs.value(p, "snm") or "" for p in xs.kids(xs.kid(b700, "B720"), "B721")])
    rec.agents = dedupe([xs.value(p, "snm") or "" for p in xs.kids(xs.kid(b700, "B740"), "B741")])

    b800 = xs.kid(sdobi, "B800")
    rec.pct_app_number = pct_number(xs.value(b800, "B860/B861/dnum/anum"))
    _wo(rec, xs.value(b800, "B870/B871/dnum/pnum"), xs.kid(b800, "B870/B871/date"))

    rec.abstract = paragraphs(_language_block(root, "abstract", lang))
    rec.description = paragraphs(_language_block(root, "description", lang))
    rec.claims = claims_of(_language_block(root, "claims", lang), "claim")
    return finish(rec, kind)


def _ep_party(p: Any, role: str) -> Party | None:
    name = xs.value(p, "snm")
    if not name:
        return None
    adr = xs.kid(p, "adr")
    address = ", ".join(v for v in (xs.value(adr, "str"), xs.value(adr, "city")) if v) or None
    return Party(name=name, address=address, country=xs.value(adr, "ctry"), role=role)


# --- generic ST.36 and JPO gazette ----------------------------------------------------------

def _parse_st36(root: Any) -> PatentRecord:
    bib = xs.kid(root, "bibliographic-data")
    pub = xs.kid(bib, "publication-reference/document-id")
    country = xs.value(pub, "country") or root.get("country") or ""
    rec = PatentRecord(country=country)
    lang = root.get("lang") or (bib.get("lang") if bib is not None else None)
    rec.language = lang.lower() if lang else None

    kind = kind_code(xs.value(pub, "kind"), root.get("kind-of-st16") or root.get("kind"))
    _pub(rec, country, xs.value(pub, "doc-number"), kind, xs.kid(pub, "doc-number"))
    rec.pub_date = date_of(xs.kid(pub, "date"), "pub_date")

    app = xs.kid(bib, "application-reference/document-id")
    num_el = xs.kid(app, "doc-number")
    if xs.value(num_el):
        rec.app_number = app_number(xs.value(app, "country") or country, xs.value(num_el) or "", num_el)
    rec.app_date = date_of(xs.kid(app, "date"), "app_date")

    rec.priorities = [Priority(number=n, country=xs.value(pc, "country"),
                               date=date_of(xs.kid(pc, "date"), "priority"))
                      for pc in xs.kids(xs.kid(bib, "priority-claims"), "priority-claim")
                      if (n := xs.value(pc, "doc-number"))]

    items = [ipc_from(xs.value(c, "text")) for c in xs.descendants(xs.kid(bib, "classifications-ipcr"),
                                                                    "classification-ipcr")]
    ipc_old = xs.kid(bib, "classification-ipc")  # JPO and pre-IPCR documents: main + further
    for tag in ("main-clsf", "further-clsf", "main-classification", "further-classification"):
        items += [ipc_from(xs.value(c)) for c in xs.kids(ipc_old, tag)]
    set_ipc(rec, items)

    for t in xs.kids(bib, "invention-title"):
        text = xs.prose(t)
        t_lang = (t.get("lang") or lang or "").lower()
        if t_lang == "en":
            rec.title_en = rec.title_en or text
        if t_lang == (rec.language or t_lang) and rec.title is None:
            rec.title = text
    rec.title = rec.title or rec.title_en

    parties = xs.kid(bib, "parties")  # JPO nests applicants and agents in jp:applicants-agents
    for p in xs.descendants(parties, "applicant"):
        party = _st36_party(p, "applicant")
        if party:
            rec.applicants.append(party)
    for p in xs.descendants(xs.kid(bib, "assignees"), "assignee"):
        party = _st36_party(p, "assignee")
        if party:
            rec.applicants.append(party)
    rec.inventors = dedupe([_st36_name(xs.kid(p, "addressbook")) or "" for p in xs.descendants(parties, "inventor")])
    agencies, agents = [], []
    for p in xs.descendants(parties, "agent"):
        book = xs.kid(p, "addressbook")
        if xs.value(book, "orgname"):
            agencies.append(xs.value(book, "orgname"))
        elif (n := _st36_name(book)):
            agents.append(n)
    rec.agency = agencies[0] if agencies else None
    rec.agents = dedupe(agents)

    rec.pct_app_number = pct_number(xs.value(bib, "pct-or-regional-filing-data/document-id/doc-number"))
    wo = xs.kid(bib, "pct-or-regional-publishing-data/document-id")
    _wo(rec, xs.value(wo, "doc-number"), xs.kid(wo, "date"))
    rec.citations = st36_citations(bib)

    rec.abstract = paragraphs(_language_block(root, "abstract", rec.language))
    rec.description = paragraphs(_language_block(root, "description", rec.language))
    rec.claims = claims_of(_language_block(root, "claims", rec.language), "claim")
    return finish(rec, kind)


def _st36_name(book: Any) -> str | None:
    """ST.36 addressbook: name | orgname | last-name + first-name."""
    if book is None:
        return None
    for tag in ("name", "orgname"):
        if (v := xs.value(book, tag)):
            return v
    parts = [xs.value(book, t) for t in ("first-name", "middle-name", "last-name")]
    return " ".join(p for p in parts if p) or None


def _st36_party(p: Any, role: str) -> Party | None:
    book = xs.kid(p, "addressbook")
    name = _st36_name(book)
    if not name:
        return None
    adr = xs.kid(book, "address")
    address = xs.value(adr, "text")
    if not address and adr is not None:
        parts = [xs.value(adr, t)
                 for t in ("address-1", "address-2", "street", "city", "county", "state", "postcode")]
        address = ", ".join(v for v in parts if v) or None
    country = xs.value(adr, "country") or xs.value(p, "residence/country") or xs.value(p, "nationality/country")
    if country is None and address and _JP_ADDRESS.match(address):
        country = "JP"  # JPO gazettes give domestic addresses without a country
    return Party(name=name, address=address, country=country, role=role)


# --- WIPO ST.96 PatentPublication -------------------------------------------------------------

def _attr(el: Any, local_name: str) -> str | None:
    """An attribute by local name (ST.96 puts them in the com: namespace)."""
    for key, val in el.attrib.items():
        if key.rsplit("}", 1)[-1] == local_name:
            return val
    return None


def _st96_name(contact: Any) -> str | None:
    name = xs.kid(contact, "Name")
    if name is None:
        return None
    if (v := xs.value(name, "EntityName") or xs.value(name, "OrganizationStandardName")):
        return v
    person = xs.kid(name, "PersonName")
    if (v := xs.value(person, "PersonFullName")):
        return v
    structured = xs.kid(person, "PersonStructuredName")
    parts = [xs.value(structured, t) for t in ("FirstName", "MiddleName", "LastName")]
    return " ".join(p for p in parts if p) or xs.value(name)


def _st96_contact(p: Any) -> Any:
    return xs.kid(p, "PublicationContact") if xs.kid(p, "PublicationContact") is not None else xs.kid(p, "Contact")


def _st96_party(p: Any, role: str) -> Party | None:
    contact = _st96_contact(p)
    name = _st96_name(contact)
    if not name:
        return None
    postal = next(xs.descendants(contact, "PostalAddress"), None)
    address = xs.value(postal, "PostalAddressText")
    structured = xs.kid(postal, "PostalStructuredAddress")
    if not address and structured is not None:
        parts = [xs.value(el) for el in structured if xs.lname(el) != "CountryCode"]
        address = ", ".join(v for v in parts if v) or None
    country = next((xs.value(c) for c in xs.descendants(contact, "CountryCode")), None) \
        or xs.value(p, "ResidenceCountryCode") or xs.value(p, "NationalityCode")
    return Party(name=name, address=address, country=country, role=role)


def _st96_class(c: Any) -> tuple[str | None, str | None]:
    section = xs.value(c, "Section") or xs.value(c, "CPCSection")
    parts = {"section": section, "class": xs.value(c, "Class"), "subclass": xs.value(c, "Subclass"),
             "group": xs.value(c, "MainGroup"), "subgroup": xs.value(c, "Subgroup")}
    return ipc_from(xs.value(c, "PatentClassificationText"), parts, xs.value(c, "ClassificationVersionDate"))


def _parse_st96(root: Any) -> PatentRecord:
    bib = xs.kid(root, "BibliographicData")
    pub = xs.kid(bib, "PatentPublicationIdentification")
    country = xs.value(pub, "IPOfficeCode") or xs.value(root, "IPOfficeCode") or ""
    rec = PatentRecord(country=country)
    lang = _attr(root, "languageCode")
    rec.language = lang.lower() if lang else None

    kind = kind_code(xs.value(pub, "PatentDocumentKindCode"))
    _pub(rec, country, xs.value(pub, "PublicationNumber"), kind, xs.kid(pub, "PublicationNumber"))
    rec.pub_date = date_of(xs.kid(pub, "PublicationDate"), "pub_date")

    app = xs.kid(bib, "ApplicationIdentification")
    num_el = xs.kid(app, "ApplicationNumber/ApplicationNumberText")
    if xs.value(num_el):
        rec.app_number = app_number(xs.value(app, "IPOfficeCode") or country, xs.value(num_el) or "", num_el)
    rec.app_date = date_of(xs.kid(app, "FilingDate"), "app_date")
    category = (xs.value(app, "InventionSubjectMatterCategory") or "").lower()
    rec.patent_type = {"design": "design", "utility": "invention", "utility model": "utility_model"}.get(category)

    rec.priorities = [Priority(number=n, country=xs.value(pc, "IPOfficeCode"),
                               date=date_of(xs.kid(pc, "FilingDate"), "priority"))
                      for pc in xs.descendants(xs.kid(bib, "PriorityClaimBag"), "PriorityClaim")
                      if (n := xs.value(pc, "ApplicationNumber/ApplicationNumberText"))]

    classes = xs.kid(bib, "PatentClassificationBag")
    ipcr = list(xs.descendants(xs.kid(classes, "IPCRClassificationBag"), "IPCRClassification"))
    # SymbolPositionCode F = first (main) symbol
    ipcr.sort(key=lambda c: 0 if xs.value(c, "SymbolPositionCode") == "F" else 1)
    set_ipc(rec, [_st96_class(c) for c in ipcr])
    rec.cpc = dedupe([code for c in xs.descendants(xs.kid(classes, "CPCClassificationBag"), "CPCClassification")
                      if (code := _st96_class(c)[0])])

    for t in xs.descendants(xs.kid(bib, "InventionTitleBag"), "InventionTitle"):
        text = xs.prose(t)
        t_lang = (_attr(t, "languageCode") or rec.language or "").lower()
        if t_lang == "en":
            rec.title_en = rec.title_en or text
        if t_lang == (rec.language or t_lang) and rec.title is None:
            rec.title = text
    rec.title = rec.title or rec.title_en

    cites = []
    for cited in xs.descendants(xs.kid(bib, "ReferenceCitationBag"), "CitedPatentDocumentIdentification"):
        cite = cited_pub(xs.value(cited, "IPOfficeCode"), xs.value(cited, "DocumentNumber"),
                         xs.value(cited, "PatentDocumentKindCode"))
        if cite:
            cites.append(cite)
    rec.citations = dedupe(cites)

    parties = xs.kid(bib, "PartyBag")
    for bag, member, role in (("ApplicantBag", "Applicant", "applicant"), ("AssigneeBag", "Assignee", "assignee")):
        for p in xs.kids(xs.kid(parties, bag), member):
            party = _st96_party(p, role)
            if party:
                rec.applicants.append(party)
    rec.inventors = dedupe([_st96_name(_st96_contact(p)) or ""
                            for p in xs.kids(xs.kid(parties, "InventorBag"), "Inventor")])
    agencies, agents = [], []
    for p in xs.kids(xs.kid(parties, "RegisteredPractitionerBag"), "RegisteredPractitioner"):
        contact = _st96_contact(p)
        entity = xs.value(contact, "Name/EntityName")
        (agencies if entity else agents).append(entity or _st96_name(contact) or "")
    rec.agency = agencies[0] if agencies else None
    rec.agents = dedupe(agents)

    pct = next(xs.descendants(bib, "PCTApplicationIdentification"), None)
    if pct is not None:
        rec.pct_app_number = pct_number(xs.value(pct, "ApplicationNumber/ApplicationNumberText")
                                        or xs.value(pct, "PCTApplicationNumber"))

    rec.abstract = paragraphs(xs.kid(root, "Abstract"))
    rec.description = paragraphs(xs.kid(root, "Description"))
    claims = xs.kid(root, "Claims")
    if claims is not None:
        xs.drop(claims, "ClaimNumber", "ClaimTypeCategory")  # metadata, the text carries "1." itself
    rec.claims = claims_of(claims, "Claim")
    return finish(rec, kind)


register(sys.modules[__name__])  # type: ignore[arg-type]  # the module is the importer
