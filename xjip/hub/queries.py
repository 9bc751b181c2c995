"""Read-only queries over the hub, shared by the web pages, the JSON API and the CLI.

Every function takes a Session and returns plain data (dicts, lists, dates); none commits.
Lists are bounded and paged by keyset (an opaque `after` token), never by OFFSET.

Privacy: `record_detail`, `list_records` and `entity_detail` take `masked`; with `masked=True`
(the default, used for anonymous visitors) personal data is withheld — see `MASKING_POLICY`.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer, and_, bindparam, case, cast, exists, extract, false, func, literal, literal_column, or_, select,
    true, text, tuple_, union_all,
)
from sqlalchemy.orm import Session, aliased

from xjip.hub import models as m
from xjip.hub.gazetteer import PROVINCES

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_QUERY_TEXT = 100
XPCC_NODE = "659000"  # statistical pseudo-node "自治区直辖县级行政区划" above the XPCC cities
UNRESOLVED = "none"  # not placed (xjip.hub.counts buckets)
OUTSIDE = "other"  # another province of China
XINJIANG = "xinjiang"  # Xinjiang, no prefecture known
ABROAD = "abroad"  # not placed in China; the owner is foreign
SPECIAL_BUCKETS = (XINJIANG, OUTSIDE, ABROAD, UNRESOLVED)
MISSING_KINDS = ("title", "date", "party", "place")


# Text-search providers: a part with a search index registers one here (xjip.search.live); the hub
# knows no part above it. provider(store, record_type, text, cap) → the ids of the records of that
# type the text finds, or None when it cannot answer (no index yet, more than `cap` hits, text it
# cannot parse): the list's text box then falls back to LIKE on the type's search columns.
TEXT_SEARCH: list[Any] = []
TEXT_SEARCH_CAP = 5000


def text_ids(store: Any, record_type: str, text_query: str | None) -> list[int] | None:
    """The ids a registered text-search provider finds for a list's text box, or None."""
    if not text_query or not text_query.strip():
        return None
    for provider in TEXT_SEARCH:
        try:
            ids = provider(store, record_type, text_query.strip()[:MAX_QUERY_TEXT], TEXT_SEARCH_CAP)
        except Exception:  # noqa: BLE001 - a provider failing leaves the list its LIKE
            import logging

            logging.getLogger(__name__).exception("text search provider failed")
            ids = None
        if ids is not None:
            return ids
    return None


class UnknownRecordType(LookupError):
    pass


class BadPageToken(ValueError):
    pass


class BadFilter(ValueError):
    """A filter value no record can have, e.g. year 0000: refused (a 400), not sent to the database."""

    def __init__(self, field_name: str, value: Any):
        self.field, self.value = field_name, value
        super().__init__(f"{field_name}={value!r}")

    @property
    def shown(self) -> str:
        """The value as the person typed it (a year keeps its four digits: 0000)."""
        if self.field == "year" and isinstance(self.value, int) and 0 <= self.value < 10000:
            return f"{self.value:04d}"
        return str(self.value)


# --- record types --------------------------------------------------------------------------

@dataclass(frozen=True)
class TypeSpec:
    """How one right table is listed, counted and searched."""

    name: str
    model: type[m.Base]
    date: str  # the column that gives the record's year (application / filing / registration)
    title: str  # what names the record
    number: str | None  # the official number shown first
    party: str | None  # the applicant / owner column
    entity: str | None  # the owner's entity id column
    status: str | None = None
    kind: str | None = None  # sub-type column (patent type, mark kind, GI system…)
    search: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  # listing columns, after number/title
    address: tuple[tuple[str, str], ...] = ()  # (address column, name column whose holder it belongs to)
    amounts: tuple[str, ...] = ()


TYPES: dict[str, TypeSpec] = {
    "patent": TypeSpec("patent", m.Patent, "app_date", "title", "app_number", "first_applicant",
                       "first_applicant_entity_id", status="status", kind="patent_type",
                       search=("title", "app_number", "pub_number", "grant_number", "first_applicant"),
                       columns=("first_applicant", "patent_type", "app_date", "status")),
    "trademark": TypeSpec("trademark", m.Trademark, "app_date", "word_element", "app_number", "owner_name",
                          "owner_entity_id", status="status", kind="mark_kind",
                          search=("word_element", "app_number", "reg_number", "owner_name"),
                          columns=("reg_number", "nice_classes", "owner_name", "app_date", "status"),
                          address=(("owner_address", "owner_name"),)),
    "gi": TypeSpec("gi", m.GeographicalIndication, "approval_date", "name", "registration_no", "applicant",
                   "applicant_entity_id", status="status", kind="gi_system",
                   search=("name", "applicant", "protected_area_text", "announcement_no"),
                   columns=("gi_system", "category", "applicant", "approval_date", "status", "confidence")),
    "gi_mark_user": TypeSpec("gi_mark_user", m.GIMarkUser, "approved_date", "user_name", "credit_code", "user_name",
                             "entity_id", search=("user_name", "gi_name", "credit_code"),
                             columns=("gi_name", "approved_date", "revoked_date"),
                             address=(("address", "user_name"),)),
    "copyright": TypeSpec("copyright", m.Copyright, "reg_date", "title", "key", "owner_name", "owner_entity_id",
                          kind="kind", search=("title", "key", "owner_name"),
                          columns=("kind", "category", "owner_name", "reg_date"),
                          address=(("owner_address", "owner_name"),)),
    "plant_variety": TypeSpec("plant_variety", m.PlantVariety, "app_date", "name", "key", "applicant",
                              "applicant_entity_id", status="status",
                              search=("name", "species", "applicant", "key", "grant_number"),
                              columns=("species", "applicant", "app_date", "grant_number", "status"),
                              address=(("applicant_address", "applicant"),)),
    "transaction": TypeSpec("transaction", m.RightTransaction, "date", "right_number", "record_number", "to_party",
                            "to_entity_id", kind="kind",
                            search=("right_number", "record_number", "from_party", "to_party"),
                            columns=("kind", "right_type", "from_party", "to_party", "date", "amount_wan"),
                            address=(("to_address", "to_party"),), amounts=("amount_wan",)),
    "pledge": TypeSpec("pledge", m.Pledge, "reg_date", "key", None, "pledgor", "pledgor_entity_id",
                       status="status", search=("key", "pledgor", "pledgee"),
                       columns=("right_type", "pledgor", "pledgee", "reg_date", "amount_wan", "status"),
                       address=(("pledgor_address", "pledgor"),), amounts=("amount_wan",)),
    "case": TypeSpec("case", m.EnforcementCase, "accepted_date", "cause", "key", "authority", None,
                     kind="kind", search=("key", "cause", "authority"),
                     columns=("kind", "right_type", "authority", "accepted_date", "closed_date")),
    "institution": TypeSpec("institution", m.Institution, "established_date", "name", "credit_code", "name",
                            "entity_id", kind="kind", search=("name", "credit_code", "licence_number", "address"),
                            columns=("kind", "address", "established_date")),
}


def spec_for(record_type: str) -> TypeSpec:
    try:
        return TYPES[record_type]
    except KeyError:
        raise UnknownRecordType(record_type) from None


# --- privacy --------------------------------------------------------------------------------

MASKING_POLICY = {
    "always_public": "Names of applicants, owners, inventors, breeders, authors, agents and agencies, numbers, titles, "
                     "classes, dates and statuses: all are printed in the official gazettes and registers.",
    "masked_for_public": [
        "Addresses of parties not known to be organisations (patent parties, trademark/copyright owners, "
        "plant-variety applicants, licensees, pledgors, GI special-mark users): only the place (prefecture/county) "
        "is shown. Known to be an organisation: the owner entity's kind is company, university, institute, "
        "government or hospital, or the name carries an organisation's word (is_organisation); a person, an "
        "owner classified `other` and a record without a name are masked.",
        "Phone and contact person of institutions.",
        "Contract amounts of transactions and pledges (aggregates stay public).",
        "Enforcement cases: names of parties not known to be organisations become surname + 某, the case address "
        "is hidden "
        "(最高人民法院关于人民法院在互联网公布裁判文书的规定, 法释〔2016〕19号, art. 8 and 10).",
        "Raw source records (they carry the unmasked fields) and the internal import job id.",
    ],
    "who_sees_everything": "Any logged-in account (viewer, staff, admin).",
}

_ORG_MARKERS_ZH = ("公司", "集团", "大学", "学院", "学校", "研究", "中心", "医院", "协会", "学会", "委员会", "政府",
                   "办公室", "合作社", "事务所", "农场", "牧场", "商行", "商店", "银行", "有限", "股份", "企业", "工作室",
                   "基地", "联社", "管委会", "部队", "团场", "兵团", "实验室", "试验站", "科技", "电站")
