"""CNIPA full-text patent XML: the legacy ``<cn-patent-document>`` format (ST.36-derived) and
the current CNIPA XML V2.2.1
(``business:PatentDocumentAndRelated``, namespaces http://www.sipo.gov.cn/XMLSchema/business
and …/base, CNIPA《专利文献数据规范》/ 中国专利全文数据 XML). One publication per document; a
file may also hold many concatenated documents (see ``_xmlstream``).

Numbers:
* the application number comes in the "original" form ``202111286633.X`` (ZC 0006-2003: year,
  type digit, 7-digit serial, check digit), and in V2.2.1 also in a "standard" 15-digit form
  ``102021001286633`` = application type (2 digits: 10 invention, 11 PCT invention, 20 utility
  model, 21 PCT utility model, 30 design) + year (4) + serial (9). Both map to the canonical
  ``CN202111286633.X`` (check digit computed for the standard form, verified for the original).
* IPC: the fixed-width ``A24B   15/18    (2006.01)`` text (WIPO ST.8 layout) or the structured
  Section/MainClass/Subclass/MainGroup/Subgroup fields; the edition is the ``(2006.01)`` part.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Callable

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers.base import SKIPPED, Source, parse_date, register, shard_of
from xjip.hub.numbers import canonical_cn_app, canonical_ipc, canonical_pub, cn_check_digit, cn_type_from_app, \
    type_from_kind
from xjip.hub.records import FamilyMember, ItemStream, Locator, Party, PatentRecord, Priority, RecordError, Rejection

name = "cnipa_xml"
record_types = ("patent",)

NS_BUSINESS = "http://www.sipo.gov.cn/XMLSchema/business"
LEGACY_ROOT = "cn-patent-document"
V2_ROOT = "PatentDocumentAndRelated"

# applType (V2.2.1) → (patent type, type digit of the 12-digit application number)
APPL_TYPE = {"10": ("invention", "1"), "11": ("invention", "8"), "20": ("utility_model", "2"),
             "21": ("utility_model", "9"), "30": ("design", "3")}
# appl-type (legacy) is printed in Chinese
APPL_TYPE_ZH = {"发明专利": "invention", "发明": "invention", "实用新型": "utility_model",
                "实用新型专利": "utility_model", "外观设计": "design", "外观设计专利": "design"}
# CN kind codes that mark a grant (ST.16 as applied by CNIPA: C/B invention grant, U/Y utility
# model, S/D design; A is the unexamined application publication)
GRANT_KINDS = ("B", "C", "U", "Y", "S", "D")

PARAGRAPHS = frozenset({"p", "P", "Paragraphs", "heading", "Heading"})
# not descended into when collecting paragraphs
NOT_TEXT = frozenset({"img", "Image", "figure", "Figure", "AbstractFigure", "InventionTitle", "invention-title"})
# removed from the document before reading text: deposit numbers/dates are not prose
DROPPED = ("bio-deposit",)

# Country of an applicant from the start of a Chinese address ("韩国京畿道", "美国印第安纳州").
# ST.3 codes; Taiwan, Hong Kong and Macao have their own ST.3 codes.
_FOREIGN = {"韩国": "KR", "大韩民国": "KR", "日本": "JP", "美国": "US", "德国": "DE", "法国": "FR", "英国": "GB",
            "瑞士": "CH", "瑞典": "SE", "荷兰": "NL", "意大利": "IT", "芬兰": "FI", "丹麦": "DK", "挪威": "NO",
            "加拿大": "CA", "澳大利亚": "AU", "以色列": "IL", "新加坡": "SG", "印度": "IN", "比利时": "BE",
            "奥地利": "AT", "西班牙": "ES", "俄罗斯": "RU", "爱尔兰": "IE", "卢森堡": "LU", "新西兰": "NZ",
            "巴西": "BR", "墨西哥": "MX", "南非": "ZA", "沙特阿拉伯": "SA", "阿联酋": "AE", "马来西亚": "MY",
            "泰国": "TH", "越南": "VN", "印度尼西亚": "ID", "哈萨克斯坦": "KZ", "乌兹别克斯坦": "UZ",
            "吉尔吉斯斯坦": "KG", "塔吉克斯坦": "TJ", "巴基斯坦": "PK", "土耳其": "TR", "波兰": "PL",
            "捷克": "CZ", "匈牙利": "HU", "葡萄牙": "PT", "希腊": "GR", "开曼群岛": "KY", "英属维尔京群岛": "VG",
            "百慕大": "BM", "中国台湾": "TW", "台湾": "TW", "中国香港": "HK", "香港": "HK", "中国澳门": "MO",
            "澳门": "MO"}
_FOREIGN_LONGEST_FIRST = sorted(_FOREIGN, key=len, reverse=True)
_PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
              "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
              "内蒙古", "广西", "西藏", "宁夏", "新疆", "中国")
_POSTCODE = re.compile(r"^\s*(\d{6})\s*")
_AGENCY_CODE = re.compile(r"\s*\d{5}$")  # 专利代理机构代码 printed after the name
_IPC_EDITION = re.compile(r"\((\d{4})\.(\d{2})\)")
_STANDARD_APP = re.compile(r"^(\d{2})(\d{4})(\d{9})$")


def sniff(head: bytes, name: str) -> int:
    root = xs.root_element(head)
    if not root:
        return 0
    local, ns, _ = root
    if local == V2_ROOT and ns == NS_BUSINESS:
        return 98
    if local == LEGACY_ROOT:
        return 95
    return 0


def can_shard(source: Source) -> bool:
    return True  # one record per document (see base.Shard)


def parse(source: Source, options: dict[str, Any]) -> ItemStream:
    max_mb = int(options.get("max_doc_mb", 64))
    for item in xs.iter_parsed(source, max_doc_mb=max_mb, shard=shard_of(options)):
        if item is SKIPPED or isinstance(item, Rejection):
            yield item
            continue
        rec = record_or_rejection(item, source.name, {V2_ROOT: _parse_v2, LEGACY_ROOT: _parse_legacy})
        rec.import_notes.extend(item.notes)  # repairs made to read the document
        yield rec


def record_or_rejection(doc: xs.ParsedDocument, source_name: str,
                         parsers: dict[str, Callable[[Any], PatentRecord]]) -> PatentRecord | Rejection:
    """Run the parser for the document's root; a RecordError becomes a Rejection located at the
    element that caused it (line in the original file)."""
    text = doc.text
    parser = parsers.get(xs.lname(doc.root))
    if parser is None:
        return Rejection(Locator(source_name, doc.record, doc.line), "xml_unexpected_root",
                         params={"tag": xs.lname(doc.root)}, raw=text)
    try:
        xs.drop(doc.root, *DROPPED)
        rec = parser(doc.root)
    except RecordError as exc:
        inner = getattr(exc, "sourceline", None)
        line = doc.line + inner - 1 if inner else doc.line
        return Rejection(Locator(source_name, doc.record, line), exc.code, exc.field, exc.params, raw=text)
    rec.locator = Locator(source_name, doc.record, doc.line)
    rec.raw = text
    return rec


def at(el: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a field parser; a RecordError it raises remembers the element's line."""
    try:
        return fn(*args, **kwargs)
    except RecordError as exc:
        if el is not None and getattr(exc, "sourceline", None) is None:
            exc.sourceline = el.sourceline  # type: ignore[attr-defined]
        raise


