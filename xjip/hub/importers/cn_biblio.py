"""Chinese patent bibliographic exports → `PatentRecord`s.

Layouts read (one canonical field set, many header spellings, see `ALIASES`):
- CSV/TSV/XLSX exports of the CNIPA search system (pss-system, 专利检索及分析), incoPat, Patsnap
  (智慧芽), CNKI and similar: 公开（公告）号、申请号、申请日、名称、申请（专利权）人、IPC分类号、法律状态…
- the CNKI 中国专利 scrape with its misleading column names (title, author = inventors, com =
  applicant, sql = application date, quote = publication date, href = URL whose `filename=` is the
  publication number, ChDiv_summary = abstract, claim_text = first claim);
- MySQL dumps (Navicat / mysqldump) of such a table: parsed statement by statement, multi-row
  VALUES, MySQL string escapes; a broken statement is a located `sql_syntax` rejection and the
  next statements go on;
- any other layout through a user column-mapping file (`options["mapping"]`: JSON or CSV
  `source_column,field`; the field is a canonical name below or one of the Chinese headers);
- the unified JSONL of `cn_records_unified.jsonl.gz` (importer `cn_biblio_jsonl`).

Numbers: CN application numbers are check-digit verified (ZC 0006-2003, in `numbers`); kind codes
follow 专利文献种类标识代码标准 ZC 0008-2004: A = application publication, B = invention grant,
U = utility model grant, S = design grant (C, Y, D: their pre-2004 counterparts), so a U, S or B
document is itself the grant announcement (授权公告).
Province codes are GB/T 2260 two-digit codes.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from functools import lru_cache
from typing import Any, Iterator

from xjip.hub import numbers
from xjip.hub.importers import _export_columns, _tabular
from xjip.hub.importers._tabular import HeaderMap, Row, normalise_header
from xjip.hub.importers.base import HEAD_BYTES, SKIPPED, Source, detect_encoding, parse_date, register, shard_of
from xjip.hub.records import (
    FamilyMember, ItemStream, LegalEvent, Locator, Party, PatentRecord, Priority, Publication, RecordError,
    Rejection, SourceError,
)

# canonical field → header spellings (the first is the one shown in error messages).
_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "app_number": ("申请号", "专利申请号", "申请号码", "application_number", "application number", "appno"),
    "pub_number": ("公开（公告）号", "公开号", "公告号", "公布号", "申请公布号", "公开号码", "文献号",
                   "publication_number", "publication number"),
    "grant_number": ("授权公告号", "授权号", "授权公布号", "grant_publication_number"),
    "app_date": ("申请日", "申请日期", "filing_date", "application date"),
    "pub_date": ("公开（公告）日", "公开日", "公告日", "公开日期", "公布日", "申请公布日", "publication_date"),
    "grant_date": ("授权公告日", "授权日", "授权日期", "grant_date"),
    "patent_type": ("专利类型", "专利种类", "类型", "patent_type"),
    "title": ("名称", "专利名称", "标题", "发明名称", "中文标题", "发明创造名称", "title"),
    "title_grant": ("授权名称",),
    "title_en": ("英文标题", "英文名称", "title_en"),
    "abstract": ("摘要", "申请摘要", "中文摘要", "abstract"),
    "claims": ("主权项", "首项权利要求", "独立权利要求", "权利要求", "权利要求书", "claims"),
    # Patentics 权利要求数, Derwent 权利要求计数 / Claims Count, incoPat and PatSnap 权利要求数量
    "claims_count": ("权利要求数", "权利要求数量", "权利要求计数", "权利要求项数", "权利要求总数", "claims_count",
                     "Claims Count", "Claim Count", "Number of Claims"),
    "applicants": ("申请（专利权）人", "申请人", "专利权人", "申请人名称", "权利人", "applicants", "applicant"),
    "address": ("申请人地址", "申请（专利权）人地址", "地址", "第一申请人地址", "applicant_address"),
    "inventors": ("发明人", "发明（设计）人", "设计人", "inventors", "inventor"),
    "agency": ("代理机构", "专利代理机构", "agency"),
    "agents": ("代理人", "专利代理人", "agents"),
    "ipc": ("IPC分类号", "分类号", "IPC", "IPC分类", "国际专利分类号", "ipc"),
    "ipc_main": ("主分类号", "IPC主分类号", "IPC主分类", "主IPC", "ipc_main"),
    "cpc": ("CPC分类号", "CPC", "cpc"),
    "cpc_main": ("CPC主分类号",),
    "province": ("国省代码", "省市代码", "国省", "province_code"),
    "legal_status": ("法律状态", "当前法律状态", "简单法律状态", "legal_status"),
    "family": ("同族", "同族专利", "同族专利号", "简单同族", "family"),
    "family_id": ("简单同族ID", "同族ID", "family_id"),
    "priority": ("优先权", "优先权号", "优先权信息", "priority_claims"),
    "priority_date": ("优先权日",),
    "transfer_count": ("转让次数", "专利转移次数", "转移次数", "transfer_count"),
    "license_count": ("许可次数", "license_count"),
    "pledge_count": ("质押次数", "pledge_count"),
    "transfer_date": ("转让日期", "转移日期", "专利转让日期"),
    "license_date": ("许可日期",),
    "pledge_date": ("质押日期",),
    "lapse_date": ("失效日期",),
    "invalidation_date": ("无效宣告日期", "无效日期"),
    "citations": ("引证专利", "引用专利", "patent_citations"),
    "pct_app_number": ("国际申请号", "PCT申请号"),
    # xjip's own marker of generated demo rows (xjip.hub.synth): such records are flagged synthetic
    "synthetic": ("合成数据", "is_synthetic"),
}
# The names each tool writes (incoPat, Patentics, PatSnap, Derwent, Lens, Google…) are in
# `_export_columns`: a recognised tool's own names first, the common ones below, then those that
# mean the same in every tool.
# The CNKI scrape's names (README of cnki_zhiwang_zhuanli_nlp), only applied to that layout.
_CNKI_ALIASES = {"title": "title", "author": "inventors", "com": "applicants", "sql": "app_date",
                 "quote": "pub_date", "href": "cnki_href", "ChDiv_summary": "abstract", "claim_text": "claims"}

GENERIC_ALIASES: dict[str, str] = {alias: f for f, names in _FIELD_ALIASES.items() for alias in names}
ALIASES: dict[str, str] = {**GENERIC_ALIASES,
                           **{h: f for h, f in _export_columns.shared_columns().items() if h not in GENERIC_ALIASES}}
_FIELD_BY_NORM = {normalise_header(a): f for a, f in ALIASES.items()}
FIELDS = frozenset(_FIELD_ALIASES) | {"cnki_href"} | frozenset(_export_columns.EXTRA_FIELDS)
REQUIRED = {"app_number|pub_number|grant_number", "title"}
_TITLES = ("title_translated", "title_original", "title_en")  # a title when the export has no Chinese one
CNKI_REQUIRED = {"cnki_href", "title"}

# Headers only a patent table has: trademark / GI / copyright templates also carry 申请号,
# 申请日, 申请人, 名称, 代理机构… so those never count towards claiming a file.
_PATENT_MARKERS = frozenset(normalise_header(h) for h in (
    "公开（公告）号", "公开号", "公开（公告）日", "授权公告号", "授权公告日", "主权项", "IPC分类号", "主分类号",
    "IPC主分类号", "CPC分类号", "CPC主分类号", "发明人", "发明（设计）人", "专利类型", "专利名称", "发明名称",
    "申请（专利权）人", "专利权人", "国省代码", "同族", "同族专利", "专利代理机构", "专利代理人", "专利转移次数",
    "申请摘要", "首项权利要求",
    # also every header templates.py treats as "a patent list, not a template": no file falls between
    "公告号", "IPC主分类", "优先权号", "摘要", "IPC", "Publication Number",
)) | _export_columns.markers()
_CNKI_MARKERS = frozenset(normalise_header(h) for h in ("ChDiv_summary", "claim_text"))
_CNKI_CORE = frozenset(("title", "author", "com", "href"))

_GRANT_KINDS = ("B", "C", "U", "Y", "S", "D")
_POSTCODE = re.compile(r"^\s*\d{6}(?!\d)\s*")
_HREF_PUB = re.compile(r"filename=([A-Za-z]{2}\d+[A-Za-z]\d?)")
_NAME_SEPS = re.compile(r"[;；|\n]")
_LIST_SEPS = re.compile(r"[;；,，|\n]")
_DATE_SEPS = re.compile(r"[;；,，|\s]+")

# GB/T 2260 province-level codes.
PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆", "71": "台湾", "81": "香港", "82": "澳门",
}
_PROVINCE_BY_NAME = {name: code for code, name in PROVINCES.items()}

# Legal-status phrases (CNIPA 法律状态 as printed by incoPat/Patsnap/CNIPA), most specific first.
_STATUS_RULES: tuple[tuple[str, str], ...] = (
    ("部分无效", "granted"), ("无效", "invalidated"),
    ("期限届满", "expired"), ("届满", "expired"), ("期满终止", "expired"),
    ("未缴年费", "lapsed"), ("年费终止", "lapsed"), ("终止", "lapsed"), ("失效", "lapsed"),
    ("视为放弃", "withdrawn"), ("放弃", "lapsed"),  # 放弃专利权 = surrender of a granted right
    ("驳回", "rejected"), ("撤回", "withdrawn"),
    ("有权", "granted"), ("授权", "granted"), ("专利权维持", "granted"), ("有效", "granted"),
    ("审中", "pending"), ("实质审查", "pending"), ("实审", "pending"), ("公开", "pending"),
    ("受理", "pending"), ("在审", "pending"),
    ("无权", "lapsed"),
)
_TERMINAL = ("invalidated", "expired", "lapsed", "rejected", "withdrawn")
_EVENT_COLUMNS = (("transfer_date", "transfer"), ("license_date", "licence"), ("pledge_date", "pledge"),
                  ("lapse_date", "lapse"), ("invalidation_date", "invalidation"))


# --- field parsers ---------------------------------------------------------------------

@lru_cache(maxsize=4096)  # few distinct values per export: cached
def status_of(legal_status: str | None) -> str | None:
    """'有权-审定授权' → 'granted', '无权-未缴年费' → 'lapsed', '审中-实质审查' → 'pending'.
    Several statuses ('审中;有权'): a terminal one wins, then granted, then pending."""
    if not legal_status:
        return None
    found = []
    for part in _NAME_SEPS.split(str(legal_status)):
        part = part.strip()
        if not part:
            continue
        if "pct" in part.lower():
            if "有效期内" in part:
                found.append("pending")
            continue
        for phrase, status in _STATUS_RULES:
            if phrase in part:
                found.append(status)
                break
    for status in (*_TERMINAL, "granted", "pending"):
        if status in found:
            # the last terminal state printed is the current one
            return [s for s in found if s in _TERMINAL][-1] if status in _TERMINAL else status
    return None


@lru_cache(maxsize=1024)
def _type_of(text: str) -> str | None:
    return type_of(text)


def type_of(text: Any) -> str | None:
    """'实用新型' / '发明公开;发明授权' / '外观设计' / CNIPA XML '10','20','30' / 'invention' → type."""
    if text is None:
        return None
    t = str(text).strip()
    if not t:
        return None
    if "外观" in t:
        return "design"
    if "实用新型" in t or "新型" in t:
        return "utility_model"
    if "发明" in t:
        return "invention"
    if re.fullmatch(r"[123]\d?", t):  # CNIPA XML application category 10/11/20/30
        return {"1": "invention", "2": "utility_model", "3": "design"}[t[0]]
    low = t.lower()
    for prefix, kind in (("invention", "invention"), ("utility", "utility_model"), ("design", "design")):
        if low.startswith(prefix):
            return kind
    return None


@lru_cache(maxsize=4096)
def province_of(value: Any) -> str | None:
    """'河南(41)' → '41', '新疆;65' → '65', '650000' → '65', '新疆维吾尔自治区' → '65'."""
    if value is None:
        return None
    text = str(value)
    for m in re.finditer(r"(?<!\d)(\d{2})(?:\d{4})?(?!\d)", text):
        if m.group(1) in PROVINCES:
            return m.group(1)
    for name, code in _PROVINCE_BY_NAME.items():
        if name in text:
            return code
    return None


def _foreign_country(value: Any) -> str | None:
    """'US', '日本(JP)', '美国；US' → the ISO country code of a 国省代码 naming a foreign applicant's country."""
    found = re.findall(r"(?<![A-Za-z])([A-Z]{2})(?![A-Za-z])", str(value))
    return found[-1] if found and found[-1] not in ("CN",) else None