# One-character endings (厂, 所, 院…) also occur in personal names: they count only on longer names.
_ORG_ENDINGS_ZH = ("厂", "局", "站", "所", "院", "社", "会", "馆", "队", "处", "部", "店", "行", "场", "厅", "师", "室", "团")
_ORG_MARKERS_EN = re.compile(
    r"\b(co|corp|corporation|company|ltd|limited|inc|llc|gmbh|ag|sa|bv|plc|kg|university|univ|institute|academy|"
    r"college|school|group|center|centre|laboratory|labs?|foundation|association|hospital|office|ministry|"
    r"government|bank|station|bureau|cooperative|council|society|farm|factory|trust|partnership)\b", re.I)


# Entity kinds (xjip.hub.entities.KINDS) that are organisations; `individual` and `other` are not.
ORGANISATION_KINDS = frozenset({"company", "university", "institute", "government", "hospital"})


def is_organisation(name: str | None, kind: str | None = None) -> bool:
    """Is this party KNOWN to be an organisation? Its owner entity's kind decides when it is an
    organisation's or `individual`; otherwise its name must carry an organisation's word (公司,
    大学, 合作社, Ltd, University…; a one-character ending such as 厂 or 店 only on a name of five
    characters or more, as personal names are shorter). Anything else — a person, an owner
    classified `other` (a one-character or mixed-script name), no name at all — is not known to
    be one, and its address is masked: masking too much is the safe error."""
    if kind in ORGANISATION_KINDS:
        return True
    if kind == "individual" or not name or not name.strip():
        return False
    text = name.strip()
    if re.search(r"[\u4e00-\u9fff]", text):
        if any(marker in text for marker in _ORG_MARKERS_ZH):
            return True
        return len(text) >= 5 and "·" not in text and text.endswith(_ORG_ENDINGS_ZH)
    return bool(_ORG_MARKERS_EN.search(text))


def is_individual(name: str | None, kind: str | None = None) -> bool:
    """Treated as a natural person: whatever is not known to be an organisation (`is_organisation`)."""
    return not is_organisation(name, kind)


def mask_person_name(name: str | None) -> str | None:
    """张三 → 张某; 阿不都·热合曼 → 阿不都·某; Latin names → initial + '.'"""
    if not name:
        return name
    text = name.strip()
    if re.search(r"[\u4e00-\u9fff]", text):
        head = text.split("·")[0] if "·" in text else text[0]
        return f"{head}{'·' if '·' in text else ''}某"
    return text[0].upper() + "."


# --- small helpers ---------------------------------------------------------------------------

def _col(model: type[m.Base], name: str) -> Any:
    return getattr(model, name)