def date_of(el: Any, field: str, text: str | None = None) -> Any:
    """The date in element ``el`` (or ``text`` read from it, e.g. an attribute); CNIPA writes
    00000000 for 'none'."""
    text = text if text is not None else xs.value(el)
    if text is None or set(text) <= {"0", "-"}:
        return None
    return at(el, parse_date, text, field)


def _real(text: str | None) -> str | None:
    """V2.2.1 fills unused fields with '0' (and organisation codes with 0000000000)."""
    if text is None or set(text) <= {"0"}:
        return None
    return text


# --- numbers -----------------------------------------------------------------------------

def app_from_standard(number: str, field: str = "app_number") -> str:
    """'102021001286633' (type 10, year 2021, serial 001286633) → 'CN202111286633.X'."""
    m = _STANDARD_APP.match(number.strip())
    if not m or m.group(1) not in APPL_TYPE:
        raise RecordError("bad_number", field, value=number)
    type_digit = APPL_TYPE[m.group(1)][1]
    year, serial = m.group(2), m.group(3)
    if int(year) >= 2004 or (int(year) == 2003 and int(serial) >= 100000):
        if int(serial) > 9_999_999:
            raise RecordError("bad_number", field, value=number)
        body = f"{year}{type_digit}{int(serial):07d}"
    else:  # before ZC 0006-2003 (2003-10-01): YY + type + 5-digit serial (8 digits); in 2003
        # both forms exist, told apart by the serial's size
        if int(serial) > 99_999:
            raise RecordError("bad_number", field, value=number)
        body = f"{year[2:]}{type_digit}{int(serial):05d}"
    return f"CN{body}.{cn_check_digit(body)}"


