"""USPTO full-text patent documents → ``PatentRecord``.

Formats (USPTO "Patent Grant / Application Full Text Data" bulk products):

=================================  =========================================================
``us-patent-grant`` v4.0–v4.5      grants 2005– (ipgYYMMDD weekly files: thousands of
``us-patent-application`` v4.0–4.5  concatenated ``<?xml …?>`` documents; ipaYYMMDD likewise)
``PATDOC`` (ST.32 grant v2.4/2.5)   grants 2001–2004, XML with WIPO ST.32 tags (B110 …)
``patent-application-publication``  pre-grant publications 2001–2004 (pap v1.5 / v1.6)
APS "greenbook" fixed-field text     grants 1976–2001 (``PATN`` records)
=================================  =========================================================

Files are split and parsed safely by ``_xmlstream`` (no DTD, no entity expansion: the ISO
character entities of the old DTDs, ``&lsquo;`` …, are kept as references by the parser and
mapped to characters here). ``sequence-cwu`` documents (sequence listings that follow a grant in
the weekly files) are not patents and are skipped. Other roots (CPC master files, XML4IP, the
CSS "BRS" tagged text) are refused with ``unknown_format`` rather than parsed wrongly.

Canonical forms (chosen to meet EPO DOCDB / Google Patents and the CN importers half-way):

* application number: ``US`` + 2-digit series code + 6-digit serial, e.g. ``US13167395``
  (the USPTO's own 8-digit form, without "/" and ","; design series 29 → ``US29379369``).
* publication / grant number: ``US`` + number without leading zeros + kind, with the
  USPTO type prefix kept: ``US9648662B2``, ``USD656308S1``, ``USPP18398P2``, ``USRE43210E``,
  ``USH2140H1``; pre-grant publications keep the 11-digit USPTO form ``US20130014305A1``
  (DOCDB writes ``US2013014305``; ``epo_ops`` converts to this form).
* PCT application: WIPO's 4-digit-year form ``PCT/NL2000/000518`` (old ``PCTNL00/00518``).
* IPC / CPC: compact ``A61B5/0205`` (``numbers.canonical_ipc``); the fixed-width IPC of
  v4.0/ST.32/APS (``A45F  504`` = subclass, 3-column main group, subgroup) is decoded first.

patent_type (PatentRecord vocabulary; the US has no utility model):
utility → ``invention``; design → ``design``; plant → ``plant``; reissue → ``invention``
(kind E marks it); statutory invention registration / defensive publication → ``invention``.

Parties: assignees first (role ``assignee``: the owner), then applicants (role ``applicant``;
before the 2012 AIA the inventors were the applicants, ``app-type="applicant-inventor"``).
Names of persons are "Last, First". ``address`` is street, city, state, postcode (the country
is in ``Party.country``). Agents: an organisation is the ``agency``, persons go to ``agents``.
For a grant, ``pub_number`` is its earlier pre-grant publication when the grant names one
(``related-publication``), else the grant itself; ``grant_number`` is the grant.
"""
from __future__ import annotations

import datetime as dt
import html.entities
import re
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

from lxml import etree

from xjip.hub.importers._xmlstream import ParsedDocument, iter_parsed, root_element, with_notes
from xjip.hub.importers.base import Source, clean, local, open_text, parse_date, register
from xjip.hub.numbers import canonical_ipc, canonical_pub
from xjip.hub import numbers
from xjip.hub.records import (
    ItemStream,
    Locator,
    PatentRecord,
    Party,
    Priority,
    RecordError,
    Rejection,
    SourceError,
)

DEFAULT_MAX_DESCRIPTION = 500_000  # characters kept of the description (options["max_description_chars"])

SKIPPED_ROOTS = {"sequence-cwu"}  # sequence listings attached to the preceding grant

# --- text -----------------------------------------------------------------------------

# ISO 8879 Greek entities of the USPTO DTDs that HTML5 does not name.
_ISO_GREEK = dict(zip(
    "agr bgr ggr dgr egr zgr eegr thgr igr kgr lgr mgr ngr xgr ogr pgr rgr sgr sfgr tgr ugr phgr khgr psgr ohgr".split(),
    "αβγδεζηθικλμνξοπρσςτυφχψω"))
_ISO_GREEK.update({k[:-2].upper() + "gr": v.upper() for k, v in _ISO_GREEK.items() if k != "sfgr"})
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _entity(m: re.Match[str]) -> str:
    name = m.group(1)
    ch = html.entities.html5.get(name + ";") or _ISO_GREEK.get(name)
    return ch if ch is not None else m.group(0)


_NORMALIZE = etree.XPath("normalize-space()")
# Whether the document being read holds unresolved named entities (ST.32 / pap DTD character
# entities). Set per document around the (synchronous) extraction; the fast C path otherwise.
_ENTITIES: ContextVar[bool] = ContextVar("uspto_entities", default=True)
_NAMED_REF = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)[A-Za-z][\w.\-]*;")