def strip_postcode(address: str | None) -> str | None:
    if not address:
        return None
    return _POSTCODE.sub("", address).strip() or None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value if v not in (None, ""))
    text = str(value).strip()
    return text or None


def _names(value: Any, seps: re.Pattern[str] = _NAME_SEPS) -> list[str]:
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else seps.split(str(value))
    out: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item:
            out[item] = None
    return list(out)


def _date(value: Any, field: str) -> Any:
    if value.__class__ is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        # The usual 'YYYY-MM-DD' at C speed; anything it refuses (2023-02-30) goes to parse_date,
        # which raises the located error.
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        # an Excel serial day number in a cell not formatted as a date (1900 date system)
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
    return parse_date(value, field)


def _dates(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        parts: list[Any] = list(value)
    elif isinstance(value, str):
        parts = [p for p in _DATE_SEPS.split(value) if p]
    else:
        parts = [value]
    return [d for d in (_date(p, field) for p in parts) if d is not None]


def _count(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise RecordError("bad_value", field, value=str(value)) from None
    if number < 0 or not number.is_integer():
        raise RecordError("bad_value", field, value=str(value))
    return int(number)


# Numbers already in canonical form (most exports print them so) skip the general parsers,
# which would return them unchanged; the CN check digit is still verified.
_CANONICAL_PUB = re.compile(r"[A-Z]{2}[1-9]\d*[A-Z]\d?")
_CANONICAL_APP = re.compile(r"CN(\d{12}|\d{8})\.([\dX])")


def _pub(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if value.__class__ is str and _CANONICAL_PUB.fullmatch(value):
        numbers.check_office(value[:2], field, value)
        return [value]
    return [numbers.canonical_pub(v, field=field) for v in _names(value, _LIST_SEPS)]


def _app(value: Any, field: str) -> tuple[str, str]:
    """(canonical number, country): any office's number in its canonical form (`numbers`), so
    that the rows of an application, and other sources about it, meet ('US16/911133' →
    'US16911133', Patentics' 'SG20211102606S' → 'SG11202102606S'); a PCT application's
    country is WO."""
    text = str(value).strip()
    m = _CANONICAL_APP.fullmatch(text)
    if m and numbers.cn_check_digit(m.group(1)) == m.group(2):
        return text, "CN"
    number = numbers.canonical_app(text, field=field)
    return number, "WO" if number.startswith("PCT/") else number[:2]


# DOCDB gives documents whose application is unknown (old US grants, for example) a placeholder
# application number: the publication's own number with kind D (incoPat writes 'US3440903D' for
# US3440903A). It names no application, so the record is keyed on its publication instead.
_DOCDB_PLACEHOLDER = re.compile(r"([A-Z]{2})0*(\d+)D")


def _docdb_placeholder(value: Any, pubs: list[str]) -> bool:
    m = _DOCDB_PLACEHOLDER.fullmatch(re.sub(r"\s", "", str(value)).upper())
    if not m:
        return False
    # the serial's digits only: a reissue USRE026269E has the placeholder US26269D
    return any(numbers.split_pub(p)[0] == m.group(1)
               and re.sub(r"\D", "", numbers.split_pub(p)[1]).lstrip("0") == m.group(2) for p in pubs)


_canonical_ipc = lru_cache(maxsize=16384)(numbers.canonical_ipc)  # classes repeat across records


# 'G06F30/30': already canonical (no leading zeros in the group), returned as is
_CANONICAL_IPC = re.compile(r"[A-H]\d{2}[A-Z][1-9]\d{0,3}/\d{1,6}")


def _ipc_list(value: Any) -> list[str]:
    out: dict[str, None] = {}
    canonical = _CANONICAL_IPC.fullmatch
    for item in _names(value, _LIST_SEPS):
        code = item if canonical(item) else _canonical_ipc(item)
        if code:
            out[code] = None
    return list(out)


_CPC = re.compile(r"^([A-HY])\s*(\d{2})\s*([A-Z])\s*0*(\d{1,4})\s*/\s*(\d{1,6})")


def _cpc_list(value: Any) -> list[str]:
    out: dict[str, None] = {}
    for item in _names(value, _LIST_SEPS):
        m = _CPC.match(item.upper())
        if m:
            out[f"{m.group(1)}{m.group(2)}{m.group(3)}{int(m.group(4))}/{m.group(5)}"] = None
    return list(out)


def _parties(value: Any, address: str | None) -> list[Party]:
    parties: list[Party] = []
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, dict):
                name = _text(item.get("name"))
                if name:
                    parties.append(Party(name=name, address=strip_postcode(_text(item.get("address"))),
                                         country=_text(item.get("country"))))
            elif _text(item):
                parties.append(Party(name=str(item).strip()))
    else:
        parties = [Party(name=n) for n in _names(value)]
    if parties and address and not parties[0].address:
        parties[0].address = strip_postcode(address)
    return parties


_PRIORITY = re.compile(r"^([A-Z]{2})\s*(.+?)(?:\s+(\d{4}[-./]?\d{2}[-./]?\d{2}))?$")


def _address_of(v: dict[str, Any]) -> str | None:
    """An applicant's place from the region columns some tools write instead of an address
    (PatSnap's 州/省, 地市, 区县; incoPat's 中国申请人地市, 区县)."""
    parts = [_text(v.get(k)) for k in ("applicant_province", "applicant_city", "applicant_county")]
    parts = [p for p in parts if p]
    if not parts or len(parts) == 1 and parts[0] == _text(v.get("applicant_province")):
        return None  # a province alone places nothing finer than 国省代码 does
    return "".join(dict.fromkeys(parts))


def _priorities(value: Any, dates: Any) -> list[Priority]:
    out = []
    extra_dates = _names(dates, _LIST_SEPS)
    for i, item in enumerate(_names(value)):
        m = _PRIORITY.match(item.strip().upper())
        country, number, date_text = (m.group(1), m.group(2), m.group(3)) if m else (None, item, None)
        if date_text is None and i < len(extra_dates):
            date_text = extra_dates[i]
        out.append(Priority(number=number.strip(), country=country, date=_date(date_text, "priority_date")))
    return out


def _family(value: Any) -> list[FamilyMember]:
    out = []
    for item in _names(value, _LIST_SEPS):
        try:
            number = numbers.canonical_pub(item)
            country, _, kind = numbers.split_pub(number)
        except RecordError:
            number, country, kind = item, None, None
        out.append(FamilyMember(number=number, country=country or None, kind=kind))
    return out


def build_record(v: dict[str, Any]) -> PatentRecord:
    """Canonical values (see ALIASES) → PatentRecord. Raises RecordError(field=canonical name)."""
    rec = PatentRecord(language="zh")
    pubs = _pub(v.get("pub_number"), "pub_number")
    if v.get("app_number") is not None and not _docdb_placeholder(v["app_number"], pubs):
        rec.app_number, rec.country = _app(v["app_number"], "app_number")
    if not pubs and v.get("cnki_href"):
        m = _HREF_PUB.search(str(v["cnki_href"]))
        if not m:
            raise RecordError("bad_number", "cnki_href", value=str(v["cnki_href"]))
        pubs = [numbers.canonical_pub(m.group(1), field="cnki_href")]
    grants = _pub(v.get("grant_number"), "grant_number")
    pub_parts = numbers.split_pub(pubs[0]) if pubs else None
    if pubs:
        rec.pub_number = pubs[0]
        if not grants:
            # '公开（公告）号' may list the A and the B documents; U/S/B documents are grants.
            grants = [p for i, p in enumerate(pubs)
                      if ((pub_parts if i == 0 else numbers.split_pub(p))[2] or "")[:1] in _GRANT_KINDS][:1]
    if grants:
        rec.grant_number = grants[0]
    listed = list(dict.fromkeys([*pubs, *grants]))
    if rec.pub_number and not rec.app_number and rec.country == "CN":
        rec.country = pub_parts[0] or "CN"
    rec.kind_code = (pub_parts if pub_parts is not None else numbers.split_pub(rec.grant_number or ""))[2]

    rec.app_date = _date(v.get("app_date"), "app_date")
    rec.pub_date = _date(v.get("pub_date"), "pub_date")
    rec.grant_date = _date(v.get("grant_date"), "grant_date")
    if rec.grant_date is None and rec.grant_number and rec.grant_number == rec.pub_number:
        rec.grant_date = rec.pub_date
    if len(listed) > 1:  # '公开（公告）号' may list the A and the B (and a correction): all are kept
        dates = {rec.pub_number: rec.pub_date, rec.grant_number: rec.grant_date}
        rec.publications = [Publication(n, None, dates.get(n)) for n in listed]

    ptype = v.get("patent_type")
    rec.patent_type = ((_type_of(ptype) if isinstance(ptype, str) else type_of(ptype))
                       or numbers.cn_type_from_app(rec.app_number) or numbers.type_from_kind(rec.kind_code))
    rec.title = (_text(v.get("title")) or _text(v.get("title_grant")) or _text(v.get("title_translated"))
                 or _text(v.get("title_original")) or _text(v.get("title_en")))
    rec.title_en = _text(v.get("title_en"))
    rec.abstract = (_text(v.get("abstract")) or _text(v.get("abstract_translated"))
                    or _text(v.get("abstract_original")) or _text(v.get("abstract_en")))
    claims = v.get("claims")
    if isinstance(claims, list):
        rec.claims = [str(c).strip() for c in claims if _text(c)]
    elif isinstance(claims, str) and claims.strip():
        rec.claims, rec.first_claim_only = [claims.strip()], True  # 主权项
    rec.stated_claims_count = _count(v.get("claims_count"), "claims_count") or None  # 0: the tool did not count

    applicants = next((v[k] for k in ("applicants", "applicants_std", "current_owner", "current_owner_std",
                                      "first_applicant")
                       if v.get(k)), None)
    rec.applicants = _parties(applicants, _text(v.get("address")) or _address_of(v))
    rec.inventors = _names(v.get("inventors"))
    rec.agency = _text(v.get("agency"))
    rec.agents = _names(v.get("agents"))

    rec.ipc = _ipc_list(v.get("ipc"))
    main = _canonical_ipc(str(v["ipc_main"])) if v.get("ipc_main") else None
    if main and "/" not in main:  # a subclass alone ('H04L', Patentics): the first full symbol in it
        main = next((c for c in rec.ipc if c.startswith(main)), main)
    rec.ipc_main = main or (rec.ipc[0] if rec.ipc else None)
    if rec.ipc_main and rec.ipc_main not in rec.ipc:
        rec.ipc.insert(0, rec.ipc_main)
    rec.cpc = _cpc_list([*_names(v.get("cpc_main"), _LIST_SEPS), *_names(v.get("cpc"), _LIST_SEPS)])

    province = v.get("province") or v.get("applicant_province")
    rec.province_code = province_of(str(province)) if province is not None else None
    foreign = _foreign_country(province) if province is not None and rec.province_code is None else None
    if foreign and rec.applicants and not rec.applicants[0].country:
        rec.applicants[0].country = foreign  # CNIPA's 国省代码 of a foreign applicant is its country (US, 日本(JP))
    rec.legal_status = _text(v.get("legal_status")) or _text(v.get("legal_events"))
    rec.status = status_of(rec.legal_status)
    rec.transfer_count = _count(v.get("transfer_count"), "transfer_count")
    rec.license_count = _count(v.get("license_count"), "license_count")
    rec.pledge_count = _count(v.get("pledge_count"), "pledge_count")
    for name, category in _EVENT_COLUMNS:
        for date in _dates(v.get(name), name):
            rec.events.append(LegalEvent(category=category, date=date, description=_FIELD_ALIASES[name][0]))

    rec.family = _family(v.get("family"))
    rec.family_id = _text(v.get("family_id"))
    rec.priorities = _priorities(v.get("priority"), v.get("priority_date"))
    rec.citations = [c for c in (_text(x) for x in _names(v.get("citations"), _LIST_SEPS)) if c]
    rec.pct_app_number = _text(v.get("pct_app_number"))
    flag = v.get("synthetic")
    rec.is_synthetic = flag is True or str(flag).strip().lower().startswith(("是", "y", "true", "1"))
    return rec


# --- rows → records --------------------------------------------------------------------

def _to_item(row: Row) -> PatentRecord | Rejection:
    """Row → record, or a located Rejection (field = the file's own column name, cell for XLSX).
    A key repeated in the file is rejected by the pipeline (which remembers keys on disk, not
    in a dict growing with the file): the record carries the column and cell to name then."""
    try:
        rec = build_record(row.values)
    except RecordError as err:
        return Rejection(_at(row, err.field), err.code, _column(row, err.field) if err.field else None,
                         err.params, row.raw)
    rec.locator, rec.raw = row.locator, row.raw
    if rec.app_number:
        key_field = "app_number"
    elif rec.pub_number:
        key_field = "pub_number"
    elif rec.grant_number:
        key_field = "grant_number"
    else:
        return Rejection(_at(row, "app_number"), "missing_field", _column(row, "app_number"), {}, row.raw)
    # Read by writers.prepare for a duplicate-key rejection (see writers._key_location).
    rec.key_field = _column(row, key_field)  # type: ignore[attr-defined]
    if row.sheet_columns is not None:
        rec.key_locator = _at(row, key_field)  # type: ignore[attr-defined]
    return rec


def _at(row: Row, field: str | None) -> Locator:
    cell = row.cell_of(field) if field else None
    return replace(row.locator, cell=cell) if cell else row.locator


def _column(row: Row, field: str) -> str:
    """The file's own header for a canonical field; the preferred Chinese name otherwise."""
    if field in row.columns:
        return row.columns[field]
    return _FIELD_ALIASES.get(field, (field,))[0]


def _aliases_with_mapping(mapping: dict[str, str] | None, mapping_name: str, base: dict[str, str]
                          ) -> dict[str, str]:
    if not mapping:
        return base
    merged: dict[str, str] = {}
    for src, target in mapping.items():
        canonical = canonical_field(target)
        if canonical is None:
            raise SourceError(Locator(mapping_name), "mapping",
                              detail=f"unknown field '{target}' (for column '{src}')")
        merged[src] = canonical
    for alias, canonical in base.items():  # the user's columns take precedence
        merged.setdefault(alias, canonical)
    return merged


MAPPING_NAME = "column mapping / 列映射"


def _load_mapping(options: dict[str, Any]) -> tuple[dict[str, str] | None, str]:
    """The mapping a run was given: `mapping` (a file, `xjip import --mapping`) or
    `column_mapping` (the one staff chose on the job page)."""
    path = options.get("mapping")
    if path:
        from pathlib import Path

        return _tabular.load_mapping(path), Path(str(path)).name
    inline = options.get("column_mapping")
    if isinstance(inline, dict) and inline:
        return {str(k): str(v) for k, v in inline.items()}, MAPPING_NAME
    return None, ""


IGNORED = "_ignored"  # the field of a column a mapping leaves out ('-')


def canonical_field(target: str) -> str | None:
    """A mapping's target ('title', '名称', 'IPC分类号') as a field name, None when unknown;
    '-' leaves the column out (even when its header names a field)."""
    if target in FIELDS:
        return target
    if target.strip() in ("-", IGNORED):
        return IGNORED
    return _FIELD_BY_NORM.get(normalise_header(target))


def _positions(positions: dict[int, str], mapping_name: str) -> dict[int, str]:
    out = {}
    for index, target in positions.items():
        canonical = canonical_field(target)
        if canonical is None:
            raise SourceError(Locator(mapping_name), "mapping",
                              detail=f"unknown field '{target}' (for column '#{index + 1}')")
        out[index] = canonical
    return out


# --- SQL dumps -------------------------------------------------------------------------

MAX_STATEMENT_MB = 256
_SQL_START = re.compile(r"(?:INSERT|REPLACE|CREATE|DROP|SET|LOCK|UNLOCK|USE|ALTER|BEGIN|START|COMMIT)\b", re.I)
_NORMAL = re.compile(r"['\"`;#]|--(?=[\s])|/\*")
_IN_QUOTE = {"'": re.compile(r"[\\']"), '"': re.compile(r'[\\"]'), "`": re.compile(r"`")}
# A line that is one whole statement (the usual dump layout: one INSERT per line): quoted
# strings skipped atomically, no comment, ends with ';'. Anything else takes the slow path.
_WHOLE_LINE = re.compile(
    r"""\s*+((?>[^'"`;#/\-\s]|\s++|'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'|"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"
    |`[^`]*+`|-(?!-)|/(?!\*))++);\s*+""", re.S | re.X)
_INSERT = re.compile(
    r"(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?"
    r"(?P<table>(?:`[^`]+`|\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:`[^`]+`|\"[^\"]+\"|[\w$]+))?)\s*"
    r"(?:\((?P<cols>(?:`[^`]*`|\"[^\"]*\"|[^)`\"])*)\)\s*)?VALUES?\s*", re.I | re.S)
_COLUMN_LIST = re.compile(r"`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[^,\s`\"]+")
_CREATE = re.compile(
    r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<table>(?:`[^`]+`|\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:`[^`]+`|\"[^\"]+\"|[\w$]+))?)\s*\(", re.I | re.S)
_IGNORED = frozenset(("SET", "DROP", "LOCK", "UNLOCK", "USE", "ALTER", "BEGIN", "START", "COMMIT", "ROLLBACK",
                      "SAVEPOINT", "TRUNCATE", "DELETE", "UPDATE", "CREATE", "DELIMITER", "GRANT", "FLUSH",
                      "ANALYZE", "OPTIMIZE", "SELECT"))
_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "Z": "\x1a", "%": "\\%", "_": "\\_"}
_ESCAPE = re.compile(r"\\(.)|''|\"\"", re.S)


def _unescape(text: str) -> str:
    """MySQL string literal escapes (MySQL 8.0 reference manual, 11.1.1 String Literals)."""
    if "\\" not in text and "''" not in text and '""' not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return _ESCAPES.get(m.group(1), m.group(1))

    return _ESCAPE.sub(sub, text)


def _ident(text: str) -> str:
    text = text.strip()
    if text[:1] in "`\"" and text[-1:] == text[:1]:
        return text[1:-1].replace(text[0] * 2, text[0])
    return text


def _table_name(text: str) -> str:
    return _ident(re.split(r"\s*\.\s*(?=[`\"\w$])", text.strip())[-1])


class _SqlError(Exception):
    def __init__(self, pos: int, detail: str):
        self.pos, self.detail = pos, detail
        super().__init__(detail)


def _split_statements(lines: Iterator[str], name: str) -> Iterator[tuple[int, str, bool]]:
    """(start line, statement text without comments, complete?) for every statement, reading
    line by line: ';' ends a statement only outside quotes and comments."""
    buf: list[str] = []
    size = 0
    start: int | None = None
    state: str | None = None  # None | a quote char | "/*"
    limit = MAX_STATEMENT_MB * 1024 * 1024
    n = 0
    whole = _WHOLE_LINE.fullmatch
    for n, line in enumerate(lines, 1):
        if state is None and start is None:
            m = whole(line)
            if m:
                buf, size = [], 0
                yield n, m.group(1).strip(), True
                continue
        pos, end = 0, len(line)
        while pos < end:
            if state is None:
                m = _NORMAL.search(line, pos)
                stop = m.start() if m else end
                piece = line[pos:stop]
                if start is None and piece.strip():
                    start = n
                buf.append(piece)
                size += len(piece)
                if not m:
                    break
                tok = m.group()
                if tok == ";":
                    if start is not None:
                        yield start, "".join(buf).strip(), True
                    buf, size, start = [], 0, None
                    pos = m.end()
                elif tok in ("#", "--"):
                    buf.append("\n")  # keep line count; the comment runs to the end of the line
                    break
                elif tok == "/*":
                    state, pos = "/*", m.end()
                else:
                    if start is None:
                        start = n
                    state = tok
                    buf.append(tok)
                    pos = m.end()
            elif state == "/*":
                close = line.find("*/", pos)
                if close < 0:
                    buf.append("\n" if line.endswith("\n") else "")
                    break
                buf.append(" ")
                state, pos = None, close + 2
            else:
                pattern = _IN_QUOTE[state]
                while True:
                    m = pattern.search(line, pos)
                    if not m:
                        buf.append(line[pos:])
                        size += end - pos
                        pos = end
                        break
                    if m.group() == "\\":
                        nxt = m.end() + 1
                        buf.append(line[pos:nxt])
                        size += nxt - pos
                        pos = nxt
                        continue
                    if line.startswith(state, m.end()):  # doubled quote
                        buf.append(line[pos:m.end() + 1])
                        size += m.end() + 1 - pos
                        pos = m.end() + 1
                        continue
                    buf.append(line[pos:m.end()])
                    size += m.end() - pos
                    pos = m.end()
                    state = None
                    break
        if size > limit:
            raise SourceError(Locator(name, line=start), "sql_syntax",
                              detail=f"statement larger than {MAX_STATEMENT_MB} MB (unterminated string?)")
    if start is not None:
        text = "".join(buf).strip()
        yield start, text, state is None


_DDL_TOKEN = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|[(),]", re.S)


def _create_columns(text: str, m: re.Match[str]) -> list[str]:
    """Column names of a CREATE TABLE body (keys, indexes and constraints skipped)."""
    cols: list[str] = []
    depth, pos, item_start = 1, m.end(), m.end()
    items: list[str] = []
    while pos < len(text) and depth:
        tm = _DDL_TOKEN.search(text, pos)
        if not tm:
            break
        tok = tm.group()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth == 0:
                items.append(text[item_start:tm.start()])
        elif tok == "," and depth == 1:
            items.append(text[item_start:tm.start()])
            item_start = tm.end()
        pos = tm.end()
    for item in items:
        item = item.strip()
        if not item:
            continue
        first = re.match(r"(`[^`]+`|\"[^\"]+\"|[\w$]+)", item)
        if not first:
            continue
        word = first.group(1)
        if word[0] not in "`\"" and word.upper() in ("PRIMARY", "KEY", "UNIQUE", "INDEX", "CONSTRAINT", "FULLTEXT",
                                                      "SPATIAL", "FOREIGN", "CHECK", "PERIOD"):
            continue
        cols.append(_ident(word))
    return cols


_VALUE = r"""(?:
    (?:_\w+\s*)?(?P<s>'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+')
  | (?P<d>"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+")
  | (?P<int>[-+]?\d+)(?![\w.])
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(?![\w.])
  | (?P<null>(?i:NULL))\b
  | (?P<bool>(?i:TRUE|FALSE))\b
  | (?P<hex>0x[0-9A-Fa-f]+|[xX]'[0-9A-Fa-f]*')
)"""
_BARE_VALUE = re.sub(r"\(\?P<\w+>", "(?:", _VALUE)
# A whole row checked in one (C-speed) match; its values then extracted with findall.
# No re.I here: case-folding every character of long strings costs; keywords use (?i:…).
_ROW = re.compile(r"\s*+\(\s*+(?>" + _BARE_VALUE + r"\s*+,\s*+)*+" + _BARE_VALUE + r"\s*+\)", re.X | re.S)
# Extraction from a row _ROW has validated: quoted strings, hex strings, else bare tokens.
_ROW_TOKENS = re.compile(r"""(?:_\w+\s*)?('[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+')|("[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+")"""
                         r"""|([xX]'[0-9A-Fa-f]*')|([^\s,'"]++)""", re.S)
_VALUE_SEP = re.compile(r"\s*+" + _VALUE + r"\s*+(?P<sep>[,)])", re.X | re.S)
_OPEN = re.compile(r"\s*\(")
_NEXT_ROW = re.compile(r"\s*(?:(,)|\Z|ON\s+DUPLICATE\s+KEY\s+UPDATE\b)", re.I)


def _convert(groups: tuple[str, str, str, str]) -> Any:
    """One findall tuple → value. findall gives '' for alternatives that did not match, so
    strings keep their quotes in the group ('' is then never a matched value)."""
    single, double, hexstr, bare = groups
    if single:
        single = single[1:-1]
        return _unescape(single) if "\\" in single or "'" in single else single
    if bare:
        if bare.isdigit():
            return int(bare)
        upper = bare.upper()
        if upper == "NULL":
            return None
        if upper in ("TRUE", "FALSE"):
            return upper == "TRUE"
        if upper.startswith("0X"):
            return bare
        return int(bare) if bare.lstrip("+-").isdigit() else float(bare)
    if double:
        return _unescape(double[1:-1])
    return hexstr


def _values(text: str, pos: int) -> Iterator[tuple[int, list[Any]]]:
    """(offset of the row's '(' in text, values) for each row of a VALUES list."""
    row_match, findall, next_row = _ROW.match, _ROW_TOKENS.findall, _NEXT_ROW.match
    while True:
        m = row_match(text, pos)
        if m is None:
            _locate_row_error(text, pos)
        row_pos = text.index("(", pos)
        yield row_pos, [_convert(g) for g in findall(text, row_pos + 1, m.end() - 1)]
        pos = m.end()
        m = next_row(text, pos)
        if not m:
            raise _SqlError(pos, "expected ',' or end of statement")
        if m.group(1) is None:
            return
        pos = m.end()


def _locate_row_error(text: str, pos: int) -> None:
    """Walk a row that failed the fast match value by value to say where it breaks."""
    m = _OPEN.match(text, pos)
    if not m:
        raise _SqlError(pos, "expected '('")
    pos = m.end()
    while True:
        m = _VALUE_SEP.match(text, pos)
        if not m:
            raise _SqlError(pos, "expected a value then ',' or ')'")
        pos = m.end()
        if m.group("sep") == ")":
            raise _SqlError(pos, "unreadable row")  # not reached: such a row matches _ROW


def _snippet(text: str, pos: int) -> str:
    return text[pos:pos + 40].replace("\n", " ")


def _iter_sql(source: Source, aliases: dict[str, str], required: set[str]) -> Iterator[Row | Rejection]:
    tables: dict[str, list[str]] = {}
    maps: dict[tuple[str, tuple[str, ...]], HeaderMap | None] = {}
    skipped: tuple[int, list[str]] | None = None
    produced = False
    record = 0
    name = source.name
    for start, text, complete in _split_statements((line for _, line in _tabular.iter_text_lines(source)), name):
        if not complete:
            yield Rejection(Locator(name, None, start), "sql_syntax",
                            params={"detail": "unterminated string or statement at end of file / 语句未结束"})
            break
        word = re.match(r"\w+", text)
        keyword = word.group().upper() if word else ""
        if keyword == "CREATE":
            cm = _CREATE.match(text)
            if cm:
                tables[_table_name(cm.group("table"))] = _create_columns(text, cm)
            continue
        if keyword == "COPY":  # PostgreSQL: the data lines that follow are no SQL statements
            raise SourceError(Locator(name, line=start), "sql_syntax",
                              detail="COPY … FROM stdin is not supported: dump with INSERT statements "
                                     "(pg_dump --inserts) / 请用 INSERT 语句导出")
        if keyword not in ("INSERT", "REPLACE"):
            if keyword not in _IGNORED:
                yield Rejection(Locator(name, None, start), "sql_syntax",
                                params={"detail": f"line {start}: unknown statement near '{_snippet(text, 0)}'"})
            continue
        im = _INSERT.match(text)
        if not im:
            yield Rejection(Locator(name, None, start), "sql_syntax",
                            params={"detail": f"line {start}: unreadable INSERT near '{_snippet(text, 0)}'"})
            continue
        table = _table_name(im.group("table"))
        columns = ([_ident(c) for c in _COLUMN_LIST.findall(im.group("cols"))] if im.group("cols")
                   else tables.get(table))
        if not columns:
            yield Rejection(Locator(name, None, start), "sql_syntax",
                            params={"detail": f"INSERT into `{table}` without a column list and no CREATE TABLE"})
            continue
        key = (table, tuple(columns))
        if key not in maps:
            hmap = HeaderMap(columns, aliases)
            missing = hmap.missing(required)
            maps[key] = None if missing else hmap
            if missing and skipped is None:
                skipped = (start, missing)
        hmap = maps[key]
        if hmap is None:
            continue  # another table of the dump (not patent rows)
        # Parse the whole statement first: a syntax error rejects it without half its rows.
        try:
            rows = list(_values(text, im.end()))
        except _SqlError as err:
            line = start + text.count("\n", 0, err.pos)
            yield Rejection(Locator(name, None, start), "sql_syntax",
                            params={"detail": f"line {line}: {err.detail} near '{_snippet(text, err.pos)}'"})
            continue
        line, last = start, 0
        for row_pos, values in rows:
            line += text.count("\n", last, row_pos)
            last = row_pos
            record += 1
            if len(values) != len(columns):
                yield Rejection(Locator(name, record, line), "sql_syntax",
                                params={"detail": f"{len(values)} values for {len(columns)} columns"},
                                raw=values)
                continue
            produced = True
            mapped, raw, cols = hmap.apply(values)
            yield Row(Locator(name, record, line), mapped, raw, cols)
    if not produced and skipped is not None:
        raise SourceError(Locator(name, line=skipped[0]), "missing_columns", columns="、".join(skipped[1]))


# --- JSONL (cn_records_unified) --------------------------------------------------------

_JSONL_FIELDS = {
    "application_number": "app_number", "publication_number": "pub_number",
    "grant_publication_number": "grant_number", "filing_date": "app_date", "publication_date": "pub_date",
    "grant_date": "grant_date", "title": "title", "abstract": "abstract", "claims": "claims",
    "applicants": "applicants", "applicant_address": "address", "province_code_original": "province",
    "inventors": "inventors", "ipc_main": "ipc_main", "ipc": "ipc", "cpc": "cpc", "legal_status": "legal_status",
    "agency": "agency", "agents": "agents", "family": "family", "transfer_count": "transfer_count",
    "license_count": "license_count", "pledge_count": "pledge_count", "priority_claims": "priority",
    "patent_citations": "citations",
}


def _unified_values(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for key, canonical in _JSONL_FIELDS.items():
        val = obj.get(key)
        if val not in (None, "", []):
            values[canonical] = val
            columns[canonical] = key
    # patent_type_original as printed ('实用新型', CNIPA XML '10'); the derived one otherwise
    for key in ("patent_type_original", "patent_type"):
        if type_of(obj.get(key)):
            values["patent_type"], columns["patent_type"] = obj[key], key
            break
    return values, columns


def _is_unified(keys: Any) -> bool:
    """The schema of cn_records_unified.jsonl (its README): `source_dataset` plus the numbers."""
    keys = set(keys)
    return "source_dataset" in keys and bool(keys & {"application_number", "publication_number"}) \
        and "title" in keys


def _iter_jsonl(source: Source, mapping: dict[str, str] | None = None,
                mapping_name: str = "") -> Iterator[Row | Rejection]:
    """One JSON object per line: the unified schema (cn_records_unified), or objects keyed by an
    export's own column names (read through the same aliases as a table)."""
    if not source.head().strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise SourceError(Locator(source.name), "empty_file")
    maps: dict[tuple[str, ...], HeaderMap] = {}
    record = 0
    for n, line in _tabular.iter_text_lines(source):
        if not line.strip():
            continue
        record += 1
        loc = Locator(source.name, record, n)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Rejection(loc, "json_syntax", params={"detail": f"{exc.msg} (column {exc.colno})"},
                            raw=line[:1000])
            continue
        if not isinstance(obj, dict):
            yield Rejection(loc, "json_syntax", params={"detail": "not a JSON object / 不是 JSON 对象"},
                            raw=line[:1000])
            continue
        if not mapping and _is_unified(obj):
            values, columns = _unified_values(obj)
            yield Row(loc, values, obj, columns)
            continue
        keys = tuple(obj)
        hmap = maps.get(keys)
        if hmap is None:
            aliases, required = _layout(keys, mapping, mapping_name)
            hmap = HeaderMap(keys, aliases)
            missing = hmap.missing(required)
            if missing:
                if record == 1:
                    raise SourceError(loc, "missing_columns", columns="、".join(missing))
                yield Rejection(loc, "missing_columns", params={"columns": "、".join(missing)}, raw=obj)
                continue
            maps[keys] = hmap
        values, _, columns = hmap.apply([obj[k] for k in keys])
        yield Row(loc, values, obj, columns)


def _layout(header: Any, mapping: dict[str, str] | None, mapping_name: str
            ) -> tuple[dict[str, str], set[str]]:
    """(aliases, required) for a header: the CNKI scrape's own names, else the general ones;
    a user mapping is tried first."""
    aliases, required, _ = _tool_layout(header, mapping, mapping_name)
    return aliases, required


def _tool_layout(header: Any, mapping: dict[str, str] | None, mapping_name: str
                 ) -> tuple[dict[str, str], set[str], _export_columns.Tool | None]:
    """(aliases, required, tool) for a header: the CNKI scrape's own names; else, when the
    header shows which tool wrote the export, that tool's names before the common ones; else
    the common ones. A user mapping's columns come before all of them."""
    norm = {normalise_header(h) for h in header}
    tool = None
    if norm & _CNKI_MARKERS or _CNKI_CORE <= norm:
        base, required = {**_CNKI_ALIASES, **ALIASES}, CNKI_REQUIRED
    else:
        base, required = ALIASES, REQUIRED
        tool = _export_columns.recognise(list(header))
        if tool is not None:
            # the tool's meaning of a name wins; the common spelling stays first, so that a missing
            # column is named as CNIPA names it
            own = {normalise_header(h): f for h, f in tool.columns.items()}
            base = {h: own.get(normalise_header(h), f) for h, f in ALIASES.items()}
            known = {normalise_header(h) for h in base}
            base.update({h: f for h, f in tool.columns.items() if normalise_header(h) not in known})
    if mapping:
        base, required = _aliases_with_mapping(mapping, mapping_name, base), REQUIRED
    if required is REQUIRED:
        fields = HeaderMap(header, base).positions
        if "title" not in fields and any(t in fields for t in _TITLES):
            required = {"app_number|pub_number|grant_number"}
    return base, required, tool


def header_key(header: Any) -> str:
    """The key a saved column mapping is found by: the header's cells as compared (normalised)."""
    return _tabular.header_key(header)


# --- the importers ---------------------------------------------------------------------

def _head_text(head: bytes) -> str:
    """The head as text, to recognise a layout. A stray undecodable byte must not hide the
    header: the reader then imports the rows before it and reports it, located."""
    try:
        encoding = detect_encoding(head)
    except SourceError:
        bad, text = min((t.count("\ufffd"), t) for t in (head.decode(e, errors="replace") for e in ("utf-8", "gb18030")))
        return "" if "\x00" in text or bad > max(4, len(head) // 1000) else text.lstrip("\ufeff")
    return head.decode(encoding, errors="replace").lstrip("\ufeff")


def _looks_sql(text: str) -> bool:
    body = re.sub(r"/\*.*?\*/|^\s*(?:--|#)[^\n]*", "", text[:HEAD_BYTES], flags=re.S | re.M).lstrip()
    return bool(_SQL_START.match(body)) and bool(re.search(r"\b(?:INSERT\s+INTO|CREATE\s+TABLE)\b", text, re.I))


def _first_json(text: str) -> dict[str, Any] | None:
    first = text.lstrip().split("\n", 1)[0].strip()
    if not first.startswith("{"):
        return None
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _marker_score(cells_rows: list[list[str]]) -> int:
    best = 0
    for cells in cells_rows:
        norm = {normalise_header(c) for c in cells}
        hits = len(norm & _PATENT_MARKERS)
        if hits and "申请号" in norm:  # shared with other rights, but beside a patent header it is a patent one
            hits += 1
        if norm & _CNKI_MARKERS or _CNKI_CORE <= norm:
            hits = max(hits, 4)
        best = max(best, hits)
    return best


class CnBiblioImporter:
    name = "cn_biblio"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        try:
            if _tabular.workbook_kind(head):
                hits = _marker_score(_tabular.head_rows(head))
            else:
                text = _head_text(head)
                if not text:
                    return 0
                if text.lstrip()[:1] in "{[":
                    return 0  # JSON: cn_biblio_jsonl's
                if _looks_sql(text):
                    idents = re.findall(r"`([^`]+)`|\"([^\"\n]+)\"", text)
                    hits = _marker_score([[a or b for a, b in idents]])
                else:
                    hits = _marker_score(_tabular.head_rows(head))
        except Exception:  # noqa: BLE001 - sniffing never fails
            return 0
        return min(95, 60 + 5 * hits) if hits >= 2 else 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        opts = {**getattr(source, "options", {}), **(options or {})}
        head = source.head()
        if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
            raise SourceError(Locator(source.name), "empty_file")
        mapping, mapping_name = _load_mapping(opts)
        text = "" if _tabular.workbook_kind(head) else _head_text(head)
        if text and _looks_sql(text):
            rows: Iterator[Row | Rejection] = _iter_sql(
                source, _aliases_with_mapping(mapping, mapping_name, ALIASES), REQUIRED)
        elif text and _first_json(text) is not None:
            rows = _iter_jsonl(source, mapping, mapping_name)
        else:
            yield from self._table(source, opts, mapping, mapping_name)
            return
        for item in rows:
            yield item if item.__class__ is Rejection or item is SKIPPED else _to_item(item)

    def _table(self, source: Source, opts: dict[str, Any], mapping: dict[str, str] | None,
               mapping_name: str) -> ItemStream:
        """A CSV/TSV or workbook export: the header chooses the tool's names (and a saved
        mapping, when staff mapped the same header before and this run was given none)."""
        names, positions, headerless = _tabular.split_mapping(mapping)
        placed = _positions(positions, mapping_name)
        saved = opts.get("_saved_mappings") or {}
        chosen: dict[str, Any] = {}

        def layout(header: list[str]) -> tuple[Any, ...]:
            use, use_name, at = names, mapping_name, placed
            if not mapping and not headerless:
                found = saved.get(header_key(header))
                if found:
                    use, at_raw, _ = _tabular.split_mapping(found)
                    use_name, at = MAPPING_NAME, _positions(at_raw, MAPPING_NAME)
            aliases, required, chosen["tool"] = _tool_layout(header, use or None, use_name)
            return aliases, required, at

        rows = _tabular.iter_rows(source, aliases={**names, **ALIASES, **_CNKI_ALIASES}, layout=layout,
                                  positions=placed, headerless=headerless, shard=shard_of(opts), mappable=True)
        adapt = _export_columns.adapt
        for item in rows:
            if item.__class__ is Rejection or item is SKIPPED:
                yield item
                continue
            adapt(item.values, chosen.get("tool"))
            yield _to_item(item)

    def sniff_rows(self, rows: list[list[str]], name: str) -> int:
        """The first rows of a workbook (read from the workbook itself, `base.detect`)."""
        hits = _marker_score(rows)
        return min(95, 60 + 5 * hits) if hits >= 2 else 0

    def can_shard(self, source: Source) -> bool:
        """CSV/TSV only: one record per row (workbooks, SQL dumps and JSON lines are read whole)."""
        head = source.head()
        if _tabular.workbook_kind(head):
            return False
        text = _head_text(head)
        return bool(text) and not _looks_sql(text) and _first_json(text) is None


class CnBiblioJsonlImporter:
    name = "cn_biblio_jsonl"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        try:
            obj = _first_json(_head_text(head))
            if obj is None:
                return 0
            if _is_unified(obj):
                return 90
            hits = _marker_score([list(obj)])
            return min(90, 60 + 5 * hits) if hits >= 2 else 0
        except Exception:  # noqa: BLE001 - sniffing never fails
            return 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        mapping, mapping_name = _load_mapping(options or {})
        for item in _iter_jsonl(source, mapping, mapping_name):
            yield item if item.__class__ is Rejection else _to_item(item)


importer = register(CnBiblioImporter())
jsonl_importer = register(CnBiblioJsonlImporter())