def cn_app(original: tuple[Any, str] | None, standard: tuple[Any, str] | None) -> str | None:
    """Canonical number from the original and/or standard forms (elements kept for locations);
    both present and different → RecordError('app_number_mismatch')."""
    canon = None
    if original:
        el, text = original
        if _STANDARD_APP.match(text.strip()) and len(text.strip()) == 15:
            canon = at(el, app_from_standard, text)
        else:
            canon = at(el, canonical_cn_app, text, "app_number")
    if standard:
        el, text = standard
        std = at(el, app_from_standard, text)
        if canon and std != canon:
            exc = RecordError("app_number_mismatch", "app_number", original=original[1] if original else "",
                              standard=text)
            exc.sourceline = el.sourceline  # type: ignore[attr-defined]
            raise exc
        canon = canon or std
    return canon


def ipc_from(text: str | None, structured: dict[str, str | None] | None = None,
             version_date: str | None = None) -> tuple[str | None, str | None]:
    """(canonical symbol, edition 'YYYY.MM') from ST.8 fixed-width text or structured parts."""
    code = canonical_ipc(text) if text else None
    if code is None and structured and all(structured.get(k) for k in ("section", "class", "subclass")):
        s = structured
        code = canonical_ipc(f"{s['section']}{s['class']}{s['subclass']} "
                             f"{s.get('group') or ''}/{s.get('subgroup') or '00'}")
    edition = None
    if text:
        m = _IPC_EDITION.search(text)
        if m:
            edition = f"{m.group(1)}.{m.group(2)}"
        else:  # ST.36 / EPO layout: 'H04N   1/40        20060101AFI…'
            m8 = re.search(r"\s(\d{4})(\d{2})\d{2}[A-Z]", text)
            if m8:
                edition = f"{m8.group(1)}.{m8.group(2)}"
    if edition is None and version_date:
        digits = re.sub(r"\D", "", version_date)
        if len(digits) >= 6 and set(digits) != {"0"}:
            edition = f"{digits[:4]}.{digits[4:6]}"
    return code, edition


def set_ipc(rec: PatentRecord, items: list[tuple[str | None, str | None]]) -> None:
    seen: dict[str, None] = {}
    for code, edition in items:
        if code and code not in seen:
            seen[code] = None
            if rec.ipc_main is None:
                rec.ipc_main, rec.ipc_edition = code, edition
    rec.ipc = list(seen)


def country_of_address(address: str | None) -> str | None:
    """ST.3 country of a Chinese-language address: postcode or province → CN, a foreign
    country name at the start → its code; else None."""
    if not address:
        return None
    text = address.strip()
    if _POSTCODE.match(text):
        return "CN"
    for country_name in _FOREIGN_LONGEST_FIRST:  # 印度尼西亚 before 印度
        if text.startswith(country_name):
            return _FOREIGN[country_name]
    if text.startswith(_PROVINCES):
        return "CN"
    return None


def strip_postcode(address: str | None) -> str | None:
    if not address:
        return None
    return _POSTCODE.sub("", address).strip() or None


