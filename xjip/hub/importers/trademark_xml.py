"""Trademark register records in XML: three dialects, one streaming parser.

* WIPO ST.66 ``Transaction/…/TradeMark`` (namespace ``http://www.wipo.int/standards/XMLSchema/trademarks``
  plus ``wo-trademarks`` for the word mark, events and status), as delivered to the WIPO Global Brand
  Database by IPAS offices (AL, ID, KH, TO, WS…).
* WIPO ST.96 ``tmk:TrademarkApplication`` / ``tmk:TrademarkBag`` / ``tmk:Trademark`` (V6_0).
* The Israeli office's native ``TMBRAND`` export (multilingual names + ``MarkTranscription``).

One ``TrademarkRecord`` per ``TradeMark`` / ``Trademark`` / ``TMBRAND`` element, read with an
lxml pull parser fed chunk by chunk and cleared afterwards, so a bulk file with many marks stays
flat in memory; files of concatenated documents are cut at each XML declaration.

Also registers ``trademark_csv`` for the opposed-applications CSV (application_no, mark_text, …).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers import templates
from xjip.hub.importers.base import (
    Source,
    clean,
    local,
    parse_date,
    register,
    split_multi,
)
from xjip.hub.importers.base import text_of as _base_text_of
from xjip.hub.importers.trademark_status import split_status
from xjip.hub.records import (
    ItemStream,
    LegalEvent,
    Locator,
    Note,
    Party,
    RecordError,
    Rejection,
    SourceError,
    TrademarkRecord,
)

ST66_NS = b"http://www.wipo.int/standards/XMLSchema/trademarks"
ST96_TM_NS = b"ST96/Trademark"
# ST.96 roots of trademark documents: WIPO's examples, and the USPTO TSDR's TrademarkTransaction.
ST96_ROOTS = (b"TrademarkApplication", b"TrademarkBag", b"Trademark", b"TrademarkTransaction")

# Record elements by local name: ST.66, ST.96, Israel.
RECORD_TAGS = {"TradeMark": "st66", "Trademark": "st96", "TMBRAND": "il"}

_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)[\s>/]")


# --- vocabularies ---------------------------------------------------------------------

# WIPO ST.66 MarkFeature / ST.96 MarkFeatureCategory values, plus office wordings seen in GBD data.
_FEATURES = {
    "word": "word", "stylized characters": "stylized", "stylised characters": "stylized",
    "figurative": "figurative", "combined": "combined", "three dimensional": "3d", "3-d": "3d",
    "colour": "colour", "color": "colour", "sound": "sound", "hologram": "hologram",
    "olfactory": "olfactory", "motion": "motion", "position": "position", "pattern": "pattern",
    "multimedia": "multimedia", "other": "other", "undefined": None,
    "merek kata": "word", "merek lukisan": "figurative", "merek kata dan lukisan": "combined",  # ID (DJKI)
    "marchi nazionale (both name and logo)": "combined",  # SM
}
# USPTO mark drawing codes (ST.96 NationalMarkDescription/MarkFeatureCode; TMEP §807): 1 typed,
# 2 design only, 3 design plus words, 4 standard characters, 5 stylized words, 6 no drawing.
_USPTO_DRAWING = {"1": "word", "2": "figurative", "3": "combined", "4": "word", "5": "stylized", "6": "other"}

# ST.66 KindMark / ST.96 MarkCategory / IL BRANDTYPE / ST.66 TransactionCode → mark_kind.
_KINDS = {
    "individual": "ordinary", "trade mark": "ordinary", "trademark": "ordinary", "trademarks": "ordinary",
    "service mark": "ordinary", "trademark/service mark": "ordinary", "defensive": "ordinary",
    "trademark, service mark": "ordinary",  # USPTO TSDR
    "collective": "collective", "collective mark": "collective", "collective trademark": "collective",
    "collective service mark": "collective", "collective membership mark": "collective",
    "certificate": "certification", "certification": "certification", "certification mark": "certification",
    "guarantee": "certification",
    # IL registers both together; WIPO GBD maps it to [Collective, Certificate]; we keep the first.
    "collective/certification mark": "collective",
    "gi": "gi", "geographical indication": "gi", "g. indications": "gi", "appellation of origin": "gi",
}

# Event words (ST.66 MarkEventCode, IL NatureOfEvent, USPTO descriptions) → LegalEvent.category.
_EVENT_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"non-payment|expired|lapse", re.I), "lapse"),
    (re.compile(r"renew", re.I), "fee_payment"),
    (re.compile(r"change in ownership|assign(?!ed to)|transfer", re.I), "owner_change"),
    # "REGISTERED - SEC. 8 (6-YR) ACCEPTED" (USPTO) is a maintenance step, not the grant
    (re.compile(r"^registered(?!\s*-\s*sec)|registered-", re.I), "grant"),
    (re.compile(r"reject|refus", re.I), "rejection"),
    (re.compile(r"withdraw|abandon", re.I), "withdrawal"),
    (re.compile(r"invalidat", re.I), "invalidation"),
    (re.compile(r"restor", re.I), "restoration"),
    (re.compile(r"licen[cs]", re.I), "licence"),
]


def _event_category(*words: str | None) -> str:
    for word in words:
        if word:
            for pattern, category in _EVENT_RULES:
                if pattern.search(word):
                    return category
    return "other"


def _feature(value: str | None) -> str | None:
    if not value:
        return None
    return _FEATURES.get(value.strip().lower(), "other")


def _kind(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip().lower() in _KINDS:
            return _KINDS[value.strip().lower()]
    return None


def nice_class(value: Any, column: str = "ClassNumber") -> str:
    """'9', '09', '009' → '09'; RecordError('bad_value') outside 1–45."""
    try:
        return templates.nice_class(value)
    except ValueError:
        raise RecordError("bad_value", column, value=str(value).strip()) from None


# --- element helpers (namespace-agnostic: offices vary the namespaces) ----------------

# C1 control characters in register text are Windows-1252 bytes stored as code points
# (idtm__unicode.xml: 'Bao\x92an' for 'Bao’an'); map them back.
_C1 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def text_of(el: Any) -> str | None:
    text = _base_text_of(el)
    return text.translate(_C1) if text else text


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if local(c.tag) == name]


def _child(el: Any, name: str) -> Any:
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def _path(el: Any, *names: str) -> Any:
    for name in names:
        el = _child(el, name)
        if el is None:
            return None
    return el


def _desc(el: Any, name: str) -> Any:
    """First descendant with this local name."""
    if el is None:
        return None
    for c in el.iter():
        if c is not el and local(c.tag) == name:
            return c
    return None


def _descs(el: Any, name: str) -> Iterator[Any]:
    if el is None:
        return iter(())
    return (c for c in el.iter() if c is not el and local(c.tag) == name)


def _text(el: Any, *names: str) -> str | None:
    return text_of(_path(el, *names)) if names else text_of(el)


def _date(el: Any, *names: str) -> dt.date | None:
    node = _path(el, *names)
    value = text_of(node)
    return parse_date(value, names[-1] if names else None) if value else None


def _lang(el: Any) -> str | None:
    for key, value in el.attrib.items():
        if local(key) in ("languageCode", "lang"):
            return value
    return None


def _pick_lang(nodes: Iterable[Any], prefer: str = "en") -> str | None:
    """The text in the preferred language, else the first non-empty one."""
    texts = [(_lang(n), text_of(n)) for n in nodes]
    for lang, text in texts:
        if lang == prefer and text:
            return text
    for _lang_, text in texts:
        if text:
            return text
    return None


def _country(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value if re.fullmatch(r"[A-Z]{2}", value) else None


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return list(seen)


# --- ST.66 ----------------------------------------------------------------------------

def _st66_party(book: Any, role: str) -> Party | None:
    """ST.66 <…AddressBook>: FormattedNameAddress/Name (free format or structured) + Address."""
    fna = _desc(book, "FormattedNameAddress")
    name_el = _child(fna, "Name")
    name = _pick_lang(_descs(name_el, "FreeFormatNameLine"))
    if not name:
        name = text_of(_desc(name_el, "OrganizationName"))
    if not name:
        parts = [text_of(_desc(name_el, n)) for n in ("LastName", "FirstName")]
        name = " ".join(p for p in parts if p) or None
    if not name:
        return None
    addr_el = _child(fna, "Address")
    lines = _unique(text_of(x) for x in _descs(addr_el, "FreeFormatAddressLine"))
    if not lines:  # FormattedAddress: the lines, else (USPTO TSDR) room, building and street; then the town
        lines = _unique(text_of(x) for x in _descs(addr_el, "AddressLine"))
        lines += _unique(text_of(_desc(addr_el, n)) for n in (() if lines else _STREET_PARTS) + _TOWN_PARTS)
    address = ", ".join(line for line in lines if line != "-") or None
    country = _country(text_of(_desc(addr_el, "AddressCountryCode"))) or _country(
        text_of(_desc(addr_el, "FormattedAddressCountryCode")))
    return Party(name=name, address=address, country=country, role=role)


_STREET_PARTS = ("AddressRoom", "AddressBuilding", "AddressStreet")
_TOWN_PARTS = ("AddressCity", "AddressState", "AddressPostcode")


def _status(tm: Any) -> tuple[str | None, str | None]:
    """ST.66/ST.96 MarkCurrentStatusCode. The USPTO prints a number there (800) and its meaning in
    MarkCurrentStatusExternalDescriptionText: both kept, the meaning first."""
    code = _text(tm, "MarkCurrentStatusCode")
    meaning = text_of(_desc(tm, "MarkCurrentStatusExternalDescriptionText"))
    if code and code.isdigit() and meaning:
        return split_status(f"{meaning} ({code})")
    return split_status(code)


def _drawing(tm: Any, feature: str | None) -> str | None:
    """A feature the vocabulary does not know, read from the USPTO mark drawing code when given."""
    if feature in (None, "other"):
        return _USPTO_DRAWING.get(text_of(_desc(tm, "MarkFeatureCode")) or "", feature)
    return feature


def _st66(tm: Any, transaction_code: str | None, transaction_parties: Any = None) -> TrademarkRecord:
    status, status_text = _status(tm)
    rec = TrademarkRecord(
        office=_text(tm, "RegistrationOfficeCode") or "",
        app_number=_text(tm, "ApplicationNumber"),
        reg_number=_text(tm, "RegistrationNumber"),
        app_date=_date(tm, "ApplicationDate"),
        reg_date=_date(tm, "RegistrationDate"),
        expiry_date=_date(tm, "ExpiryDate"),
        status=status,
        status_text=status_text,
        status_date=_date(tm, "MarkCurrentStatusDate"),
        mark_feature=_drawing(tm, _feature(_text(tm, "MarkFeature"))),
        mark_kind=_kind(_text(tm, "KindMark"), transaction_code),
    )
    spec = _child(tm, "WordMarkSpecification")
    rec.word_element = _pick_lang(_children(spec, "MarkVerbalElementText"), prefer="") if spec is not None else None
    translation = text_of(_child(spec, "MarkTranslation")) if spec is not None else None
    if translation:
        rec.transliterations["translation"] = translation
    transliteration = text_of(_child(spec, "MarkTransliteration")) if spec is not None else None
    if transliteration:
        rec.transliterations["transliteration"] = transliteration
    goods: dict[str, list[str]] = {}
    for cd in _descs(_child(tm, "GoodsServicesDetails"), "ClassDescription"):
        number = text_of(_child(cd, "ClassNumber"))
        if not number:
            continue
        cls = nice_class(number)
        text = _pick_lang(_children(cd, "GoodsServicesDescription"))
        goods.setdefault(cls, [])
        if text:
            goods[cls].append(text)
    rec.nice_classes, rec.goods = _goods(goods)
    for details in (_child(tm, "ApplicantDetails"), transaction_parties):
        for book in _descs(details, "ApplicantAddressBook"):
            party = _st66_party(book, "applicant")
            if party and party.name not in {o.name for o in rec.owners}:
                rec.owners.append(party)
    for book in _descs(_child(tm, "HolderDetails"), "HolderAddressBook"):
        party = _st66_party(book, "holder")
        if party and party.name not in {o.name for o in rec.owners}:
            rec.owners.append(party)
    reps = [_st66_party(b, "representative") for b in _descs(_child(tm, "RepresentativeDetails"),
                                                               "RepresentativeAddressBook")]
    rec.agent = "; ".join(_unique(r.name for r in reps if r)) or None
    for ev in _descs(_child(tm, "MarkEventDetails"), "MarkEvent"):
        code = _text(ev, "MarkEventCode")
        office_code = _text(ev, "OfficeSpecificMarkEventCode")
        office_name = _text(ev, "OfficeSpecificMarkEventName")
        # USPTO TSDR: the code's meaning in MarkEventExt
        description = _text(ev, "OfficeSpecificMarkEventDescription") or text_of(
            _desc(ev, "MarkEventInternalDescriptionText"))
        if office_name == "-":
            office_name = None
        details = {k: v for k, v in (("office_code", office_code), ("office_name", office_name)) if v}
        rec.events.append(LegalEvent(category=_event_category(code, description), date=_date(ev, "MarkEventDate"),
                                     code=code, description=description or office_name, details=details))
    return rec


def _goods(goods: dict[str, list[str]]) -> tuple[list[str], str | None]:
    classes = sorted(goods)
    text = " || ".join(f"{c}: {' '.join(goods[c])}" for c in classes if goods[c])
    return classes, text or None


# --- ST.96 ----------------------------------------------------------------------------

def _st96_party(el: Any, role: str) -> Party | None:
    contact = _child(el, "Contact")
    name_el = _child(contact, "Name")
    name = (text_of(_desc(name_el, "OrganizationStandardName")) or text_of(_desc(name_el, "EntityName"))
            or text_of(_desc(name_el, "PersonFullName")))
    if not name:
        parts = [text_of(_desc(name_el, n)) for n in ("LastName", "FirstName")]
        name = " ".join(p for p in parts if p) or None
    if not name:
        return None
    postal = _desc(contact, "PostalAddress")
    lines = _unique(text_of(x) for x in _descs(postal, "AddressLineText"))
    if lines:  # PostalStructuredAddress: the lines, then the town (USPTO TSDR)
        lines += _unique(text_of(_desc(postal, n)) for n in ("CityName", "GeographicRegionName", "PostalCode"))
    else:
        lines = _unique(text_of(x) for x in _descs(postal, "PostalStructuredAddress"))
    country = _country(text_of(_desc(postal, "CountryCode"))) or _country(
        text_of(_child(el, "IncorporationCountryCode")))
    return Party(name=name, address=", ".join(lines) or None, country=country, role=role)


def _st96(tm: Any) -> TrademarkRecord:
    app = _child(tm, "ApplicationNumber")
    app_number = _text(app, "ApplicationNumberText") if app is not None else None
    feature = _drawing(tm, _feature(text_of(_desc(tm, "MarkFeatureCategory"))))
    status, status_text = _status(tm)
    rec = TrademarkRecord(
        office=_text(tm, "RegistrationOfficeCode") or (_text(app, "IPOfficeCode") if app is not None else None)
        or "",
        app_number=app_number,
        reg_number=_text(tm, "RegistrationNumber"),
        app_date=_date(tm, "ApplicationDate"),
        reg_date=_date(tm, "RegistrationDate"),
        expiry_date=_date(tm, "ExpiryDate"),
        status=status,
        status_text=status_text,
        status_date=_date(tm, "MarkCurrentStatusDate"),
        mark_feature=feature,
        mark_kind=_kind(_text(tm, "MarkCategory")),
        word_element=text_of(_desc(tm, "MarkVerbalElementText")),
    )
    translit = text_of(_desc(tm, "MarkTransliteration"))
    if translit:
        rec.transliterations["transliteration"] = translit
    translation = text_of(_desc(tm, "MarkTranslationText"))
    if translation:
        rec.transliterations["translation"] = translation
    goods: dict[str, list[str]] = {}
    for gsc in _descs(tm, "GoodsServicesClassification"):
        if (_text(gsc, "ClassificationKindCode") or "").lower() == "nice" and _text(gsc, "ClassNumber"):
            goods.setdefault(nice_class(_text(gsc, "ClassNumber")), [])
    for cd in _descs(_desc(tm, "ClassDescriptionBag"), "ClassDescription"):
        number = _text(cd, "ClassNumber")
        if number:
            text = _pick_lang(_children(cd, "GoodsServicesDescriptionText"))
            goods.setdefault(nice_class(number), []).extend([text] if text else [])
    rec.nice_classes, rec.goods = _goods(goods)
    for applicant in _descs(_child(tm, "ApplicantBag"), "Applicant"):
        party = _st96_party(applicant, "applicant")
        if party and party.name not in {o.name for o in rec.owners}:
            rec.owners.append(party)
    agents = [_st96_party(r, "representative") for r in _descs(_child(tm, "RepresentativeBag"), "Representative")]
    if not any(agents):
        agents = [_st96_party(c, "representative") for c in _children(tm, "NationalCorrespondent")]
    rec.agent = "; ".join(_unique(a.name for a in agents if a)) or None
    for ev in _descs(_child(tm, "MarkEventBag"), "MarkEvent"):
        code = text_of(_desc(ev, "MarkEventCode"))
        description = text_of(_desc(ev, "MarkEventDescriptionText"))
        rec.events.append(LegalEvent(category=_event_category(description, code), date=_date(ev, "MarkEventDate"),
                                     code=code, description=description))
    return rec


# --- Israel TMBRAND -------------------------------------------------------------------

def _il_party(el: Any, role: str) -> Party | None:
    name = _pick_lang(_children(_child(el, "NAMES"), "NAME"))
    if not name:
        return None
    address = _pick_lang(_children(_child(el, "ADDRESSES"), "ADDRESS"))
    return Party(name=name, address=address, role=role)


def _il(doc: Any) -> TrademarkRecord:
    details = _child(doc, "DETAILS")
    names = _children(_child(details, "BRAND"), "NAME")
    transliterations = {_lang(n) or "": text_of(n) for n in names if text_of(n)}
    transcription = _text(details, "MarkTranscription")
    if transcription:
        transliterations["transcription"] = transcription
    has_image = bool(_text(doc, "IMAGEFILE"))
    has_vienna = any(text_of(v) for v in _descs(_child(doc, "VIENNAGROUP"), "VIENNATYPE"))
    word = next((text_of(n) for n in names if text_of(n)), None)
    # Feature as agreed between ILPO and WIPO GBD (gbdtransformation iltm): name+image+Vienna → combined.
    feature = ("combined" if word and has_image and has_vienna else "word" if word
               else "figurative" if has_image and has_vienna else None)
    status, status_text = split_status(_text(details, "STATUS"))
    rec = TrademarkRecord(
        office="IL",
        app_number=_text(details, "OFFICENUMBER"),
        app_date=_date(details, "FILINGDATE"),
        reg_date=_date(details, "REGISTRATIONDATE"),
        expiry_date=_date(details, "EXPIRATIONDATE"),
        status=status,
        status_text=status_text,
        mark_kind=_kind(_text(details, "BRANDTYPE")),
        mark_feature=feature,
        word_element=word,
        transliterations=transliterations,
    )
    goods: dict[str, list[str]] = {}
    for nc in _descs(_child(doc, "NICEGROUP"), "NICECLASS"):
        number = _text(nc, "TYPE")
        if number:
            text = _pick_lang(_children(nc, "LIST"))
            goods.setdefault(nice_class(number, "TYPE"), []).extend([text] if text else [])
    rec.nice_classes, rec.goods = _goods(goods)
    rec.owners = [p for p in (_il_party(a, "applicant") for a in _descs(_child(doc, "APPLICANTS"), "APPLICANT"))
                  if p]
    reps = [_il_party(r, "representative") for r in _descs(_child(doc, "REPRESENTATIVES"), "REPRESENTATIVE")]
    rec.agent = "; ".join(_unique(r.name for r in reps if r)) or None
    for ev in _descs(_child(doc, "EVENTS"), "EVENT"):
        nature = _pick_lang(_children(ev, "NatureOfEvent"))
        description = _pick_lang(_children(ev, "EventDescription"))
        details_ = {}
        pub = _date(ev, "PublicationDate")
        if pub:
            details_["publication_date"] = pub.isoformat()
        category = _event_category(nature)
        if category == "owner_change" and description:
            details_["from"] = description
        rec.events.append(LegalEvent(category=category, date=_date(ev, "EventDate"), code=nature,
                                     description=description, details=details_))
    for group, item in (("OPPOSITIONS", "OPPOSITION"), ("CANCELLATIONS", "CANCELLATION")):
        for proc in _descs(_child(doc, group), item):
            closing = _date(proc, "CLOSINGDATE")
            rec.events.append(LegalEvent(category="other", date=_date(proc, "OPENINGDATE"), code=item.lower(),
                                         details={"closing_date": closing.isoformat()} if closing else {}))
    return rec


# --- streaming ------------------------------------------------------------------------

# Read from the stream (`_xmlstream.iter_elements`): the records, and around an ST.66 record the
# transaction's code and, in USPTO TSDR files, the applicants it places beside the TradeMark.
_WATCHED = frozenset({*RECORD_TAGS, "TransactionCode", "ApplicantDetails", "TransactionData"})


@dataclass
class _Read:
    dialect: str
    item: xs.StreamedElement
    transaction_code: str | None
    parties: xs.StreamedElement | None = None  # an ST.66 TransactionData's own ApplicantDetails (USPTO TSDR)
    notes: list[Note] = field(default_factory=list)

    @property
    def element(self) -> Any:
        return self.item.element

    @property
    def line(self) -> int:
        return self.item.line

    @property
    def document(self) -> int:
        return self.item.document

    @property
    def parties_element(self) -> Any:
        return self.parties.element if self.parties is not None else None


def _iter_records(source: Source, chunk_size: int = xs.CHUNK) -> Iterator[_Read | Rejection]:
    """Each record element of the file, whole, with what its transaction says around it; memory
    stays flat (`xs.iter_elements`: an element is released once the caller has read it).

    An ST.66 TradeMark without ApplicantDetails of its own (the USPTO TSDR puts them after
    TradeMarkDetails, in TransactionData) waits for its TransactionData to end, and takes
    that one's applicants when it holds no other mark. A record of a document that breaks
    before its transaction ends is not given: it would lack its owners."""
    held: _Read | None = None
    parties: Any = None
    code: str | None = None
    document = 0
    notes: list[Note] = []

    def give(read: _Read) -> Iterator[_Read]:
        nonlocal parties
        read.parties, parties = parties, None
        yield read
        read.item.release()
        if read.parties is not None:
            read.parties.release()

    for item in xs.iter_elements(source, _WATCHED, chunk_size=chunk_size):
        if isinstance(item, Rejection):
            if held is not None and held.document == item.locator.record:
                held, parties = None, None  # its transaction broke off
            yield item
            continue
        if item.document != document:
            if held is not None:
                yield from give(held)
                held = None
            document, code, parties = item.document, None, None
        notes += item.notes
        name, el = item.name, item.element
        if name == "TransactionCode":
            code = text_of(el)
        elif name == "ApplicantDetails":
            parent = el.getparent()
            if held is not None and parent is not None and local(parent.tag) == "TransactionData":
                parties = item
        elif name == "TransactionData":
            if held is not None:
                yield from give(held)
                held = None
            parties = None
        else:
            dialect = RECORD_TAGS[name]
            if any(RECORD_TAGS.get(local(a.tag)) == dialect for a in el.iterancestors()):
                continue  # a same-named element inside a record
            if held is not None:  # another mark in the same transaction: the applicants are not only its
                parties = None
                yield from give(held)
                held = None
            read = _Read(dialect, item, code, notes=notes)
            notes = []
            if dialect == "st66" and _child(el, "ApplicantDetails") is None and _child(el, "HolderDetails") is None:
                held = read
            else:
                yield from give(read)
    if held is not None:
        yield from give(held)


_PARSERS = {"st66": lambda r: _st66(r.element, r.transaction_code, r.parties_element),
            "st96": lambda r: _st96(r.element), "il": lambda r: _il(r.element)}


class TrademarkXmlImporter:
    """WIPO ST.66 and ST.96 trademark XML (WIPO Global Brand Database, USPTO TSDR) and the
    Israeli TMBRAND export."""

    name = "trademark_xml"
    record_types = ("trademark",)

    def sniff(self, head: bytes, name: str) -> int:
        root = _root_name(head)
        if root == b"Transaction" and ST66_NS in head and b"TradeMark" in head:
            return 95
        if root == b"TMBRAND":
            return 95
        if root in ST96_ROOTS and ST96_TM_NS in head:
            return 90
        return 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        from lxml import etree

        index = 0
        try:
            for item in _iter_records(source):
                index += 1  # a broken document takes a record number too, so later ones stay stable
                if isinstance(item, Rejection):
                    yield Rejection(Locator(item.locator.file, index, item.locator.line), item.code, item.field,
                                    item.params, item.raw)
                    continue
                locator = Locator(source.name, index, item.line)
                notes = [Note(Locator(n.locator.file, index, n.locator.line), n.code, n.field, n.params)
                         for n in item.notes]  # located at this record rather than its document
                raw = etree.tostring(item.element, encoding="unicode")
                if item.parties is not None:
                    raw += "\n" + etree.tostring(item.parties_element, encoding="unicode")
                try:
                    rec = _PARSERS[item.dialect](item)
                except RecordError as err:
                    yield Rejection(locator, err.code, err.field, err.params, raw, import_notes=notes)
                    continue
                if not (rec.app_number or rec.reg_number):
                    yield Rejection(locator, "missing_field", "ApplicationNumber", {}, raw, import_notes=notes)
                    continue
                if not rec.office:
                    yield Rejection(locator, "missing_field", "RegistrationOfficeCode", {}, raw,
                                    import_notes=notes)
                    continue
                rec.locator, rec.raw, rec.import_notes = locator, raw, notes
                yield rec
        except SourceError as exc:
            rej = exc.rejection
            if rej.locator.record is None:
                raise
            raise SourceError(Locator(rej.locator.file, index + 1, rej.locator.line), rej.code, rej.field,
                              **rej.params) from None


def _root_name(head: bytes) -> bytes | None:
    """Local name of the first element, skipping the prolog, comments and DOCTYPE."""
    text = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head[:4096], flags=re.S)
    m = _ROOT.search(text)
    return m.group(2) if m else None


trademark_xml = register(TrademarkXmlImporter())


# --- opposed-applications CSV (IPONZ-style scrape, see data README) -------------------

_CSV_FIELDS = ("application_no", "mark_text", "mark_type", "applicant", "applicant_country", "nice_classes",
               "goods_services", "opponent", "opposition_filed", "proceeding")
_CSV_REQUIRED = {"application_no", "nice_classes", "applicant"}
_CSV_MARK_TYPES = {"word": "word", "combined": "combined", "image": "figurative"}


def _day_month_year(value: str | None, field: str) -> dt.date | None:
    """'16 Nov 2023' (the source's format) or anything `parse_date` takes."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%d %b %Y").date()
    except ValueError:
        return parse_date(text, field)


class TrademarkCsvImporter:
    """Opposed trade mark applications (application_no, mark_text, mark_type, applicant, …, opponent,
    opposition_filed). The office is not stated by the source; `options['office']` overrides the
    default 'NZ' (inferred from the applicants' addresses and the 7-digit numbers, see the data README)."""

    name = "trademark_csv"
    record_types = ("trademark",)

    def sniff(self, head: bytes, name: str) -> int:
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace").lower()
        cols = {c.strip().strip('"') for c in first.split(",")}
        hits = sum(1 for f in _CSV_FIELDS if f in cols)
        if not _CSV_REQUIRED <= cols:
            return 0
        return 50 + 5 * hits

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        from xjip.hub.importers._tabular import iter_rows

        office = (options or {}).get("office") or "NZ"
        for item in iter_rows(source, required=_CSV_REQUIRED, aliases={f: f for f in _CSV_FIELDS}):
            if isinstance(item, Rejection):
                yield item
                continue
            v = item.values
            try:
                number = clean(v.get("application_no"))
                if not number:
                    raise RecordError("missing_field", "application_no")
                classes = sorted({nice_class(c, "nice_classes") for c in split_multi(v.get("nice_classes"))})
                rec = TrademarkRecord(
                    office=office,
                    app_number=number,
                    word_element=clean(v.get("mark_text")),
                    mark_feature=_CSV_MARK_TYPES.get((clean(v.get("mark_type")) or "").lower(),
                                                     "other" if clean(v.get("mark_type")) else None),
                    nice_classes=classes,
                    goods=clean(v.get("goods_services")),
                    owners=[Party(name=clean(v.get("applicant")) or "", country=_country(v.get("applicant_country")),
                                  role="applicant")],
                )
                rec.status, rec.status_text = split_status(clean(v.get("proceeding")))
                if not rec.owners[0].name:
                    raise RecordError("missing_field", "applicant")
                opponent = clean(v.get("opponent"))
                if opponent or clean(v.get("opposition_filed")):
                    filed = _day_month_year(v.get("opposition_filed"), "opposition_filed")
                    rec.events.append(LegalEvent(category="other", date=filed, code="opposition",
                                                 details={"opponent": opponent} if opponent else {}))
            except RecordError as err:
                yield Rejection(item.locator, err.code, err.field, err.params, item.raw)
                continue
            rec.locator, rec.raw = item.locator, item.raw
            yield rec


trademark_csv = register(TrademarkCsvImporter())