def _text(el: Any) -> str | None:
    """All text inside ``el``, whitespace collapsed, entity references resolved."""
    if el is None:
        return None
    if not len(el):  # a leaf (most fields): no tree walk needed
        text = el.text
        return " ".join(text.split()) or None if text else None
    if not _ENTITIES.get():
        return _NORMALIZE(el) or None
    text = " ".join("".join(el.itertext()).split())
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    return text or None


def _blocks(el: Any, tags: Iterable[str], limit: int | None = None) -> str | None:
    """Paragraph-level text of ``el`` (one line per block), stopping near ``limit`` characters."""
    if el is None:
        return None
    out: list[str] = []
    size = 0
    for block in el.iter(*tags):
        parent = block.getparent()
        if parent is not None and parent.tag in tags:
            continue  # nested block: its text is part of the enclosing one
        text = _text(block)
        if not text:
            continue
        if limit is not None and size + len(text) > limit:
            break
        out.append(text)
        size += len(text) + 1
    return "\n".join(out) or None


def _find(el: Any, path: str) -> Any:
    """``el.find(path)``; a plain child name is matched by lxml's C child iterator, which is
    about twice as fast as the ElementPath machinery (USPTO XML has no namespaces)."""
    if "/" in path or "[" in path or "{" in path or path[:1] == ".":
        return el.find(path)
    return next(el.iterchildren(path), None)


def _find_text(el: Any, path: str) -> str | None:
    return _text(_find(el, path)) if el is not None else None


def _raw_text(el: Any, path: str | None = None) -> str | None:
    """Text without collapsing inner spaces (fixed-width classification fields)."""
    if el is not None and path:
        el = _find(el, path)
    return "".join(el.itertext()).strip() or None if el is not None else None


# --- numbers --------------------------------------------------------------------------

_US_PUB = re.compile(r"^(D|RE|PP|P|H|T|X|AI)?0*(\d+)$")


def us_app_number(value: str | None, series: str | None = None, field: str | None = None) -> str | None:
    """'13/167,395', '13167395', or serial '167395' + series '13' → 'US13167395'."""
    if not clean(value):
        return None
    digits = re.sub(r"\D", "", str(value))
    if len(digits) == 6 and series and series.strip().isdigit():
        digits = series.strip().zfill(2) + digits
    if len(digits) != 8:
        raise RecordError("bad_number", field, value=str(value))
    return "US" + digits


def us_pub_number(number: str | None, kind: str | None = None, field: str | None = None) -> str | None:
    """'D0656308'+'S1' → 'USD656308S1', '08926509'+'B2' → 'US8926509B2', 'PP018398' → 'USPP18398'."""
    if not clean(number):
        return None
    text = re.sub(r"[\s.,/\-]", "", str(number)).upper()
    if text.startswith("US"):
        text = text[2:]
    kind = (kind or "").strip().upper() or None
    m = _US_PUB.match(text)
    if not m:
        m2 = re.fullmatch(r"(D|RE|PP|P|H|T|X|AI)?0*(\d+)([A-Z]\d?)", text)
        if not m2:
            raise RecordError("bad_number", field, value=str(number))
        return f"US{m2.group(1) or ''}{m2.group(2)}{m2.group(3)}"
    prefix = "PP" if m.group(1) == "P" else (m.group(1) or "")
    return f"US{prefix}{m.group(2)}{kind or ''}"


def pct_number(value: str | None) -> str | None:
    """'PCTNL00/00518', 'PCT/JP79/00178', 'PCT/US2010/012345' → 'PCT/NL2000/000518' (WIPO form,
    `numbers.pct_app`); anything else as printed."""
    text = re.sub(r"\s", "", value or "").upper()
    if not text:
        return None
    return numbers.pct_app(text) or text


def wo_number(number: str) -> str | None:
    """WO publication → 'WO' + 4-digit year + 6-digit serial (WIPO's form since 2004):
    'WO 02/25773', 'WO0225773', DOCDB '02054790' → 'WO2002025773', 'WO2002054790'."""
    text = re.sub(r"[\s.\-]", "", number).upper()
    text = text[2:] if text.startswith("WO") else text
    m = re.fullmatch(r"(\d{4}|\d{2})/(\d{1,6})", text) or re.fullmatch(r"((?:19|20)\d{2})(\d{6})", text) \
        or re.fullmatch(r"(\d{2})(\d{5,6})", text)
    if not m:
        return None
    year = m.group(1)
    if len(year) == 2:
        year = ("19" if int(year) >= 78 else "20") + year
    return f"WO{year}{m.group(2).zfill(6)}"