def agency_name(text: str | None) -> str | None:
    if not text:
        return None
    return _AGENCY_CODE.sub("", text).strip() or None


def finish(rec: PatentRecord, kind: str | None) -> PatentRecord:
    if rec.app_number is None and rec.pub_number is None:
        raise RecordError("missing_field", "app_number")
    rec.patent_type = rec.patent_type or cn_type_from_app(rec.app_number) or type_from_kind(kind)
    if kind and kind[:1] in GRANT_KINDS:
        rec.grant_number, rec.grant_date = rec.pub_number, rec.pub_date
    return rec


def claims_of(claims_el: Any, claim_name: str) -> list[str]:
    """One text per claim (its claim-text parts joined)."""
    return [t for claim in xs.kids(claims_el, claim_name) if (t := xs.prose(claim))]


def paragraphs(el: Any) -> str | None:
    """Paragraphs and headings of an abstract or description, one per line."""
    parts = [t for p in xs.blocks(el, PARAGRAPHS, NOT_TEXT) if (t := xs.prose(p))]
    return "\n".join(parts) or None


def dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


# --- legacy <cn-patent-document> ----------------------------------------------------------

def _parse_legacy(root: Any) -> PatentRecord:
    bib = xs.kid(root, "cn-bibliographic-data")
    rec = PatentRecord(country="CN")
    lang = root.get("lang")
    rec.language = lang.lower() if lang else None

    pub = xs.kid(bib, "cn-publication-reference/document-id")
    kind = xs.value(pub, "kind")
    if xs.value(pub, "doc-number"):
        num_el = xs.kid(pub, "doc-number")
        rec.pub_number = at(num_el, canonical_pub, xs.value(num_el) or "", xs.value(pub, "country") or "CN", kind,
                            "pub_number")
        rec.pub_date = date_of(xs.kid(pub, "date"), "pub_date")
    rec.kind_code = kind

    app_ref = xs.kid(bib, "application-reference")
    app = xs.kid(app_ref, "document-id")
    num_el = xs.kid(app, "doc-number")
    if xs.value(num_el):
        rec.app_number = cn_app((num_el, xs.value(num_el) or ""), None)
    rec.app_date = date_of(xs.kid(app, "date"), "app_date")
    if app_ref is not None:
        rec.patent_type = APPL_TYPE_ZH.get((app_ref.get("appl-type") or "").strip())

    rec.priorities = [Priority(number=n, country=xs.value(pc, "country"), date=date_of(xs.kid(pc, "date"), "priority"))
                      for pc in xs.kids(xs.kid(bib, "priority-claims"), "priority-claim")
                      if (n := xs.value(pc, "doc-number"))]

    items = [ipc_from(xs.value(c, "text")) for c in xs.kids(xs.kid(bib, "classifications-ipcr"), "classification-ipcr")]
    old = xs.kid(bib, "classification-ipc")  # pre-2006 documents: main/further classification
    for name in ("main-classification", "further-classification"):
        items += [ipc_from(xs.value(c)) for c in xs.kids(old, name)]
    set_ipc(rec, items)

    rec.title = xs.prose(xs.kid(bib, "invention-title"))
    rec.abstract = paragraphs(xs.kid(bib, "abstract"))

    parties = xs.kid(bib, "cn-parties")
    applicants = xs.kid(parties, "cn-applicants")
    representative = applicants.get("cn-representative-is") if applicants is not None else None
    for i, app_el in enumerate(xs.kids(applicants, "cn-applicant")):
        book = xs.kid(app_el, "addressbook")
        name = xs.value(book, "name")
        if not name:
            continue
        address = xs.value(book, "address/text") or (representative if i == 0 else None)
        rec.applicants.append(Party(name=name, address=strip_postcode(address),
                                    country=country_of_address(address), role="applicant"))
    rec.inventors = dedupe([xs.value(inv, "name") or "" for inv in xs.kids(xs.kid(parties, "cn-inventors"),
                                                                            "cn-inventor")])
    agents = list(xs.kids(xs.kid(parties, "cn-agents"), "cn-agent"))
    rec.agency = next((a for ag in agents if (a := agency_name(xs.value(ag, "cn-agency/name")))), None)
    rec.agents = dedupe([xs.value(ag, "name") or "" for ag in agents])

    pct = xs.kid(bib, "pct-or-regional-filing-data/document-id")
    rec.pct_app_number = xs.value(pct, "doc-number")
    wo = xs.kid(bib, "pct-or-regional-publishing-data/document-id")
    _add_wo(rec, xs.value(wo, "country"), xs.value(wo, "doc-number"), xs.kid(wo, "date"))
    rec.citations = st36_citations(bib)

    body = xs.kid(root, "application-body")
    rec.description = paragraphs(xs.kid(body, "description"))
    rec.claims = claims_of(xs.kid(body, "claims"), "claim")
    return finish(rec, kind)