def _year_expr(column: Any) -> Any:
    return cast(extract("year", column), Integer)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _iso(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@dataclass
class RegionInfo:
    code: str
    name: str
    level: int
    parent_code: str | None
    is_xpcc: bool
    xpcc_division: str | None
    administered_by: str | None
    unit_type: str | None
    pinyin: str | None = None
    retired: bool = False  # no longer in force (吐鲁番地区, 库车县…): kept for names, left out of tables


_REGION_CACHE: dict[tuple[Any, ...], dict[str, RegionInfo]] = {}
# Prebuilt (a text statement): building the version query per request cost more than running it.
_REGION_VERSION = text("SELECT (SELECT count(*) FROM region), (SELECT max(id) FROM region), "
                       "(SELECT count(*) FROM region_alias), (SELECT max(id) FROM region_alias)")


def region_index(session: Session) -> dict[str, RegionInfo]:
    """Current GB/T 2260 units by code (a retired code keeps its last name). Read once per process
    and database, and again only when the region tables change (their counts and last ids, one
    small query): every page needs it, and building it took longer than the page's own query."""
    bind = session.get_bind()
    url = str(bind.url)
    version = tuple(session.execute(_REGION_VERSION).one())
    key = (url, *version)
    cached = _REGION_CACHE.get(key)
    if cached is None:
        cached = _region_index(session)
        if len(_REGION_CACHE) > 8:
            _REGION_CACHE.clear()
        _REGION_CACHE[key] = cached
    return cached


def _region_index(session: Session) -> dict[str, RegionInfo]:
    rows = session.execute(select(m.Region).order_by(m.Region.valid_to.is_(None), m.Region.valid_from)).scalars()
    index: dict[str, RegionInfo] = {}
    for r in rows:  # later rows (current ones last) overwrite older names
        index[r.code] = RegionInfo(r.code, r.name_zh, r.level, r.parent_code, bool(r.is_xpcc), r.xpcc_division,
                                   r.administered_by, r.unit_type_zh, r.name_pinyin, r.valid_to is not None)
    # Townships (9-digit codes) are aliases of their county; records can be placed that precisely.
    for alias, code in session.execute(select(m.RegionAlias.alias, m.RegionAlias.code)
                                       .where(m.RegionAlias.kind == "township")):
        if code not in index and len(code) == 9:
            county = index.get(code[:6])
            index[code] = RegionInfo(code, alias, 4, code[:6], bool(county and county.is_xpcc),
                                     county.xpcc_division if county else None, None, None, None)
    return index


def _place(regions: dict[str, RegionInfo], region_code: str | None, prefecture: str | None,
           county: str | None) -> dict[str, Any]:
    def name(code: str | None) -> str | None:
        if not code:
            return None
        if code in regions:
            return regions[code].name
        province = PROVINCES.get(code)  # records from other provinces resolve to the province only
        return province[0] if province else None

    return {"region_code": region_code, "prefecture_code": prefecture, "prefecture": name(prefecture),
            "county_code": county, "county": name(county), "region": name(region_code) or name((region_code or "")[:6])}


# --- overview --------------------------------------------------------------------------------

def _gi_buckets() -> Any:
    """(gi_id, bucket) pairs: a GI counts in every prefecture of its protected area (an XPCC city as
    itself; the bare XPCC node only when no XPCC city is named); a GI without area rows counts where
    its own place is."""
    node = literal_column(f"'{XPCC_NODE}'")
    other = aliased(m.GIArea)
    names_xpcc_city = exists().where(other.gi_id == m.GIArea.gi_id, other.region_code.like("6590%"),
                                     other.region_code != node)
    area = (select(m.GIArea.gi_id.label("gi_id"),
                   case((m.GIArea.prefecture_code == node, m.GIArea.region_code),
                        else_=m.GIArea.prefecture_code).label("bucket"))
            .where(~and_(m.GIArea.region_code == node, names_xpcc_city)))
    no_area = ~exists().where(m.GIArea.gi_id == m.GeographicalIndication.id)
    own = select(m.GeographicalIndication.id.label("gi_id"),
                 _bucket_sql("gi").label("bucket")).where(no_area)
    return union_all(area, own).subquery("gi_bucket")


def _gi_bucket_rows(session: Session) -> list[tuple[str | None, int]]:
    """GIs by bucket, counted live: a GI counts in every prefecture of its protected area
    (xjip.hub.counts keeps no per-area figures; the GI register is small)."""
    sub = _gi_buckets()
    stmt = select(sub.c.bucket, func.count(func.distinct(sub.c.gi_id))).group_by(sub.c.bucket)
    return [(code, int(n)) for code, n in session.execute(stmt)]


def _classify(code: str | None, regions: dict[str, RegionInfo]) -> str:
    if code is None:
        return UNRESOLVED
    if code in SPECIAL_BUCKETS:
        return code
    if not code.startswith("65"):
        return OUTSIDE
    return code


def _bucket_sql(record_type: str) -> Any:
    """The kept counts' place bucket of a row (xjip.hub.counts.bucket_sql) as a column expression."""
    from xjip.hub import counts as kept

    c = next(c for c in kept.counted() if c.record_type == record_type)
    return literal_column(kept.bucket_sql(c, c.table + "."))


def bucket_counts(session: Session) -> dict[str, dict[str, int]]:
    """{record type: {bucket: n}} from the kept counts (GIs: per area, live)."""
    out: dict[str, dict[str, int]] = {name: {} for name in TYPES}
    for rt, bucket, n in session.execute(select(m.RightCount.record_type, m.RightCount.bucket,
                                                func.sum(m.RightCount.n)).group_by(m.RightCount.record_type,
                                                                                   m.RightCount.bucket)):
        if rt in out and rt != "gi" and n:
            out[rt][bucket] = int(n)
    out["gi"] = dict(_gi_bucket_rows(session))
    return out


def overview(session: Session) -> dict[str, Any]:
    """Counts by right type, year, prefecture and status, and data-quality figures per type.

    Read from the kept counts (`right_count`, maintained by triggers in every writing transaction:
    xjip.hub.counts), not by counting the right tables per request; `xjip db check-counts`
    proves them equal to a full recount.

    `by_type` rows look like {'record_type': 'patent', 'total': 58, 'real': 58, 'synthetic': 0};
    `by_prefecture` lists every prefecture and XPCC city (zeros included), then 'xinjiang' (placed
    in Xinjiang, prefecture unknown), 'other' (other provinces of China), 'abroad' (a foreign
    owner, placed nowhere in China) and 'none' (could not be placed)."""
    from xjip.hub import counts as kept

    regions = region_index(session)
    rc = m.RightCount
    tally: dict[str, dict[str, Any]] = {
        name: {"total": 0, "synthetic": 0, "unplaced": 0, "no_title": 0, "no_date": 0, "no_party": 0,
               "years": {}, "statuses": {}, "buckets": {}} for name in TYPES}
    # Grouped in the database (a few thousand kept rows → a few hundred), one query per breakdown.
    for rt, total, synthetic, unplaced, no_title, no_date, no_party in session.execute(select(
            rc.record_type, func.sum(rc.n), func.sum(case((rc.is_synthetic == true(), rc.n), else_=0)),
            func.sum(case((rc.bucket == kept.UNRESOLVED, rc.n), else_=0)),
            func.sum(case((rc.no_title == 1, rc.n), else_=0)), func.sum(case((rc.year == 0, rc.n), else_=0)),
            func.sum(case((rc.no_party == 1, rc.n), else_=0))).group_by(rc.record_type)):
        if rt in tally:
            tally[rt].update(total=int(total or 0), synthetic=int(synthetic or 0), unplaced=int(unplaced or 0),
                             no_title=int(no_title or 0), no_date=int(no_date or 0), no_party=int(no_party or 0))
    for key, column, extra in (("years", rc.year, rc.year > 0), ("statuses", rc.status, true()),
                               ("buckets", rc.bucket, true())):
        for rt, value, n in session.execute(select(rc.record_type, column, func.sum(rc.n)).where(extra)
                                            .group_by(rc.record_type, column)):
            if rt in tally and n:
                tally[rt][key][(value or None) if key == "statuses" else value] = int(n)
    gi = tally["gi"]
    if gi["total"]:  # GIs: per area, and unplaced only without area rows either (see _place_condition)
        gi["buckets"] = dict(_gi_bucket_rows(session))
        gi["unplaced"] = gi["buckets"].get(UNRESOLVED, 0)
    by_type, quality, by_year, by_status = [], [], {}, {}
    prefecture_counts: dict[str, dict[str, int]] = {}
    for name, spec in TYPES.items():
        t = tally[name]
        total, synthetic = t["total"], t["synthetic"]
        by_type.append({"record_type": name, "total": total, "real": total - synthetic, "synthetic": synthetic})
        quality.append({"record_type": name, "total": total, "real": total - synthetic, "synthetic": synthetic,
                        "unplaced": t["unplaced"], "missing_title": t["no_title"], "missing_date": t["no_date"],
                        "missing_party": t["no_party"] if spec.party else None})
        by_year[name] = [{"year": y, "count": n} for y, n in sorted(t["years"].items()) if n]
        if spec.status:
            by_status[name] = [{"status": st, "count": n} for st, n in
                               sorted(t["statuses"].items(), key=lambda kv: -kv[1]) if n]
        for code, n in t["buckets"].items():
            if n:
                bucket = _classify(code, regions)
                prefecture_counts.setdefault(bucket, {})
                prefecture_counts[bucket][name] = prefecture_counts[bucket].get(name, 0) + n
    return {
        "record_types": list(TYPES),
        "by_type": by_type,
        "total": sum(t["total"] for t in by_type),
        "by_year": by_year,
        "years": sorted({y["year"] for rows in by_year.values() for y in rows}),
        "by_prefecture": _prefecture_table(prefecture_counts, regions),
        "by_status": by_status,
        "quality": quality,
    }


def _prefecture_table(counts: dict[str, dict[str, int]], regions: dict[str, RegionInfo]) -> list[dict[str, Any]]:
    """Every prefecture of the gazetteer (zeros included), each XPCC city, then 'other' and 'unresolved'."""
    codes = {c for c, r in regions.items() if r.level == 2 and c != XPCC_NODE and not r.retired}
    codes |= {c for c, r in regions.items() if r.is_xpcc and r.level == 3 and not r.retired}
    codes |= {c for c in counts if c not in SPECIAL_BUCKETS}
    rows = []
    for code in sorted(codes):
        info = regions.get(code)
        kind = ("xpcc_node" if code == XPCC_NODE else "xpcc_city" if (info and info.is_xpcc) or code.startswith("6590")
                else "prefecture")
        rows.append({"code": code, "name": info.name if info else code, "pinyin": info.pinyin if info else None,
                     "kind": kind,
                     "xpcc_division": info.xpcc_division if info else None,
                     "administered_by": info.administered_by if info else None,
                     "counts": counts.get(code, {}), "total": sum(counts.get(code, {}).values())})
    for code, kind in ((XINJIANG, "xinjiang"), (OUTSIDE, "other"), (ABROAD, "abroad"), (UNRESOLVED, "unresolved")):
        rows.append({"code": code, "name": None, "pinyin": None, "kind": kind, "xpcc_division": None,
                     "administered_by": None,
                     "counts": counts.get(code, {}), "total": sum(counts.get(code, {}).values())})
    return rows


# --- listing ---------------------------------------------------------------------------------

@dataclass
class RecordFilters:
    year: int | None = None
    prefecture: str | None = None  # a code, "none" (unresolved) or "other" (outside Xinjiang)
    county: str | None = None
    status: str | None = None
    kind: str | None = None  # patent type, mark kind, GI system, copyright kind…
    synthetic: bool | None = None
    q: str | None = None
    missing: str | None = None  # title | date | party | place
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.year is not None:
            year_range(self.year)

    def as_params(self) -> dict[str, Any]:
        out = {k: v for k, v in (("year", self.year), ("prefecture", self.prefecture), ("county", self.county),
                                 ("status", self.status), ("kind", self.kind), ("q", self.q),
                                 ("missing", self.missing)) if v not in (None, "")}
        if self.synthetic is not None:
            out["synthetic"] = "true" if self.synthetic else "false"
        return out


def year_range(year: int) -> tuple[dt.date, dt.date | None]:
    """[first day, first day of the next year) of a calendar year; the end is None for 9999,
    the last year a date can hold. Raises BadFilter outside 1..9999 (there is no year 0)."""
    if isinstance(year, bool) or not isinstance(year, int) or not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise BadFilter("year", year)
    return dt.date(year, 1, 1), (dt.date(year + 1, 1, 1) if year < dt.MAXYEAR else None)


def _place_condition(spec: TypeSpec, code: str) -> Any:
    model = spec.model
    if code in SPECIAL_BUCKETS:  # the kept counts' own bucket, so a list's total is the overview's
        cond = _bucket_sql(spec.name) == literal_column(f"'{code}'")
        if spec.name == "gi":  # a GI with area rows is placed by them
            return and_(cond, ~exists().where(m.GIArea.gi_id == model.id))
        return cond
    if code.startswith("6590") and code != XPCC_NODE:  # an XPCC city
        own = or_(model.prefecture_code == code, model.county_code == code)
        area = exists().where(m.GIArea.gi_id == model.id, m.GIArea.region_code == code)
    else:
        own = model.prefecture_code == code
        area = exists().where(m.GIArea.gi_id == model.id, m.GIArea.prefecture_code == code)
    if spec.name == "gi":
        return or_(area, and_(own, ~exists().where(m.GIArea.gi_id == model.id)))
    return own


def _conditions(spec: TypeSpec, f: RecordFilters) -> list[Any]:
    model = spec.model
    conds: list[Any] = []
    date_col = _col(model, spec.date)
    if f.year is not None:
        first, after_last = year_range(f.year)
        conds.append(date_col >= first)
        if after_last is not None:
            conds.append(date_col < after_last)
    if f.prefecture:
        conds.append(_place_condition(spec, f.prefecture))
    if f.county:
        county = or_(model.county_code == f.county, model.region_code.like(_like_escape(f.county) + "%", escape="\\"))
        if spec.name == "gi":
            county = or_(county, exists().where(m.GIArea.gi_id == model.id, m.GIArea.region_code == f.county))
        conds.append(county)
    if f.status and spec.status:
        conds.append(_col(model, spec.status) == f.status)
    if f.kind and spec.kind:
        conds.append(_col(model, spec.kind) == f.kind)
    if f.synthetic is not None:
        conds.append(model.is_synthetic == (true() if f.synthetic else false()))
    if f.q:
        found = f.extra.get("text_ids")
        if found is not None:  # what the search index found (`text_ids`)
            conds.append(model.id.in_(found) if found else false())
        else:
            pattern = "%" + _like_escape(f.q.strip()[:MAX_QUERY_TEXT]) + "%"
            conds.append(or_(*[_col(model, c).like(pattern, escape="\\") for c in spec.search]))
    if f.missing:
        if f.missing == "title":
            conds.append(or_(_col(model, spec.title).is_(None), _col(model, spec.title) == ""))
        elif f.missing == "date":
            conds.append(date_col.is_(None))
        elif f.missing == "party" and spec.party:
            conds.append(or_(_col(model, spec.party).is_(None), _col(model, spec.party) == ""))
        elif f.missing == "place":
            conds.append(_place_condition(spec, UNRESOLVED))
        elif f.missing not in MISSING_KINDS:
            raise ValueError(f"missing={f.missing}")
    return conds


def encode_token(record_type: str, date: Any, row_id: int, synthetic: bool | None = None) -> str:
    data = {"t": record_type, "d": _iso(date), "i": row_id}
    if synthetic is not None:  # the lists that put real records first say which part the page ended in
        data["s"] = bool(synthetic)
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(record_type: str, token: str) -> tuple[dt.date | None, int, bool]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["t"] != record_type or not m.is_row_id(data["i"]):
            raise ValueError("type")  # a forged id beyond the database's range included
        date = dt.date.fromisoformat(data["d"]) if data["d"] is not None else None
        return date, data["i"], data.get("s") is True
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadPageToken(token[:40]) from exc


def decode_token(record_type: str, token: str) -> tuple[dt.date | None, int]:
    date, row_id, _ = _decode_token(record_type, token)
    return date, row_id


def _list_order(model: Any, date_col: Any, real_first: bool) -> list[Any]:
    """Newest date first, records without a date last; without a `synthetic` filter, the real
    records before the synthetic ones, so that a visitor meets the real data first."""
    order = [date_col.desc().nulls_last(), model.id.desc()]
    return [model.is_synthetic.asc(), *order] if real_first else order


def _after(model: Any, date_col: Any, date: Any, row_id: int, synthetic: bool | None) -> Any:
    """The rows after (date, id[, synthetic]) in `_list_order`."""
    if date is None:
        cond = and_(date_col.is_(None), model.id < row_id)
    else:
        cond = or_(date_col < date, and_(date_col == date, model.id < row_id), date_col.is_(None))
    if synthetic is None:
        return cond
    if synthetic:
        return and_(model.is_synthetic == true(), cond)
    return or_(model.is_synthetic == true(), and_(model.is_synthetic == false(), cond))


def _kept_totals(session: Session, spec: TypeSpec, f: RecordFilters) -> tuple[int, int] | None:
    """(matching, of which synthetic) from the kept counts (xjip.hub.counts) when every filter is
    one of their dimensions; None otherwise. A list's total is then the overview's figure, and no
    page counts a million rows."""
    # The web sets extra["text_ids"] on every list, to None without a text box: only a value counts.
    if spec.name == "gi" or f.kind or f.q or f.county or any(v is not None for v in f.extra.values()):
        return None
    rc = m.RightCount
    conds: list[Any] = [rc.record_type == spec.name]
    if f.year is not None:
        conds.append(rc.year == f.year)
    if f.status:
        if not spec.status:
            return None
        conds.append(rc.status == f.status)
    if f.synthetic is not None:
        conds.append(rc.is_synthetic == (true() if f.synthetic else false()))
    if f.prefecture:
        if f.prefecture in SPECIAL_BUCKETS or (f.prefecture.startswith("65") and f.prefecture != XPCC_NODE
                                               and len(f.prefecture) == 6):
            conds.append(rc.bucket == f.prefecture)
        else:
            return None
    if f.missing:
        missing = {"title": rc.no_title == 1, "date": rc.year == 0, "party": rc.no_party == 1,
                   "place": rc.bucket == UNRESOLVED}.get(f.missing)
        if missing is None or (f.missing == "party" and not spec.party):
            return None
        conds.append(missing)
    total, synthetic = session.execute(select(
        func.sum(rc.n), func.sum(case((rc.is_synthetic == true(), rc.n), else_=0))).where(*conds)).one()
    return int(total or 0), int(synthetic or 0)


def _keyset_rows(session: Session, model: Any, date_col: Any, columns: list[Any], conds: list[Any], need: int,
                 cursor: tuple[dt.date | None, int, bool] | None, real_first: bool) -> list[Any]:
    """The next `need` rows in `_list_order` after `cursor`, as up to four simple queries that each
    walk an index ((is_synthetic, date, id), migration 0012) in order and stop after `need` rows:
    real rows then synthetic ones (when real come first), each part dated rows newest first and
    then the undated ones. One query with the whole order and an OR of the cursor's cases made
    SQLite sort the table (1.6 s at 1,000,000 patents; 8.9 s for a prefecture)."""
    parts: list[bool | None] = [False, True] if real_first else [None]
    if cursor is not None and real_first and cursor[2]:
        parts = [True]  # the cursor is in the synthetic part already
    rows: list[Any] = []
    for part in parts:
        part_conds = [*conds, model.is_synthetic == (true() if part else false())] if part is not None else list(conds)
        here = cursor if cursor is not None and (part is None or part == cursor[2]) else None
        if here is None or here[0] is not None:
            dated = [*part_conds, date_col.is_not(None)]
            if here is not None:
                dated.append(tuple_(date_col, model.id) < tuple_(literal(here[0], date_col.type), literal(here[1])))
            rows += session.execute(select(*columns).where(*dated).order_by(date_col.desc(), model.id.desc())
                                    .limit(need - len(rows))).all()
            if len(rows) >= need:
                break
            undated_after = None
        else:
            undated_after = here[1]
        undated = [*part_conds, date_col.is_(None)]
        if undated_after is not None:
            undated.append(model.id < undated_after)
        rows += session.execute(select(*columns).where(*undated).order_by(model.id.desc())
                                .limit(need - len(rows))).all()
        if len(rows) >= need:
            break
    return rows


def _bounded(page_size: int | None) -> int:
    if page_size is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(int(page_size), MAX_PAGE_SIZE))