def cited_number(country: str | None, number: str | None, kind: str | None) -> str | None:
    """A cited document as a canonical publication number; never raises (citations are
    free-form in places: 'D. 271298', 'WO 01/07345', 'PCTNL00/00518')."""
    number = clean(number)
    if not number:
        return None
    country = (clean(country) or "US").upper()[:2]
    kind = (clean(kind) or "").upper() or None
    if kind and not re.fullmatch(r"[A-Z]\d?", kind):
        kind = None
    if country == "WO" and (wo := wo_number(number)):
        return wo + (kind or "")
    try:
        if country == "US":
            return us_pub_number(number, kind)
        return canonical_pub(number, default_country=country, kind=kind)
    except RecordError:
        compact = re.sub(r"[^A-Za-z0-9]", "", number).upper()
        if not compact.startswith(country):
            compact = country + compact
        return compact + (kind or "") if compact else None


_FIXED_IPC = re.compile(r"^([A-H]\d\d[A-Z])([ \d]{3})(\d{2,6})\s*$")


def ipc_code(text: str | None) -> str | None:
    """Canonical IPC from the forms the USPTO used: 'A45F  504' (fixed width: 4-column
    subclass, 3-column right-aligned main group, subgroup), 'A41B001/00', 'H04W 84/20'."""
    text = (text or "").strip().upper()
    if not text:
        return None
    m = _FIXED_IPC.match(text)
    if m and "/" not in text:
        group = m.group(2).strip()
        if not group:
            return None
        return canonical_ipc(f"{m.group(1)} {int(group)}/{m.group(3)}")
    if re.match(r"^[A-H]\d\d[A-Z]", text):
        return canonical_ipc(text)
    return None  # a Locarno class (designs) or garbage


def _class_parts(el: Any) -> str | None:
    """IPCR / CPC from ST.36 components (section, class, subclass, main-group, subgroup)."""
    parts = [_find_text(el, t) for t in ("section", "class", "subclass", "main-group", "subgroup")]
    if not all(parts[:3]):
        return None
    head = "".join(parts[:3])  # type: ignore[arg-type]
    if not parts[3]:
        return head
    return f"{head}{int(parts[3]) if parts[3].isdigit() else parts[3]}/{parts[4] or '00'}"  # type: ignore[union-attr]


def _edition(date_text: str | None) -> str | None:
    """IPC version indicator 20060101 → '2006.01'."""
    m = re.fullmatch(r"(\d{4})(\d{2})\d{2}", date_text or "")
    return f"{m.group(1)}.{m.group(2)}" if m else clean(date_text)