def _add_wo(rec: PatentRecord, country: str | None, number: str | None, date_el: Any) -> None:
    """The PCT publication (WO 2014/157990) is a member of the same family."""
    if not number:
        return
    try:
        wo = canonical_pub(number, country or "WO")
    except RecordError:
        return
    rec.family.append(FamilyMember(number=wo, country=country or "WO", date=date_of(date_el, "pct_pub_date")))


def st36_citations(bib: Any) -> list[str]:
    """ST.36 references-cited/citation/patcit/document-id (also used by CNIPA legacy)."""
    out = []
    for patcit in xs.descendants(bib, "patcit"):
        did = xs.kid(patcit, "document-id")
        number = xs.value(did, "doc-number")
        if not number:
            continue
        try:
            out.append(canonical_pub(number, xs.value(did, "country") or "", xs.value(did, "kind")))
        except RecordError:
            continue
    return dedupe(out)


# --- CNIPA XML V2.2.1 ---------------------------------------------------------------------

def _by_format(refs: list[Any], fmt: str) -> Any:
    return next((r for r in refs if r.get("dataFormat") == fmt), None)


def _first_by_format(refs: list[Any]) -> Any:
    """V2.2.1 repeats references as dataFormat="original" and "standard": prefer the original."""
    for fmt in ("original", "standard"):
        found = _by_format(refs, fmt)
        if found is not None:
            return found
    return refs[0] if refs else None