def list_records(session: Session, record_type: str, filters: RecordFilters | dict[str, Any] | None = None,
                 page_size: int | None = DEFAULT_PAGE_SIZE, after: str | None = None, *,
                 masked: bool = True) -> dict[str, Any]:
    """One page of records, newest date first (records without a date last), with the total matching;
    without a `synthetic` filter the real records come first, and `synthetic_total` says how many of
    the matching records are synthetic.

    `after` is the `next` token of the previous page; tokens are opaque and tied to the record type."""
    spec = spec_for(record_type)
    filters = RecordFilters(**filters) if isinstance(filters, dict) else (filters or RecordFilters())
    size = _bounded(page_size)
    model = spec.model
    date_col = _col(model, spec.date)
    conds = _conditions(spec, filters)
    real_first = filters.synthetic is None
    kept = _kept_totals(session, spec, filters)
    if kept is not None:
        total, synthetic_total = kept
    else:  # filters the kept counts do not break down (text, kind, county): counted here
        total, synthetic_total = session.execute(select(
            func.count(), func.sum(case((model.is_synthetic == true(), 1), else_=0))).select_from(model)
            .where(*conds)).one()
    cursor = _decode_token(record_type, after) if after else None
    names = ["id", spec.date, spec.title, *([spec.number] if spec.number else []), *spec.columns,
             "is_synthetic", "region_code", "prefecture_code", "county_code"]
    names = list(dict.fromkeys(names))
    rows = _keyset_rows(session, model, date_col, [_col(model, n) for n in names], conds, size + 1, cursor,
                        real_first)
    regions = region_index(session)
    items = []
    for row in rows[:size]:
        item = dict(zip(names, row))
        item["place"] = _place(regions, item.pop("region_code"), item.pop("prefecture_code"), item.pop("county_code"))
        item["masked"] = []
        if masked:
            for amount in spec.amounts:
                if amount in item and item[amount] is not None:
                    item[amount] = None
                    item["masked"].append(amount)
        items.append(item)
    next_token = None
    if len(rows) > size:
        last = rows[size - 1]
        next_token = encode_token(record_type, last[names.index(spec.date)], last[0],
                                  bool(last[names.index("is_synthetic")]) if real_first else None)
    return {"record_type": record_type, "total": int(total or 0), "synthetic_total": int(synthetic_total or 0),
            "page_size": size, "items": items, "next": next_token,
            "filters": filters.as_params(), "columns": [c for c in names if c not in
                                                         ("id", "is_synthetic", "region_code", "prefecture_code",
                                                          "county_code")]}


# --- detail ----------------------------------------------------------------------------------

def _row_dict(row: m.Base) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


def _entity_kinds(session: Session, ids: set[int]) -> dict[int, str | None]:
    return {i: e["kind"] for i, e in _entities(session, ids).items()}