def _uniq(items: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _date(value: str | None, field: str) -> dt.date | None:
    return parse_date(clean(value), field)


def _country(value: str | None) -> str | None:
    value = (clean(value) or "").upper()
    if value in ("", "OMITTED", "UNKNOWN", "XX", "N/A"):
        return None
    return value[:2] if len(value) == 3 and value.endswith("X") else value  # APS 'JPX'


def _person(last: str | None, first: str | None) -> str | None:
    last, first = clean(last), clean(first)
    if last and first:
        return f"{last}, {first}"
    return last or first


def _address(*parts: str | None) -> str | None:
    return ", ".join(p for p in (clean(x) for x in parts) if p) or None


# --- v4.x: us-patent-grant / us-patent-application (ST.36-based) -----------------------

def _v4_party(node: Any, role: str) -> tuple[Party | None, str | None]:
    """(Party, person-or-org name) from an applicant/assignee/agent element."""
    ab = node.find("addressbook")
    if ab is None:
        ab = node  # v4.0 applications put orgname/address directly under assignee
    name = _find_text(ab, "orgname") or _person(_find_text(ab, "last-name"), _find_text(ab, "first-name"))
    if not name:
        return None, None
    addr = ab.find("address")
    country = _country(_find_text(addr, "country")) if addr is not None else None
    if country is None:
        country = _country(_find_text(node, "residence/country"))
    address = None
    if addr is not None:
        address = _address(_find_text(addr, "street"), _find_text(addr, "address-1"),
                           _find_text(addr, "address-2"), _find_text(addr, "city"),
                           _find_text(addr, "state"), _find_text(addr, "postcode"))
    return Party(name=name, address=address, country=country, role=role), name


def _from_v4(root: Any, max_desc: int) -> PatentRecord:
    kind_of_doc = local(root.tag)
    bib = next((c for c in root if local(c.tag).startswith("us-bibliographic-data")), None)
    if bib is None:
        raise RecordError("missing_field", "us-bibliographic-data")
    pub = bib.find("publication-reference/document-id")
    number = _find_text(pub, "doc-number")
    if not number:
        raise RecordError("missing_field", "publication-reference/doc-number")
    kind = _find_text(pub, "kind")
    pub_no = us_pub_number(number, kind, "publication-reference/doc-number")
    pub_date = _date(_find_text(pub, "date") or root.get("date-publ"), "publication-reference/date")

    app_ref = bib.find("application-reference")
    appl_type = (app_ref.get("appl-type") if app_ref is not None else None) or None
    series = _find_text(bib, "us-application-series-code")
    app_no = us_app_number(_find_text(app_ref, "document-id/doc-number"), series, "application-reference/doc-number")
    app_date = _date(_find_text(app_ref, "document-id/date"), "application-reference/date")

    rec = PatentRecord(country="US", app_number=app_no, app_date=app_date, kind_code=kind, language="en")
    rec.patent_type = patent_type(appl_type, kind, number)
    if kind_of_doc == "us-patent-grant":
        rec.grant_number, rec.grant_date, rec.status = pub_no, pub_date, "granted"
        rel = bib.find("us-related-documents/related-publication/document-id")
        rel_no = _find_text(rel, "doc-number")
        if rel_no:
            rec.pub_number = us_pub_number(rel_no, _find_text(rel, "kind"), "related-publication/doc-number")
            rec.pub_date = _date(_find_text(rel, "date"), "related-publication/date")
        else:
            rec.pub_number, rec.pub_date = pub_no, pub_date
    else:
        rec.pub_number, rec.pub_date = pub_no, pub_date

    rec.title = rec.title_en = _find_text(bib, "invention-title")

    # IPC: ipcr (v4.0+ for 2006 IPC reform) else the older classification-ipc.
    ipcr = bib.findall("classifications-ipcr/classification-ipcr")
    if ipcr:
        codes = [(_class_parts(c), c) for c in ipcr]
        rec.ipc = _uniq(canonical_ipc(code) for code, _ in codes if code)
        main = next((c for c in codes if _find_text(c[1], "symbol-position") == "F"), codes[0])
        rec.ipc_main = canonical_ipc(main[0]) if main[0] else None
        rec.ipc_edition = _edition(_find_text(main[1], "ipc-version-indicator/date"))
    else:
        old = bib.find("classification-ipc")
        if old is not None:
            main_code = ipc_code(_raw_text(old, "main-classification"))
            rec.ipc = _uniq([main_code] + [ipc_code(_raw_text(f)) for f in old.findall("further-classification")])
            rec.ipc_main = main_code
            rec.ipc_edition = _find_text(old, "edition")
    # main-cpc first, then further-cpc including combination sets.
    rec.cpc = _uniq(_class_parts(c) for c in bib.iterfind("classifications-cpc//classification-cpc"))

    rec.priorities = [
        Priority(number=n, country=_country(_find_text(p, "country")),
                 date=_date(_find_text(p, "date"), "priority-claim/date"))
        for p in bib.findall("priority-claims/priority-claim")
        if (n := _find_text(p, "doc-number"))
    ]
    rec.citations = _uniq(
        cited_number(_find_text(d, "country"), _find_text(d, "doc-number"), _find_text(d, "kind"))
        for d in bib.iterfind(".//patcit/document-id")
    )
    pct = _find_text(bib, "pct-or-regional-filing-data/document-id/doc-number")
    rec.pct_app_number = pct_number(pct) if pct else None

    parties = bib.find("us-parties")
    if parties is None:
        parties = bib.find("parties")
    applicants: list[Party] = []
    inventors: list[str] = []
    agents: list[str] = []
    for node in bib.iterfind("assignees/assignee"):
        party, _ = _v4_party(node, "assignee")
        if party:
            applicants.append(party)
    if parties is not None:
        for node in list(parties.iterfind("us-applicants/us-applicant")) + list(parties.iterfind("applicants/applicant")):
            party, name = _v4_party(node, "applicant")
            if party:
                applicants.append(party)
                if "inventor" in (node.get("app-type") or ""):
                    inventors.append(name)  # type: ignore[arg-type]
        for node in parties.iterfind("inventors/inventor"):
            _, name = _v4_party(node, "inventor")
            if name:
                inventors.append(name)
        for node in parties.iterfind("agents/agent"):
            ab = node.find("addressbook")
            org = _find_text(ab, "orgname")
            if org:
                rec.agency = rec.agency or org
            else:
                agents.append(_person(_find_text(ab, "last-name"), _find_text(ab, "first-name")))  # type: ignore[arg-type]
    rec.applicants = _dedupe_parties(applicants)
    rec.inventors = _uniq(inventors)
    rec.agents = _uniq(agents)

    rec.abstract = _blocks(root.find("abstract"), ("p",))
    rec.claims = [t for c in root.iterfind("claims/claim") if (t := _text(c))]
    rec.description = _blocks(root.find("description"), ("p", "heading"), max_desc)
    return rec


def _dedupe_parties(parties: list[Party]) -> list[Party]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in parties:
        key = (p.name.casefold(), p.role)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# US kind codes (WIPO ST.16 as applied by the USPTO since 2001) → patent_type.
_KIND_TYPE = {"A": "invention", "B": "invention", "E": "invention", "H": "invention", "S": "design",
              "P": "plant"}
_APPL_TYPE = {"utility": "invention", "design": "design", "plant": "plant", "reissue": "invention",
              "statutory-invention-registration": "invention", "sir": "invention",
              "defensive-publication": "invention"}


def patent_type(appl_type: str | None, kind: str | None, number: str | None = None) -> str | None:
    """USPTO application type / kind code / number prefix → PatentRecord.patent_type."""
    if appl_type and appl_type.lower() in _APPL_TYPE:
        return _APPL_TYPE[appl_type.lower()]
    prefix = re.match(r"^(US)?(D|PP|RE|H|T)", (number or "").upper())
    if prefix:
        return {"D": "design", "PP": "plant"}.get(prefix.group(2), "invention")
    return _KIND_TYPE.get((kind or "").strip()[:1].upper())


# --- pap v1.5/v1.6: patent-application-publication (2001–2004) -------------------------

def _pap_name(node: Any) -> str | None:
    name = node.find("name")
    if name is None:
        return None
    given = " ".join(filter(None, (_find_text(name, "given-name"), _find_text(name, "middle-name"))))
    person = _person(_find_text(name, "family-name"), given or None)
    suffix = _find_text(name, "name-suffix")
    if person and suffix:
        person = f"{person} {suffix}"
    return person or _find_text(name, "organization-name") or _text(name)


def _pap_residence(node: Any) -> tuple[str | None, str | None]:
    res = node.find("residence")
    place = None
    if res is not None:
        place = res.find("residence-us")
        if place is None:
            place = res.find("residence-non-us")
    if place is None:
        place = node.find("address")
    if place is None:
        return None, None
    country = _country(_find_text(place, "country-code") or _find_text(place, "country/country-code"))
    return _address(_find_text(place, "address-1"), _find_text(place, "address-2"), _find_text(place, "city"),
                    _find_text(place, "state"), _find_text(place, "postalcode")), country


def _from_pap(root: Any, max_desc: int) -> PatentRecord:
    bib = root.find("subdoc-bibliographic-information")
    if bib is None:
        raise RecordError("missing_field", "subdoc-bibliographic-information")
    number = _find_text(bib, "document-id/doc-number")
    if not number:
        raise RecordError("missing_field", "document-id/doc-number")
    kind = _find_text(bib, "document-id/kind-code")
    rec = PatentRecord(country="US", kind_code=kind, language="en")
    rec.pub_number = us_pub_number(number, kind, "document-id/doc-number")
    rec.pub_date = _date(_find_text(bib, "document-id/document-date"), "document-id/document-date")
    dom = bib.find("domestic-filing-data")
    rec.app_number = us_app_number(_find_text(dom, "application-number/doc-number"),
                                   _find_text(dom, "application-number-series-code"), "application-number")
    rec.app_date = _date(_find_text(dom, "filing-date"), "filing-date")
    filing_type = _find_text(bib, "publication-filing-type") or ""
    rec.patent_type = "plant" if "plant" in filing_type else patent_type(None, kind, number)

    tech = bib.find("technical-information")
    rec.title = rec.title_en = _find_text(tech, "title-of-invention")
    ipc = tech.find("classification-ipc") if tech is not None else None
    if ipc is not None:
        main = ipc_code(_raw_text(ipc, "classification-ipc-primary/ipc"))
        rec.ipc = _uniq([main] + [ipc_code(_raw_text(i)) for i in ipc.iterfind("classification-ipc-secondary/ipc")])
        rec.ipc_main = main
        rec.ipc_edition = _find_text(ipc, "classification-ipc-edition")

    rec.priorities = [
        Priority(number=n, country=_country(_find_text(p, "country-code")),
                 date=_date(_find_text(p, "filing-date"), "foreign-priority-data/filing-date"))
        for p in bib.iterfind("foreign-priority-data")
        if (n := _find_text(p, "priority-application-number/doc-number"))
    ]
    for parent in bib.iterfind("continuity-data//parent/document-id/doc-number"):
        text = _text(parent) or ""
        if text.upper().startswith("PCT"):
            rec.pct_app_number = pct_number(text)
            break

    applicants: list[Party] = []
    for node in bib.iterfind("assignee"):
        name = _find_text(node, "organization-name") or _pap_name(node)
        if name:
            address, country = _pap_residence(node)
            applicants.append(Party(name=name, address=address, country=country, role="assignee"))
    inventors: list[str] = []
    for node in list(bib.iterfind("inventors/first-named-inventor")) + list(bib.iterfind("inventors/inventor")):
        name = _pap_name(node)
        if name:
            inventors.append(name)
            address, country = _pap_residence(node)
            applicants.append(Party(name=name, address=address, country=country, role="applicant"))
    rec.applicants = _dedupe_parties(applicants)
    rec.inventors = _uniq(inventors)
    # The correspondence address is the attorney of record in nearly all publications.
    rec.agency = " ".join(filter(None, (_find_text(bib, "correspondence-address/name-1"),
                                        _find_text(bib, "correspondence-address/name-2")))) or None

    rec.abstract = _blocks(root.find("subdoc-abstract"), ("paragraph",))
    rec.claims = [t for c in root.iterfind("subdoc-claims/claim") if (t := _text(c))]
    rec.description = _blocks(root.find("subdoc-description"), ("paragraph", "heading"), max_desc)
    return rec


# --- ST.32 PATDOC (grants 2001–2004, DTD v2.4/2.5) ------------------------------------

def _st32_party(node: Any) -> tuple[str | None, str | None, str | None, bool]:
    """(name, address, country, is_organisation) of a B7xx PARTY-US / PARTY-NONUS element."""
    nam = node.find(".//NAM")
    if nam is None:
        return None, None, None, False
    org = _find_text(nam, "ONM")
    name = org or _person(_find_text(nam, "SNM"), _find_text(nam, "FNM"))
    if name and _find_text(nam, "SFX"):
        name = f"{name} {_find_text(nam, 'SFX')}"
    adr = node.find(".//ADR")
    address = country = None
    if adr is not None:
        address = _address(_find_text(adr, "STR"), _find_text(adr, "CITY"), _find_text(adr, "STATE"),
                           _find_text(adr, "PCODE"))
        country = _country(_find_text(adr, "CTRY")) or ("US" if _find_text(adr, "STATE") else None)
    return name, address, country, bool(org)


def _from_patdoc(root: Any, max_desc: int) -> PatentRecord:
    bib = root.find("SDOBI")
    if bib is None:
        raise RecordError("missing_field", "SDOBI")
    number = _find_text(bib, "B100/B110")
    if not number:
        raise RecordError("missing_field", "B110")
    kind = _find_text(bib, "B100/B130")
    rec = PatentRecord(country="US", kind_code=kind, language="en", status="granted")
    rec.grant_number = rec.pub_number = us_pub_number(number, kind, "B110")
    rec.grant_date = rec.pub_date = _date(_find_text(bib, "B100/B140"), "B140")
    rec.app_number = us_app_number(_find_text(bib, "B200/B210"), _find_text(bib, "B200/B211US"), "B210")
    rec.app_date = _date(_find_text(bib, "B200/B220"), "B220")
    rec.patent_type = patent_type(None, kind, number)
    rec.title = rec.title_en = _find_text(bib, "B500/B540")

    if rec.patent_type != "design":  # designs carry the Locarno class in B511
        main = ipc_code(_raw_text(bib, "B500/B510/B511"))
        rec.ipc = _uniq([main] + [ipc_code(_raw_text(e)) for e in bib.iterfind("B500/B510/B512")])
        rec.ipc_main = main
        rec.ipc_edition = _find_text(bib, "B500/B510/B516")
    rec.priorities = [
        Priority(number=n, country=_country(_find_text(p, "B330")), date=_date(_find_text(p, "B320"), "B320"))
        for p in bib.iterfind("B300") if (n := _find_text(p, "B310"))
    ]
    rec.citations = _uniq(
        cited_number(_find_text(d, "CTRY"), _find_text(d, "DNUM"), _find_text(d, "KIND"))
        for d in bib.iterfind("B500/B560/B561/PCIT/DOC")
    )
    pct = _find_text(bib, "B800/B860/B861/DOC/DNUM")
    rec.pct_app_number = pct_number(pct) if pct else None

    applicants: list[Party] = []
    for node in bib.iterfind("B700/B730/B731"):
        name, address, country, _ = _st32_party(node)
        if name:
            applicants.append(Party(name=name, address=address, country=country, role="assignee"))
    inventors = []
    for node in bib.iterfind("B700/B720/B721"):
        name, address, country, _ = _st32_party(node)
        if name:
            inventors.append(name)
            applicants.append(Party(name=name, address=address, country=country, role="applicant"))
    rec.applicants = _dedupe_parties(applicants)
    rec.inventors = _uniq(inventors)
    agents = []
    for node in bib.iterfind("B700/B740/B741"):
        name, _, _, is_org = _st32_party(node)
        if name and is_org:
            rec.agency = rec.agency or name
        elif name:
            agents.append(name)
    rec.agents = _uniq(agents)

    rec.abstract = _blocks(root.find("SDOAB"), ("PARA",))
    rec.claims = [t for c in root.iterfind("SDOCL/CL/CLM") if (t := _text(c))]
    rec.description = _blocks(root.find("SDODE"), ("PARA", "H"), max_desc)
    return rec


EXTRACTORS: dict[str, Callable[[Any, int], PatentRecord]] = {
    "us-patent-grant": _from_v4,
    "us-patent-application": _from_v4,
    "patent-application-publication": _from_pap,
    "PATDOC": _from_patdoc,
}


# --- APS "greenbook" text (grants 1976–2001) -----------------------------------------

_APS_SECTIONS = {"PATN", "INVT", "ASSG", "PRIR", "REIS", "RLAP", "CLAS", "UREF", "FREF", "OREF", "LREP",
                 "PCTA", "ABST", "GOVT", "PARN", "BSUM", "DRWD", "DETD", "CLMS", "DCLM"}
# WKU prefix / APT code → (patent_type, DOCDB kind for pre-2001 US grants)
_APS_TYPES = {"D": ("design", "S"), "PP": ("plant", "P"), "RE": ("invention", "E"), "H": ("invention", "H"),
              "T": ("invention", "I4")}
_APS_APT = {"1": ("invention", "A"), "2": ("invention", "E"), "4": ("design", "S"), "5": ("invention", "I4"),
            "6": ("plant", "P"), "7": ("invention", "H")}


def _iter_aps(source: Source) -> Iterator[tuple[int, int, list[tuple[int, str, str, str]], str]]:
    """Yield (record, line, [(section_no, section, tag, value)], raw text) per PATN record,
    reading line by line. Continuation lines (indented) are joined to their field."""
    fh, _ = open_text(source)
    record = 0
    fields: list[tuple[int, str, str, str]] = []
    raw: list[str] = []
    start = 0
    section, section_no = "", 0
    with fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.startswith("PATN") and not line[4:].strip():
                if record:
                    yield record, start, fields, "\n".join(raw)
                record += 1
                fields, raw, start, section, section_no = [], [line], lineno, "PATN", 0
                continue
            if not record:
                continue  # file header (HHHHHT …) before the first record
            raw.append(line)
            if line[:1] == " ":
                if fields:  # continuation of the previous field
                    no, sec, tag, value = fields[-1]
                    fields[-1] = (no, sec, tag, f"{value} {line.strip()}")
                continue
            tag = line[:4].strip()
            if tag in _APS_SECTIONS and not line[4:].strip():
                section, section_no = tag, section_no + 1
            elif tag:
                fields.append((section_no, section, tag, line[5:].strip()))
    if record:
        yield record, start, fields, "\n".join(raw)


def _aps_name(value: str) -> str:
    """APS 'Daniels; Everette E.' → 'Daniels, Everette E.'."""
    return ", ".join(p.strip() for p in value.split(";", 1))


def _from_aps(fields: list[tuple[int, str, str, str]], max_desc: int) -> PatentRecord:
    # One dict of tag → [values] per section occurrence (an INVT block, a UREF block …).
    groups: dict[int, tuple[str, dict[str, list[str]]]] = {}
    for no, sec, tag, value in fields:
        groups.setdefault(no, (sec, {}))[1].setdefault(tag, []).append(value)

    def first(d: dict[str, list[str]], tag: str) -> str | None:
        return clean(d[tag][0]) if d.get(tag) else None

    patn = groups.get(0, ("PATN", {}))[1]
    wku = first(patn, "WKU")
    if not wku:
        raise RecordError("missing_field", "WKU")
    number = wku[:-1]  # the last character is a check digit
    m = re.match(r"^(D|PP|RE|H|T)", number)
    ptype, kind = _APS_TYPES[m.group(1)] if m else _APS_APT.get(first(patn, "APT") or "1", ("invention", "A"))
    rec = PatentRecord(country="US", kind_code=kind, patent_type=ptype, language="en", status="granted")
    rec.grant_number = rec.pub_number = us_pub_number(number, kind, "WKU")
    rec.grant_date = rec.pub_date = _date(first(patn, "ISD"), "ISD")
    apn = re.sub(r"\D", "", first(patn, "APN") or "")
    src = first(patn, "SRC") or ""
    if len(apn) == 7 and src.isdigit():  # 6-digit serial + check digit; SRC is the series code
        rec.app_number = us_app_number(apn[:6], src, "APN")
    rec.app_date = _date(first(patn, "APD"), "APD")
    rec.title = rec.title_en = first(patn, "TTL")

    applicants: list[Party] = []
    inventors: list[str] = []
    ipcs: list[str | None] = []
    abstract: list[str] = []
    description: list[str] = []
    desc_size = 0
    for sec, d in groups.values():
        if sec in ("INVT", "ASSG") and first(d, "NAM"):
            name = _aps_name(first(d, "NAM"))  # type: ignore[arg-type]
            country = _country(first(d, "CNT")) or ("US" if first(d, "STA") else None)
            address = _address(first(d, "STR"), first(d, "CTY"), first(d, "STA"), first(d, "ZIP"))
            applicants.append(Party(name=name, address=address, country=country,
                                    role="assignee" if sec == "ASSG" else "applicant"))
            if sec == "INVT":
                inventors.append(name)
        elif sec == "PRIR" and first(d, "APN"):
            rec.priorities.append(Priority(number=first(d, "APN"), country=_country(first(d, "CNT")),  # type: ignore[arg-type]
                                           date=_date(first(d, "APD"), "PRIR/APD")))
        elif sec == "CLAS":
            ipcs += [ipc_code(v) for v in d.get("ICL", [])]
            rec.ipc_edition = first(d, "EDF")
        elif sec in ("UREF", "FREF") and first(d, "PNO"):
            country = "US" if sec == "UREF" else _country(first(d, "CNT"))
            rec.citations.append(cited_number(country, first(d, "PNO"), None))  # type: ignore[arg-type]
        elif sec == "LREP":
            rec.agency = rec.agency or first(d, "FRM")
            rec.agents += [_aps_name(v) for tag in ("FR2", "ATT", "AGT") for v in d.get(tag, []) if v.strip()]
        elif sec == "PCTA" and first(d, "PCN"):
            rec.pct_app_number = pct_number(first(d, "PCN"))
        elif sec == "ABST":
            abstract += [v for tag in ("PAL", "PAR") for v in d.get(tag, [])]
    claims: list[str] = []
    for _, sec, tag, value in fields:  # in file order
        if sec in ("BSUM", "DRWD", "DETD") and tag.startswith("PA") and desc_size + len(value) <= max_desc:
            description.append(value)
            desc_size += len(value) + 1
        elif sec == "CLMS":  # a new claim at each NUM
            if tag == "NUM":
                claims.append("")
            elif tag.startswith("PA") and claims:
                claims[-1] = f"{claims[-1]} {value}".strip()
        elif sec == "DCLM" and tag.startswith("PA"):
            claims.append(value)
    rec.applicants = _dedupe_parties(sorted(applicants, key=lambda p: p.role != "assignee"))
    rec.inventors = _uniq(inventors)
    rec.agents = _uniq(rec.agents)
    rec.ipc = _uniq(ipcs)
    rec.ipc_main = rec.ipc[0] if rec.ipc else None
    rec.citations = _uniq(rec.citations)
    rec.claims = [c for c in claims if c]
    rec.abstract = "\n".join(abstract) or None
    rec.description = "\n".join(description) or None
    return rec


# --- importer -------------------------------------------------------------------------

_ROOT_HINTS = (b"<us-patent-grant", b"<us-patent-application", b"<patent-application-publication",
               b"<PATDOC")


class UsptoXmlImporter:
    name = "uspto_xml"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        root = root_element(head)
        if root is not None:
            if root[0] in EXTRACTORS and not root[1]:  # USPTO XML has no namespace
                return 95
            if root[0] == "sequence-cwu":
                return 60  # a stand-alone sequence listing: ours, but it yields no patents
            return 0
        for hint in _ROOT_HINTS:  # DOCTYPE internal subset (NDATA image entities) longer than the head
            i = head.find(hint)
            if i >= 0 and head[i + len(hint): i + len(hint) + 1] in (b" ", b">", b"\n", b"\r", b"\t"):
                return 90
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if (text.startswith(b"PATN") or text.startswith(b"HHHHHT")) and re.search(rb"\nWKU  [0-9A-Z]{9}", text[:2000]):
            return 90  # APS greenbook text
        return 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        max_desc = int(options.get("max_description_chars", DEFAULT_MAX_DESCRIPTION))
        max_doc_mb = int(options.get("max_doc_mb", 64))
        head = source.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"PATN") or head.startswith(b"HHHHHT"):
            yield from self._parse_aps(source, max_desc)
            return
        for item in iter_parsed(source, max_doc_mb=max_doc_mb):
            if isinstance(item, Rejection):
                yield item
                continue
            yield from with_notes(item, self._document(source, item, max_desc))

    def _document(self, source: Source, doc: ParsedDocument, max_desc: int) -> Iterator[PatentRecord | Rejection]:
        root_tag = local(doc.root.tag)
        loc = Locator(source.name, doc.record, doc.line)
        if root_tag in SKIPPED_ROOTS:
            return
        extractor = EXTRACTORS.get(root_tag)
        if extractor is None:
            if doc.record == 1:  # not a USPTO patent file at all (CPC master, XML4IP …)
                raise SourceError(loc, "unknown_format", detail=f"<{root_tag}>")
            yield Rejection(loc, "unknown_format", None, {"detail": f"<{root_tag}>"}, raw=doc.text)
            return
        token = _ENTITIES.set(bool(_NAMED_REF.search(doc.data)))
        try:
            rec: PatentRecord | Rejection = extractor(doc.root, max_desc)
        except RecordError as exc:
            rec = Rejection(loc, exc.code, exc.field, exc.params)
        finally:
            _ENTITIES.reset(token)  # before yielding: the caller must not see it
        if isinstance(rec, PatentRecord):
            rec.locator = loc
        rec.raw = doc.text
        yield rec

    def _parse_aps(self, source: Source, max_desc: int) -> ItemStream:
        for record, line, fields, raw in _iter_aps(source):
            loc = Locator(source.name, record, line)
            try:
                rec = _from_aps(fields, max_desc)
            except RecordError as exc:
                yield Rejection(loc, exc.code, exc.field, exc.params, raw=raw)
                continue
            rec.locator, rec.raw = loc, raw
            yield rec


uspto_xml = register(UsptoXmlImporter())