def _parse_v2(root: Any) -> PatentRecord:
    bib = xs.kid(root, "BibliographicData")
    rec = PatentRecord(country=root.get("country") or "CN")
    lang = root.get("lang")
    rec.language = lang.lower() if lang else None

    pubs = list(xs.kids(bib, "PublicationReference"))
    pub = xs.kid(_first_by_format(pubs), "DocumentID")
    kind = xs.value(pub, "Kind") or root.get("kind")
    number = xs.value(pub, "DocNumber") or root.get("docNumber")
    if number:
        rec.pub_number = at(xs.kid(pub, "DocNumber"), canonical_pub, number, xs.value(pub, "WIPOST3Code") or "CN",
                            kind, "pub_number")
    rec.pub_date = date_of(xs.kid(pub, "Date"), "pub_date")
    rec.kind_code = kind

    apps = list(xs.kids(bib, "ApplicationReference"))
    orig, std = _by_format(apps, "original"), _by_format(apps, "standard")
    if orig is None and std is None and apps:
        orig = apps[0]
    o_num, s_num = xs.kid(orig, "DocumentID/DocNumber"), xs.kid(std, "DocumentID/DocNumber")
    rec.app_number = cn_app((o_num, xs.value(o_num) or "") if xs.value(o_num) else None,
                            (s_num, xs.value(s_num) or "") if xs.value(s_num) else None)
    ref = orig if orig is not None else std
    rec.app_date = date_of(xs.kid(ref, "DocumentID/Date"), "app_date")
    appl_type = (ref.get("applType") if ref is not None else None) or ""
    rec.patent_type = APPL_TYPE.get(appl_type, (None, ""))[0]

    prios = list(xs.kids(xs.kid(bib, "PriorityDetails"), "Priority"))
    chosen = [p for p in prios if p.get("dataFormat") == "original"] or prios
    rec.priorities = [Priority(number=n, country=xs.value(p, "WIPOST3Code"),
                               date=date_of(xs.kid(p, "Date"), "priority"))
                      for p in chosen if (n := xs.value(p, "DocNumber"))]

    items = []
    for c in xs.kids(xs.kid(bib, "ClassificationIPCRDetails"), "ClassificationIPCR"):
        parts = {"section": xs.value(c, "Section"), "class": xs.value(c, "MainClass"),
                 "subclass": xs.value(c, "Subclass"), "group": xs.value(c, "MainGroup"),
                 "subgroup": xs.value(c, "Subgroup")}
        items.append(ipc_from(xs.value(c, "Text"), parts, xs.value(c, "IPCVersionDate")))
    set_ipc(rec, items)

    for t in xs.kids(bib, "InventionTitle"):
        title = xs.prose(t)
        if (t.get("lang") or "zh").lower() == "en":
            rec.title_en = rec.title_en or title
        else:
            rec.title = rec.title or title

    parties = xs.kid(bib, "Parties")
    for app_el in xs.descendants(xs.kid(parties, "ApplicantDetails"), "Applicant"):
        book = xs.kid(app_el, "AddressBook")
        name = xs.value(book, "Name") or xs.value(book, "OrganizationName")
        if not name:
            continue
        addr = xs.kid(book, "Address")
        text = _real(xs.value(addr, "Text")) or _compose_address(addr)
        country = _real(xs.value(addr, "WIPOST3Code")) or country_of_address(text)
        rec.applicants.append(Party(name=name, address=strip_postcode(text), country=country, role="applicant"))
    rec.inventors = dedupe([xs.value(inv, "AddressBook/Name") or ""
                             for inv in xs.descendants(xs.kid(parties, "InventorDetails"), "Inventor")])
    agents = list(xs.descendants(xs.kid(parties, "AgentDetails"), "Agent"))
    rec.agency = next((a for ag in agents if (a := agency_name(xs.value(ag, "Agency/AddressBook/OrganizationName")
                                                                or xs.value(ag, "Agency/AddressBook/Name")))), None)
    rec.agents = dedupe([xs.value(ag, "AddressBook/Name") or "" for ag in agents])

    rec.pct_app_number = xs.value(bib, "PCTOrRegionalApplicationData/DocumentID/DocNumber")
    wo = xs.kid(bib, "PCTOrRegionalPublishingData/DocumentID")
    _add_wo(rec, xs.value(wo, "WIPOST3Code"), xs.value(wo, "DocNumber"), xs.kid(wo, "Date"))
    rec.citations = _v2_citations(bib)

    rec.abstract = paragraphs(xs.kid(root, "Abstract"))
    rec.description = paragraphs(xs.kid(root, "Description"))
    rec.claims = claims_of(xs.kid(root, "Claims"), "Claim")
    return finish(rec, kind)


def _compose_address(addr: Any) -> str | None:
    if addr is None:
        return None
    parts = [_real(xs.value(addr, n)) for n in ("PostCode", "Province", "City", "County", "AddressCity", "Street",
                                                "AddressBuilding", "AddressFloor", "AddressRoom", "AddressLine")]
    text = "".join(p for p in parts[1:] if p)
    return (f"{parts[0]} {text}" if parts[0] else text) or None


def _v2_citations(bib: Any) -> list[str]:
    """Cited patent documents: any *Citation element holding a DocumentID (the V2.2.1 schema's
    ReferenceCitationDetails; none in the public samples)."""
    out = []
    for el in bib.iter():
        name = xs.lname(el)
        if "Citation" not in name or name.endswith("Details"):
            continue
        did = xs.kid(el, "DocumentID")
        number = xs.value(did, "DocNumber")
        if not number:
            continue
        try:
            out.append(canonical_pub(number, xs.value(did, "WIPOST3Code") or "", xs.value(did, "Kind")))
        except RecordError:
            continue
    return dedupe(out)


register(sys.modules[__name__])  # type: ignore[arg-type]  # the module is the importer