def _entities(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {r.id: {"id": r.id, "name": r.name, "kind": r.kind} for r in session.connection().execute(
        _ENTITIES, {"ids": sorted(ids)})}


def _mask_fields(spec: TypeSpec, data: dict[str, Any], kinds: dict[int, str | None]) -> list[str]:
    masked = []
    owner_kind = kinds.get(data.get(spec.entity)) if spec.entity else None
    for address, name_col in spec.address:
        if data.get(address) and is_individual(data.get(name_col), owner_kind):
            data[address] = None
            masked.append(address)
    for amount in spec.amounts:
        if data.get(amount) is not None:
            data[amount] = None
            masked.append(amount)
    if spec.name == "institution":
        for key in ("phone", "contact"):
            if data.get(key):
                data[key] = None
                masked.append(key)
    if spec.name == "case":
        for key in ("plaintiffs", "defendants"):
            people = data.get(key) or []
            cleaned = [mask_person_name(p) if isinstance(p, str) and is_individual(p) else p for p in people]
            if cleaned != people:
                data[key] = cleaned
                masked.append(key)
        if data.get("address"):
            data["address"] = None
            masked.append("address")
    if data.get("import_job_id") is not None:
        data["import_job_id"] = None
        masked.append("import_job_id")
    return masked


# A record page reads a dozen small lists. Built once here rather than per request: building
# SQLAlchemy statements and ORM objects took ~3/4 of a record page's time, the SQL itself ~1/10.
def _children(model: Any, *order: Any, limit: int) -> Any:
    table = model.__table__
    return select(table).where(table.c.patent_id == bindparam("id")).order_by(*order).limit(limit)


_PP, _PE, _PF = m.PatentParty.__table__.c, m.PatentEvent.__table__.c, m.PatentFamilyMember.__table__.c
_PUB, _PC, _SR = m.PatentPublication.__table__.c, m.PatentConflict.__table__.c, m.SourceRecord.__table__.c
_PATENT_PARTIES = _children(m.PatentParty, _PP.role, _PP.seq, limit=2000)
_PATENT_EVENTS = _children(m.PatentEvent, _PE.event_date.nulls_last(), _PE.id, limit=500)
_PATENT_FAMILY = _children(m.PatentFamilyMember, _PF.country, _PF.number, limit=500)
_PATENT_PUBLICATIONS = _children(m.PatentPublication, _PUB.date.nulls_last(), _PUB.number, limit=500)
_CONFLICT_KEYS = ("id", "patent_id", "field", "kept", "kept_source", "other", "other_source", "other_locator",
                  "import_job_id", "found_at")
_PATENT_CONFLICTS = (select(*(_PC[k] for k in _CONFLICT_KEYS))
                     .where(_PC.patent_id == bindparam("id")).order_by(_PC.id).limit(200))
_PATENT_TEXT = select(m.PatentText.__table__).where(m.PatentText.__table__.c.patent_id == bindparam("id"))
_ENTITIES = select(m.Entity.id, m.Entity.name, m.Entity.kind).where(
    m.Entity.id.in_(bindparam("ids", expanding=True)))
_SOURCES = (select(m.SourceRecord.__table__)
            .where(_SR.record_type == bindparam("record_type"), _SR.record_key == bindparam("key"))
            .order_by(_SR.imported_at.desc(), _SR.id.desc()).limit(50))


_ROW_BY_ID: dict[str, Any] = {}


def _read(session: Session, statement: Any, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in session.connection().execute(statement, params).mappings()]


def _sources(session: Session, record_type: str, key: str, masked: bool) -> list[dict[str, Any]]:
    out = []
    for s in session.connection().execute(_SOURCES, {"record_type": record_type, "key": key}):
        item = {"source": s.source, "source_format": s.source_format, "locator": s.locator, "licence": s.licence,
                "content_hash": s.content_hash, "imported_at": s.imported_at, "is_synthetic": s.is_synthetic,
                "import_job_id": None if masked else s.import_job_id, "raw": None if masked else s.raw}
        out.append(item)
    return out


def record_detail(session: Session, record_type: str, record_id: int, *, masked: bool = True,
                  text_limit: int = 20000) -> dict[str, Any] | None:
    """Everything known about one record: its fields, place, related rows and raw source records."""
    spec = spec_for(record_type)
    by_id = _ROW_BY_ID.get(record_type)
    if by_id is None:
        table = spec.model.__table__
        by_id = _ROW_BY_ID[record_type] = select(table).where(table.c.id == bindparam("id"))
    row = session.connection().execute(by_id, {"id": record_id}).first() if m.is_row_id(record_id) else None
    if row is None:
        return None
    regions = region_index(session)
    data = dict(row._mapping)
    related: dict[str, Any] = {}
    entity_ids = {data.get(spec.entity)} if spec.entity else set()
    if record_type == "patent":
        parties = _read(session, _PATENT_PARTIES, id=row.id)
        entity_ids |= {p["entity_id"] for p in parties}
    entities = _entities(session, entity_ids)
    kinds = {i: e["kind"] for i, e in entities.items()}
    masked_fields = _mask_fields(spec, data, kinds) if masked else []
    if record_type == "patent":
        party_rows = []
        for item in parties:
            item["place"] = _place(regions, item["region_code"], item["prefecture_code"], item["county_code"])
            item["masked"] = []
            if masked and item["address"] and is_individual(item["name"], kinds.get(item["entity_id"])):
                item["address"] = None
                item["masked"].append("address")
            party_rows.append(item)
        related["parties"] = party_rows
        related["events"] = _read(session, _PATENT_EVENTS, id=row.id)
        related["family"] = _read(session, _PATENT_FAMILY, id=row.id)
        related["publications"] = _read(session, _PATENT_PUBLICATIONS, id=row.id)
        related["conflicts"] = _read(session, _PATENT_CONFLICTS, id=row.id)
        if masked:  # which import job wrote what is for staff
            for c in related["conflicts"]:
                c["import_job_id"] = None
        found = _read(session, _PATENT_TEXT, id=row.id)
        text = found[0] if found else None
        # without a full text's claims, a bibliographic export's 主权项 (patent.first_claim)
        claims = (text["claims"] if text is not None else None) or ([row.first_claim] if row.first_claim else [])
        description = (text["description"] if text is not None else None) or ""
        if text is not None or claims:
            related["text"] = {"claims": claims, "description": description[:text_limit],
                               "description_truncated": len(description) > text_limit,
                               "description_length": len(description)}
        else:
            related["text"] = None
    elif record_type == "gi":
        areas = session.execute(select(m.GIArea).where(m.GIArea.gi_id == row.id)
                                .order_by(m.GIArea.region_code)).scalars()
        related["areas"] = [{"region_code": a.region_code, "prefecture_code": a.prefecture_code,
                             "name": regions[a.region_code].name if a.region_code in regions else None,
                             "prefecture": regions[a.prefecture_code].name if a.prefecture_code in regions else None}
                            for a in areas]
        related["mark_users"] = [{"id": u.id, "user_name": u.user_name, "approved_date": u.approved_date,
                                  "revoked_date": u.revoked_date} for u in session.execute(
            select(m.GIMarkUser).where(m.GIMarkUser.gi_id == row.id).order_by(m.GIMarkUser.id).limit(200)).scalars()]
    elif record_type == "transaction":
        related["rights"] = rights_named(session, row.right_type, [row.right_number])
    elif record_type == "pledge":
        related["rights"] = rights_named(session, row.right_type, list(row.right_numbers or []))
    elif record_type == "gi_mark_user" and row.gi_id:
        gi = session.get(m.GeographicalIndication, row.gi_id)
        related["gi"] = {"id": gi.id, "name": gi.name, "gi_system": gi.gi_system} if gi else None
    if record_type in RIGHT_NUMBERS:
        related["dealings"] = dealings(session, record_type, _numbers_of(row, record_type))
    owner_id = data.get(spec.entity) if spec.entity else None
    if spec.entity:
        related["owner_entity"] = entities.get(owner_id) if owner_id else None
    return {
        "record_type": record_type,
        "id": row.id,
        "number": data.get(spec.number) if spec.number else None,
        "title": data.get(spec.title),
        "fields": data,
        "masked": masked_fields,
        "place": _place(regions, row.region_code, row.prefecture_code, row.county_code),
        "related": related,
        "sources": _sources(session, record_type, row.key, masked),
    }


# --- rights named by transfers, licences and pledges ------------------------------------------

# The numbers a transfer, licence or pledge may name a right by, per kind of right.
RIGHT_NUMBERS: dict[str, tuple[str, ...]] = {
    "patent": ("key", "app_number", "pub_number", "grant_number"),
    "trademark": ("key", "app_number", "reg_number"),
}
_RIGHT_MODELS = {"patent": m.Patent, "trademark": m.Trademark}


def _numbers_of(row: Any, record_type: str) -> list[str]:
    return list(dict.fromkeys(v for c in RIGHT_NUMBERS[record_type] if (v := getattr(row, c, None))))


def rights_named(session: Session, right_type: str | None, numbers: list[str]) -> list[dict[str, Any]]:
    """The stored records of the rights a transaction or pledge names: one item per number, with
    the record (id, title) when the store holds it."""
    model = _RIGHT_MODELS.get(right_type or "")
    out = []
    for number in dict.fromkeys(n for n in numbers if n):
        hit = None
        if model is not None:
            spec = TYPES[right_type]
            hit = session.execute(select(model.id, _col(model, spec.title)).where(
                or_(*(getattr(model, c) == number for c in RIGHT_NUMBERS[right_type]))).limit(1)).first()
        out.append({"number": number, "record_type": right_type if hit else None,
                    "id": hit[0] if hit else None, "title": hit[1] if hit else None})
    return out


_T, _P = m.RightTransaction, m.Pledge
_DEALT_TRANSACTIONS = (
    select(_T.id, _T.kind, _T.date, _T.from_party, _T.to_party, _T.licence_type, _T.is_synthetic)
    .where(_T.right_type == bindparam("right_type"), _T.right_number.in_(bindparam("numbers", expanding=True)))
    .order_by(_T.date.desc().nulls_last(), _T.id.desc()).limit(bindparam("limit")))
# The items of pledge.right_numbers (a JSON list) are rows of pledge_number, kept by triggers:
# found by index (reading every pledge's list took 350-560 ms a page at 50,000 pledges).
_DEALT_PLEDGES = (
    select(_P.id, _P.key, _P.reg_date, _P.end_date, _P.pledgor, _P.pledgee, _P.amount_wan, _P.status,
           _P.is_synthetic)
    .where(_P.right_type == bindparam("right_type"), _P.id.in_(
        select(m.PledgeNumber.pledge_id).where(m.PledgeNumber.right_type == bindparam("right_type"),
                                               m.PledgeNumber.number.in_(bindparam("numbers", expanding=True)))))
    .order_by(_P.reg_date.desc().nulls_last(), _P.id.desc()).limit(bindparam("limit")))


def dealings(session: Session, right_type: str, numbers: list[str], limit: int = 200) -> dict[str, list[dict[str, Any]]]:
    """Transfers, licences and pledges that name a right by any of its numbers (newest first)."""
    if not numbers:
        return {"transactions": [], "pledges": []}
    params = {"right_type": right_type, "numbers": numbers, "limit": limit}
    transactions = [dict(r) for r in session.connection().execute(_DEALT_TRANSACTIONS, params).mappings()]
    pledges = [dict(r) for r in session.connection().execute(_DEALT_PLEDGES, params).mappings()]
    return {"transactions": transactions, "pledges": pledges}


# --- entities --------------------------------------------------------------------------------

def _entity_right_filter(spec: TypeSpec, entity_id: int) -> Any:
    cond = _col(spec.model, spec.entity) == entity_id
    if spec.name == "patent":
        cond = or_(cond, spec.model.id.in_(select(m.PatentParty.patent_id).where(m.PatentParty.entity_id == entity_id)))
    return cond


def entity_detail(session: Session, entity_id: int, *, per_type: int = 20, masked: bool = True) -> dict[str, Any] | None:
    """An owner with its aliases and the rights it holds (count and the first `per_type` per type)."""
    entity = session.get(m.Entity, entity_id) if m.is_row_id(entity_id) else None
    if entity is None:
        return None
    regions = region_index(session)
    aliases = session.execute(select(m.EntityAlias).where(m.EntityAlias.entity_id == entity.id)
                              .order_by(m.EntityAlias.alias).limit(500)).scalars().all()
    merged = session.execute(select(m.Entity.id, m.Entity.name).where(m.Entity.merged_into == entity.id)
                             .order_by(m.Entity.id).limit(500)).all()
    rights = []
    for name, spec in TYPES.items():
        if not spec.entity:
            continue
        cond = _entity_right_filter(spec, entity.id)
        count = session.scalar(select(func.count()).select_from(spec.model).where(cond)) or 0
        if not count:
            continue
        date_col = _col(spec.model, spec.date)
        cols = [spec.model.id, _col(spec.model, spec.title), date_col]
        if spec.number:
            cols.append(_col(spec.model, spec.number))
        items = [{"id": r[0], "title": r[1], "date": r[2], "number": r[3] if spec.number else None}
                 for r in session.execute(select(*cols).where(cond)
                                          .order_by(date_col.desc().nulls_last(), spec.model.id.desc()).limit(per_type))]
        rights.append({"record_type": name, "count": int(count), "items": items})
    codes = (entity.region_code, entity.prefecture_code, entity.county_code)
    place_from = "entity" if entity.region_code else None
    if place_from is None and (found := entity_places(session, [entity.id]).get(entity.id)):
        codes, place_from = found, "records"
    return {
        "id": entity.id, "name": entity.name, "kind": entity.kind, "country": entity.country,
        "merged_into": entity.merged_into, "created_at": entity.created_at,
        "place": _place(regions, *codes), "place_from": place_from,
        "aliases": [{"alias": a.alias, "source": a.source} for a in aliases],
        "merged_entities": [{"id": i, "name": n} for i, n in merged],
        "rights": rights,
        "total_rights": sum(r["count"] for r in rights),
    }


def entity_places(session: Session, entity_ids: list[int]) -> dict[int, tuple[str, str | None, str | None]]:
    """Where owners are, from their records: for each id, the (region, prefecture, county) codes
    met most often among the places of the rights it holds (a patent's applicant rows, the
    other rights' own places). Kept for owners whose entity row has no place of its own."""
    ids = sorted({i for i in entity_ids if i})
    if not ids:
        return {}
    parts = [select(m.PatentParty.entity_id.label("e"), m.PatentParty.region_code.label("r"),
                    m.PatentParty.prefecture_code.label("p"), m.PatentParty.county_code.label("c"))
             .where(m.PatentParty.entity_id.in_(ids), m.PatentParty.region_code.is_not(None))]
    for spec in TYPES.values():
        if spec.entity and spec.name != "patent":
            model, column = spec.model, _col(spec.model, spec.entity)
            parts.append(select(column.label("e"), model.region_code.label("r"), model.prefecture_code.label("p"),
                                model.county_code.label("c")).where(column.in_(ids), model.region_code.is_not(None)))
    places = union_all(*parts).subquery()
    counted = select(places.c.e, places.c.r, places.c.p, places.c.c, func.count().label("n")).group_by(
        places.c.e, places.c.r, places.c.p, places.c.c)
    best: dict[int, tuple[int, tuple[str, str, str], tuple[str, str | None, str | None]]] = {}
    for e, r, p, c, n in session.execute(counted):
        # the place met most often; a tie goes to the smaller codes, whatever order rows come in
        codes = (r or "", p or "", c or "")
        held = best.get(e)
        if held is None or n > held[0] or (n == held[0] and codes < held[1]):
            best[e] = (n, codes, (r, p, c))
    return {e: place for e, (_n, _codes, place) in best.items()}


def list_entities(session: Session, q: str | None = None, page_size: int | None = DEFAULT_PAGE_SIZE,
                  after: str | None = None) -> dict[str, Any]:
    """Owners by id (merged-away entities left out), optionally by a name or alias fragment."""
    size = _bounded(page_size)
    conds: list[Any] = [m.Entity.merged_into.is_(None)]
    if q:
        pattern = "%" + _like_escape(q.strip()[:MAX_QUERY_TEXT]) + "%"
        conds.append(or_(m.Entity.name.like(pattern, escape="\\"),
                         m.Entity.id.in_(select(m.EntityAlias.entity_id)
                                         .where(m.EntityAlias.alias.like(pattern, escape="\\")))))
    total = session.scalar(select(func.count()).select_from(m.Entity).where(*conds)) or 0
    if after:
        _, after_id = decode_token("entity", after)
        conds.append(m.Entity.id > after_id)
    rows = session.execute(select(m.Entity.id, m.Entity.name, m.Entity.kind, m.Entity.prefecture_code)
                           .where(*conds).order_by(m.Entity.id).limit(size + 1)).all()
    regions = region_index(session)
    derived = entity_places(session, [r[0] for r in rows[:size] if not r[3]])
    items = []
    for r in rows[:size]:
        prefecture = r[3] or (derived[r[0]][1] if r[0] in derived else None)
        items.append({"id": r[0], "name": r[1], "kind": r[2], "prefecture_code": prefecture,
                      "prefecture": regions[prefecture].name if prefecture in regions else None})
    next_token = encode_token("entity", None, rows[size - 1][0]) if len(rows) > size else None
    return {"total": int(total), "page_size": size, "items": items, "next": next_token, "q": q or None}


# --- regions ---------------------------------------------------------------------------------

def region_tree(session: Session) -> dict[str, Any]:
    """Region → prefectures (and the XPCC node with its cities) → counties, with counts per type.

    塔城/阿勒泰 keep their own codes and carry `administered_by` = 伊犁州 (654000)."""
    regions = region_index(session)
    by_pref: dict[str, dict[str, int]] = {}
    by_county: dict[str, dict[str, int]] = {}
    kept_buckets = bucket_counts(session)
    for name, spec in TYPES.items():
        for code, n in kept_buckets[name].items():
            key = _classify(code, regions)
            by_pref.setdefault(key, {})[name] = by_pref.get(key, {}).get(name, 0) + n
        if name == "gi":
            stmt = select(m.GIArea.region_code, func.count(func.distinct(m.GIArea.gi_id))).group_by(m.GIArea.region_code)
        else:
            stmt = (select(spec.model.county_code, func.count()).where(spec.model.county_code.is_not(None))
                    .group_by(spec.model.county_code))
        for code, n in session.execute(stmt):
            by_county.setdefault(code, {})[name] = by_county.get(code, {}).get(name, 0) + int(n)

    def node(info: RegionInfo, counts: dict[str, int]) -> dict[str, Any]:
        return {"code": info.code, "name": info.name, "pinyin": info.pinyin, "level": info.level,
                "unit_type": info.unit_type,
                "is_xpcc": info.is_xpcc, "xpcc_division": info.xpcc_division,
                "administered_by": info.administered_by, "counts": counts, "total": sum(counts.values()),
                "children": []}

    root_info = next((r for r in regions.values() if r.level == 1), None)
    prefectures = sorted((r for r in regions.values() if r.level == 2 and not r.retired), key=lambda r: r.code)
    counties = sorted((r for r in regions.values() if r.level == 3 and not r.retired), key=lambda r: r.code)
    pref_nodes = {}
    for p in prefectures:
        if p.code == XPCC_NODE:
            cities = {c.code: by_pref.get(c.code, {}) for c in counties if c.parent_code == XPCC_NODE}
            summed: dict[str, int] = {}
            for counts in cities.values():
                for k, v in counts.items():
                    summed[k] = summed.get(k, 0) + v
            pref_nodes[p.code] = node(p, summed)
        else:
            pref_nodes[p.code] = node(p, by_pref.get(p.code, {}))
    for c in counties:
        parent = pref_nodes.get(c.parent_code or "")
        if parent is None:
            continue
        counts = by_pref.get(c.code, {}) if c.parent_code == XPCC_NODE else by_county.get(c.code, {})
        parent["children"].append(node(c, counts))
    children = [pref_nodes[c] for c in sorted(pref_nodes)]
    root_counts: dict[str, int] = {}
    for child in children:
        for k, v in child["counts"].items():
            root_counts[k] = root_counts.get(k, 0) + v
    root = node(root_info, root_counts) if root_info else {"code": "650000", "name": None, "level": 1,
                                                           "counts": root_counts, "total": sum(root_counts.values()),
                                                           "children": []}
    root["children"] = children
    return {"root": root, "other": {"counts": by_pref.get(OUTSIDE, {}), "total": sum(by_pref.get(OUTSIDE, {}).values())},
            "xinjiang": {"counts": by_pref.get(XINJIANG, {}), "total": sum(by_pref.get(XINJIANG, {}).values())},
            "abroad": {"counts": by_pref.get(ABROAD, {}), "total": sum(by_pref.get(ABROAD, {}).values())},
            "unresolved": {"counts": by_pref.get(UNRESOLVED, {}),
                           "total": sum(by_pref.get(UNRESOLVED, {}).values())},
            "record_types": list(TYPES)}


# --- import jobs -----------------------------------------------------------------------------

JOB_COUNTS = ("read_count", "inserted_count", "updated_count", "unchanged_count", "rejected_count",
              "placed_count", "addressed_count", "merged_count")


FINISHED_JOB = ("done", "failed", "interrupted")  # statuses in which a job no longer runs


def job_summary(job: m.ImportJob) -> dict[str, Any]:
    done, total = job.bytes_done or 0, job.bytes_total
    percent = round(100.0 * done / total, 1) if total else (100.0 if job.status == "done" else None)
    return {"id": job.id, "display_name": job.display_name, "format": job.format, "status": job.status,
            "created_by": job.created_by, "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at, "heartbeat_at": job.heartbeat_at, "bytes_done": done,
            "bytes_total": total, "percent": min(percent, 100.0) if percent is not None else None,
            "finished": job.status in FINISHED_JOB,
            "resumable": job.status in m.ImportJob.RESUMABLE,
            "stop_requested": bool(job.stop_requested),
            "counts": {k.removesuffix("_count"): getattr(job, k) or 0 for k in JOB_COUNTS},
            "place_methods": place_method_shares(job.place_methods),
            "run": job_run(job), "error": job.error}


def place_method_shares(counts: dict[str, Any] | None) -> list[dict[str, Any]]:
    """How a job's records were placed: [{method, count, share}] (xjip.hub.places)."""
    from xjip.hub.places import method_shares

    return method_shares(counts)


ETA_AFTER_SECONDS = 2.0  # a first estimate needs a committed batch or two


def job_run(job: m.ImportJob) -> dict[str, Any] | None:
    """The current (or last) run of a job, from its start or latest resume: how long it has
    taken, records read per second, and, while it runs, the seconds left at this run's pace
    over the bytes still to read. Measured up to the last committed batch (`heartbeat_at`)."""
    start = job.run_started_at
    if start is None:
        return None
    finished = job.status in FINISHED_JOB
    end = (job.finished_at if finished else None) or job.heartbeat_at
    seconds = max((end - start).total_seconds(), 0.0) if end is not None else 0.0
    read = (job.read_count or 0) - (job.run_read_start or 0)
    done = (job.bytes_done or 0) - (job.run_bytes_start or 0)
    eta = None
    if job.status == "running" and seconds >= ETA_AFTER_SECONDS and done > 0 and job.bytes_total:
        eta = max(job.bytes_total - (job.bytes_done or 0), 0) * seconds / done
    return {"started_at": start, "seconds": round(seconds, 1),
            "records_per_second": round(read / seconds) if seconds >= 1 and read > 0 else None,
            "eta_seconds": round(eta) if eta is not None else None}


def list_jobs(session: Session, page_size: int | None = DEFAULT_PAGE_SIZE, after: str | None = None,
              status: str | None = None) -> dict[str, Any]:
    size = _bounded(page_size)
    conds: list[Any] = []
    if status:
        conds.append(m.ImportJob.status == status)
    total = session.scalar(select(func.count()).select_from(m.ImportJob).where(*conds)) or 0
    if after:
        _, after_id = decode_token("job", after)
        conds.append(m.ImportJob.id < after_id)
    jobs = session.execute(select(m.ImportJob).where(*conds).order_by(m.ImportJob.id.desc())
                           .limit(size + 1)).scalars().all()
    next_token = encode_token("job", None, jobs[size - 1].id) if len(jobs) > size else None
    return {"total": int(total), "page_size": size, "items": [job_summary(j) for j in jobs[:size]], "next": next_token}


def job_detail(session: Session, job_id: int, *, rejections: int = 100, after: str | None = None,
               code: str | None = None) -> dict[str, Any] | None:
    """A job with its progress, its rejected records counted by reason, and one page of them
    (of one reason, `code`, if given)."""
    job = session.get(m.ImportJob, job_id) if m.is_row_id(job_id) else None
    if job is None:
        return None
    from xjip.hub.import_notes import job_notes, not_a_note

    size = _bounded(rejections)
    conds: list[Any] = [m.ImportRejection.job_id == job.id, not_a_note()]
    if code:
        conds.append(m.ImportRejection.code == code)
    if after:
        _, after_id = decode_token("rejection", after)
        conds.append(m.ImportRejection.id > after_id)
    rows = session.execute(select(m.ImportRejection).where(*conds).order_by(m.ImportRejection.id)
                           .limit(size + 1)).scalars().all()
    data = job_summary(job)
    data["options"] = job.options
    data["rejections"] = [{"id": r.id, "file": r.file, "record": r.record, "line": r.line, "cell": r.cell,
                           "field": r.field, "code": r.code, "message_zh": r.message_zh, "message_en": r.message_en}
                          for r in rows[:size]]
    data["rejections_next"] = encode_token("rejection", None, rows[size - 1].id) if len(rows) > size else None
    data["rejection_code"] = code
    data["rejection_summary"] = rejection_summary(session, job.id)
    data["notes"] = job_notes(session, job.id)
    data["sources"] = job_sources(job)
    data["conflicts"] = job_conflicts(session, job.id)
    return data


def job_conflicts(session: Session, job_id: int, limit: int = 100) -> dict[str, Any]:
    """Rows of a job that disagreed with another row about the same application (a different
    title, say): how many, and the first of them with the record each concerns."""
    c, p = m.PatentConflict, m.Patent
    total = session.scalar(select(func.count()).select_from(c).where(c.import_job_id == job_id)) or 0
    rows = session.execute(select(c, p.key, p.title).join(p, p.id == c.patent_id).where(c.import_job_id == job_id)
                           .order_by(c.id).limit(min(limit, MAX_PAGE_SIZE))).all()
    return {"total": int(total), "items": [{**_conflict(conflict), "number": key, "title": title}
                                           for conflict, key, title in rows]}


def _conflict(c: m.PatentConflict) -> dict[str, Any]:
    return {k: getattr(c, k) for k in _CONFLICT_KEYS}


def job_sources(job: m.ImportJob, limit: int = 500) -> list[dict[str, Any]]:
    """The files of a job (a folder, an archive's members) as far as it got: records read,
    format detected, finished or not (from the job's checkpoint)."""
    out = []
    for name, state in sorted((job.checkpoint or {}).items())[:limit]:
        state = state if isinstance(state, dict) else {}
        out.append({"name": name, "format": state.get("format"), "records": state.get("items"),
                    "done": bool(state.get("done")), "error": bool(state.get("error"))})
    return out


def rejection_summary(session: Session, job_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Rejected records by reason (code and field), most frequent first, each with its first
    message as an example: 100,000 rejections are usually one or two mistakes repeated.
    `count` is exact (import_job.rejection_counts); `kept` is how many of them are stored, the
    first `pipeline.REJECTION_SAMPLES` of each reason (older jobs kept all: counted from the rows).
    Notes (records imported with a remark, `import_notes`) are not rejections and are left out."""
    from xjip.hub.import_notes import not_a_note

    r = m.ImportRejection
    groups = session.execute(select(r.code, r.field, func.count(), func.min(r.id)).where(r.job_id == job_id,
                                                                                          not_a_note())
                             .group_by(r.code, r.field)).all()
    exact = session.scalar(select(m.ImportJob.rejection_counts).where(m.ImportJob.id == job_id)) or {}
    rows = []
    for code, field_name, kept, first in groups:
        count = int(exact.get(f"{code}\t{field_name or ''}", kept))
        rows.append((count, code, field_name, int(kept), first))
    rows.sort(key=lambda g: (-g[0], g[1], g[2] or ""))
    rows = rows[:limit]
    examples = {row.id: row for row in session.scalars(select(r).where(r.id.in_([g[4] for g in rows])))}
    return [{"code": code, "field": field_name, "count": count, "kept": kept,
             "example_zh": examples[first].message_zh, "example_en": examples[first].message_en}
            for count, code, field_name, kept, first in rows]


def filter_options(session: Session, record_type: str, limit: int = 100) -> dict[str, Any]:
    """Choices for the filter form of a record list: places, statuses and kinds present."""
    spec = spec_for(record_type)
    regions = region_index(session)
    places = [{"code": c, "name": r.name, "xpcc": r.is_xpcc} for c, r in sorted(regions.items())
              if (r.level == 2 and c != XPCC_NODE) or (r.is_xpcc and r.level == 3)]

    def distinct(column_name: str | None) -> list[str]:
        """The values present, one index seek each (a "loose index scan" as a recursive query):
        SELECT DISTINCT read the whole index, 1,000,000 entries a list page."""
        if not column_name:
            return []
        table = spec.model.__tablename__
        column = _col(spec.model, column_name).name
        sql = text(f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM {table} UNION ALL "
                   f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL) "
                   f"SELECT x FROM v WHERE x IS NOT NULL LIMIT :limit")
        return [x for (x,) in session.execute(sql, {"limit": limit})]

    if spec.status and spec.name != "gi":  # the kept counts know the statuses present
        rc = m.RightCount
        statuses = [st for (st,) in session.execute(
            select(rc.status).where(rc.record_type == spec.name, rc.status != "", rc.n > 0)
            .group_by(rc.status).order_by(rc.status).limit(limit))]
    else:
        statuses = distinct(spec.status)
    return {"places": places, "statuses": statuses, "kinds": distinct(spec.kind)}


# --- export ------------------------------------------------------------------------------------

EXPORT_CHUNK = 2000
# Columns left out of exports: internal ids and bookkeeping a reader of the file has no use for.
_EXPORT_SKIP = frozenset({"id", "import_job_id", "updated_at"})


def export_columns(record_type: str) -> list[str]:
    """The columns of an export of `record_type`, in the model's order, then the place names."""
    spec = spec_for(record_type)
    cols = [c.key for c in spec.model.__mapper__.column_attrs if c.key not in _EXPORT_SKIP]
    return [*cols, "prefecture", "county"]


def export_records(session: Session, record_type: str, filters: RecordFilters | dict[str, Any] | None = None, *,
                   masked: bool = True, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Every record matching `filters`, in the list's order (real before synthetic when not filtered
    on it, newest date first), as the detail page
    shows it (personal data masked when `masked`), read `EXPORT_CHUNK` at a time so that memory
    stays flat; at most `limit` records."""
    spec = spec_for(record_type)
    filters = RecordFilters(**filters) if isinstance(filters, dict) else (filters or RecordFilters())
    model = spec.model
    date_col = _col(model, spec.date)
    conds = _conditions(spec, filters)
    real_first = filters.synthetic is None
    regions = region_index(session)
    sent = 0
    after: tuple[Any, int, bool] | None = None
    while limit is None or sent < limit:
        page = list(conds)
        if after is not None:
            page.append(_after(model, date_col, after[0], after[1], after[2] if real_first else None))
        size = EXPORT_CHUNK if limit is None else min(EXPORT_CHUNK, limit - sent)
        rows = session.execute(select(model).where(*page).order_by(*_list_order(model, date_col, real_first))
                               .limit(size)).scalars().all()
        if not rows:
            return
        kinds = _entity_kinds(session, {getattr(r, spec.entity) for r in rows}) if masked and spec.entity else {}
        for row in rows:
            data = _row_dict(row)
            if masked:
                _mask_fields(spec, data, kinds)
            place = _place(regions, row.region_code, row.prefecture_code, row.county_code)
            data["prefecture"], data["county"] = place["prefecture"], place["county"]
            for key in _EXPORT_SKIP:
                data.pop(key, None)
            yield data
        sent += len(rows)
        after = (getattr(rows[-1], spec.date), rows[-1].id, bool(rows[-1].is_synthetic))
        session.expunge_all()  # the rows of a chunk are not needed again: memory stays flat


def check_place_filters(session: Session, filters: RecordFilters) -> None:
    """A prefecture or county code that names no region is refused (BadFilter) instead of being
    answered with 0 records, which reads as "nothing there" (`--prefecture 999999`)."""
    from xjip.hub.gazetteer import PROVINCES
    from xjip.hub.region_names import region_name

    for name in ("prefecture", "county"):
        code = getattr(filters, name)
        if not code or not code.isdigit() or (name == "prefecture" and code in PROVINCES):
            continue  # none / other and the other place keywords are the query's own buckets
        if region_name(code, "zh") is not None:  # the shipped region table, loaded or not
            continue
        if session.scalar(select(m.Region.code).where(m.Region.code == code).limit(1)) is None:
            raise BadFilter(name, code)
def export_records_by_ids(session: Session, record_type: str, ids: list[int], *, masked: bool = True
                          ) -> Iterator[dict[str, Any]]:
    """The records of `ids` in that order (a result set found elsewhere, e.g. the search index),
    exported as `export_records` exports them: same columns, same masking."""
    spec = spec_for(record_type)
    model = spec.model
    regions = region_index(session)
    wanted = [i for i in ids if m.is_row_id(i)]
    for start in range(0, len(wanted), EXPORT_CHUNK):
        part = wanted[start:start + EXPORT_CHUNK]
        rows = {r.id: r for r in session.execute(select(model).where(model.id.in_(part))).scalars()}
        kinds = _entity_kinds(session, {getattr(r, spec.entity) for r in rows.values()}) \
            if masked and spec.entity else {}
        for row_id in part:
            row = rows.get(row_id)
            if row is None:
                continue
            data = _row_dict(row)
            if masked:
                _mask_fields(spec, data, kinds)
            place = _place(regions, row.region_code, row.prefecture_code, row.county_code)
            data["prefecture"], data["county"] = place["prefecture"], place["county"]
            for key in _EXPORT_SKIP:
                data.pop(key, None)
            yield data
        session.expunge_all()


def gi_bucket_pairs() -> Any:
    """Subquery of (gi_id, bucket): every prefecture-level unit a GI counts in, as the overview
    counts it (its protected area; its own place when it has no area rows). For parts that count
    GIs by prefecture (indicators, gi)."""
    return _gi_buckets()


def record_bucket(model: type[m.Base]) -> Any:
    """The prefecture-level unit a right table's record counts in, for parts that count by
    prefecture (indicators, reports): an XPCC city as itself, a prefecture's code, OUTSIDE for a
    patent whose 国省代码 names another province; None where no prefecture is known. The
    indicators' Python twin is xjip.indicators.facts.bucket."""
    # Literals, not bound parameters: PostgreSQL must see the same expression in SELECT and GROUP BY.
    node = literal_column(f"'{XPCC_NODE}'")
    prefecture, county = model.prefecture_code, model.county_code
    whens = [(prefecture == node, func.coalesce(county, node))]
    if model is m.Patent:
        province = model.province_code
        whens.append((and_(prefecture.is_(None), province.is_not(None), province != literal_column("'65'")),
                      literal_column(f"'{OUTSIDE}'")))
    return case(*whens, else_=prefecture)
