"""Placing a right whose owner has no address: from the owner's other records, an organisation
list, place names inside the owner's name, or the export's 国省代码.

Real exports (incoPat, Patentics, PatSnap…) carry no address column, so an address gazetteer
alone places no Xinjiang applicant. Each record's `place_method` says how it was placed:

| method | from | how fine |
|---|---|---|
| `gazetteer` | the owner's address (`xjip.hub.gazetteer`) | down to the township |
| `given` | region codes in the source itself (GI lists) | as given |
| `postcode` | an 83xxxx/84xxxx postcode alone | Xinjiang |
| `owner` | the owner's other records placed by an address (`place_from_owners`, at the end of a job) | where most of them are |
| `organisation` | the organisation list `data/xinjiang_organisations.csv` (its README gives each row's source) | county where the source names one, else the city, else Xinjiang |
| `name` | a place named in the owner's name (below) | as the name says |
| `province_code` | the export's 国省代码 column (CNIPA's code of the first applicant's province) | province |

A wrong place is worse than none, so name placement is narrow:
- Only organisations: a person's name (和田, 石河 are surnames too) is never read as a place, and
  an owner from abroad (its country is not CN) is not placed by name.
- Only where Chinese naming law puts the place: 《企业名称登记管理规定》(国务院令第734号, 2020) art. 7
  has a name consist of 行政区划名称 + 字号 + 行业 + 组织形式, the 行政区划 being that of the place of
  registration; art. 8 lets the region stand in brackets after the 字号 (斑马智行网络(香港)有限公司).
  So a place counts when it opens the name (乌鲁木齐…有限公司, 昌吉州…, 库尔勒…), stands in brackets,
  or opens a branch after its parent's name (国网新疆电力有限公司昌吉供电公司, …有限公司北京分公司),
  not when it is inside a 字号 or a product (和田玉, 哈密瓜, 昌吉利, 阿克苏诺贝尔 = AkzoNobel, 和硕 =
  Pegatron), nor a mountain (天山: the gazetteer never takes it alone).
- A name opened by another province or a major city outside Xinjiang (北京新疆大厦, 广州…) is placed
  in that province, and one opened by a foreign country not at all.
- "新疆" inside an organisation's name (国网新疆电力有限公司, 中国人民解放军新疆军区总医院) places it in
  Xinjiang only (650000).
- Latin names: the organisation list's English names; otherwise only "Xinjiang" in the name, or a
  Xinjiang place opening the name of an owner whose country is CN ("Changji … Co ltd").
When the export has a 国省代码 that disagrees with the name (a 新疆… branch registered in Beijing),
the 国省代码 wins at province level (`settle`).
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from xjip.hub.gazetteer import REGION_CODE, Place

METHODS = ("gazetteer", "given", "postcode", "owner", "organisation", "name", "province_code", "abroad", "none")
# Places learnt from an address or from codes in the source: what the owner method spreads. An
# owner's row is placed `province_code` only from an address outside Xinjiang (the export's
# 国省代码 places the patent row, never an owner's party row nor another right).
ADDRESS_METHODS = ("gazetteer", "given", "province_code")
# Places the owner method may refine (no address behind them, and coarser than a prefecture).
REFINABLE = ("organisation", "name", "province_code", "postcode")
ORGANISATIONS_FILE = Path(__file__).parent / "data" / "xinjiang_organisations.csv"

# A place opening a name but followed by these is a product, brand or foreign name, not a place
# of registration (和田玉, 哈密瓜, 昌吉利, 阿克苏诺贝尔 = AkzoNobel, 和硕联合 = Pegatron, 哈密尔顿 =
# Hamilton, 乌苏啤酒: a brewery named after the town, seated elsewhere).
PRODUCT_NEXT = {"和田": "玉枣", "哈密": "瓜尔", "昌吉": "利", "阿克苏": "诺", "和硕": "联", "乌苏": "啤"}
# Where a branch's own name starts: after the parent's organisational head noun.
_HEADS = ("有限责任公司", "股份有限公司", "有限公司", "公司", "集团", "大学", "学院", "科学院", "研究院",
          "研究所", "管理局", "总局", "总厂", "总医院", "医院", "中心")
_LEGAL_LEAD = ("股份有限公司", "有限责任公司", "有限公司", "集团有限公司", "集团", "公司")
_ROAD_NEXT2 = ("东路", "西路", "南路", "北路", "中路", "大道", "大街")
_UNIT_NEXT = set("省市县区州盟旗镇乡村")
_BRACKET = re.compile(r"[(（]([^()（）]{2,15})[)）]")
_XINJIANG_WORDS = ("新疆", "新疆维吾尔自治区", "新疆生产建设兵团")
_LATIN_XINJIANG = ("xinjiang", "sinkiang", "xpcc")
_CJK = re.compile(r"[\u3400-\u9fff]")
_FOREIGN = object()  # a name opened by a foreign country: no place, whatever follows


@dataclass(frozen=True)
class Organisation:
    name_zh: str
    code: str
    kind: str
    subunits: str  # here | region | none (data/README.md)
    source: str


def organisation_rows(path: str | Path = ORGANISATIONS_FILE) -> list[dict[str, str]]:
    """The organisation list as shipped in the package (no download at run time)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


class OwnerPlacer:
    """Owner names → places. Build once per job (≈10 ms) on the job's gazetteer; pure and
    cached, so a parse process runs it as well as the writing one."""

    def __init__(self, gazetteer: Any, organisations: Iterable[dict[str, str]] | None = None,
                 cache_size: int = 50_000):
        from xjip.hub.entities import name_key

        self.gaz = gazetteer
        self._zh: dict[str, Organisation] = {}
        self._en: list[tuple[str, Organisation]] = []
        for row in organisations if organisations is not None else organisation_rows():
            org = Organisation(row["name_zh"], row["code"], row.get("kind") or "", row.get("subunits") or "none",
                               row.get("source") or "")
            for name in [row["name_zh"], *_split(row.get("aliases_zh", ""))]:
                key = name_key(name)
                if key:
                    self._zh.setdefault(key, org)
            for name in _split(row.get("names_en", "")):
                key = name_key(name)
                if key:
                    self._en.append((key, org))
        self._zh_lengths = sorted({len(k) for k in self._zh}, reverse=True)
        self._en.sort(key=lambda item: -len(item[0]))
        self._cached = lru_cache(maxsize=cache_size)(self._place)

    # public ---------------------------------------------------------------------------------

    def place(self, name: str | None, country: str | None = None) -> Place | None:
        """Where an owner named `name` is, by its name alone (None: not known)."""
        if not name or not name.strip():
            return None
        country = (country or "").strip().upper()[:3] or None
        if country and country not in ("CN", "CHN"):
            return None
        return self._cached(name, country)

    def cache_clear(self) -> None:
        self._cached.cache_clear()

    # internals ------------------------------------------------------------------------------

    def _place(self, name: str, country: str | None) -> Place | None:
        from xjip.hub.entities import _clean, classify, name_key

        key = name_key(name)
        org = self._zh.get(key)
        if org is not None:  # a listed organisation, however short its name (特变电工)
            return self._org_place(org, org.name_zh)
        if classify(name) == "individual":
            return None
        text = _clean(name)
        if _CJK.search(text):
            return self._zh_place(text, key)
        return self._latin_place(text, key, country)

    def _code_place(self, code: str, method: str, matched: str | None) -> Place:
        unit = self.gaz.unit(code)
        if unit is None or unit.level <= 1:
            return Place(code, None, None, method, matched)
        if unit.level == 2:
            return Place(code, code, None, method, matched)
        prefecture = unit.prefecture_code or unit.parent_code
        return Place(code, prefecture, code, method, matched, unit.xpcc_division)

    def _org_place(self, org: Organisation, matched: str) -> Place:
        return self._code_place(org.code, "organisation", matched)

    def _zh_place(self, text: str, key: str) -> Place | None:
        compact = "".join(text.split())
        for length in self._zh_lengths:
            if length >= len(key):
                continue
            org = self._zh.get(key[:length])
            if org is None:
                continue
            rest = key[length:]
            for lead in _LEGAL_LEAD:
                if rest.startswith(lead) and len(rest) > len(lead):
                    rest = rest[len(lead):]
                    break
            found = self._lead_place(rest)
            if found is _FOREIGN:
                return None
            if found is not None:
                return found
            if org.subunits == "here":
                return self._org_place(org, org.name_zh)
            if org.subunits == "region" and org.code.startswith("65"):
                return self._code_place(REGION_CODE, "organisation", org.name_zh)
            break  # `none`: the name rules below decide
        lead = self._lead_place(compact)
        if lead is _FOREIGN:
            return None
        branch = self._branch_place(compact)
        if branch is not None:
            return branch
        if lead is not None:
            return lead
        for m in _BRACKET.finditer(text):
            inner = self._lead_place(m.group(1), whole=True)
            if inner is not None and inner is not _FOREIGN:
                return inner
        if any(word in compact for word in _XINJIANG_WORDS):
            return self._code_place(REGION_CODE, "name", "新疆")
        return None

    def _branch_place(self, text: str) -> Place | None:
        """The place opening a branch's own name after its parent's (…有限公司昌吉供电公司)."""
        best = None
        for head in _HEADS:
            start = 0
            while True:
                at = text.find(head, start)
                if at < 0:
                    break
                end = at + len(head)
                start = at + 1
                if end >= len(text) - 1:
                    continue
                found = self._lead_place(text[end:], need_rest=True)
                if found is not None and found is not _FOREIGN and (best is None or end > best[0]):
                    best = (end, found)
        return best[1] if best else None

    def _lead_place(self, text: str, whole: bool = False, need_rest: bool = False) -> Any:
        """The place whose names open `text` (新疆乌鲁木齐…, 昌吉州…, 北京…): a Place, _FOREIGN, or
        None. With `whole`, the names must be all of `text` (a bracket); with `need_rest`,
        something must follow them (a branch's own name)."""
        gaz = self.gaz
        if not text:
            return None
        for prefix in ("中华人民共和国", "中国"):
            if text.startswith(prefix) and len(text) > len(prefix) + 1:
                rest = text[len(prefix):]
                if gaz._zh_longest(rest, 0) or rest[:2] in gaz._lead_heads:
                    text = rest
                break
        if text[:2] in gaz._lead_heads:
            for length in gaz._lead_lens:
                name = text[:length]
                code = gaz._lead.get(name, 0)
                if code == 0 or gaz._zh_longest(text, 0) > length:
                    continue
                tail = text[length:]
                if (whole and tail and tail not in ("市", "省")) or (need_rest and not tail) \
                        or (tail and tail[0] in "路街巷"):
                    return None
                if code is None:
                    return _FOREIGN
                return Place(code, None, None, "name", name)
        i, keys = 0, []
        while i < len(text):
            length = gaz._zh_longest(text, i)
            if not length:
                break
            keys.append(text[i:i + length])
            i += length
        if not keys:
            return None
        tail = text[i:]
        if (whole and tail) or (need_rest and not tail):
            return None
        if tail and (tail[0] in "路街巷" or tail[:2] in _ROAD_NEXT2):
            return None
        if tail and tail[0] in _UNIT_NEXT:
            return None  # another unit of the same short name (沙湾区 is in 乐山, 沙湾市 in 塔城)
        following = PRODUCT_NEXT.get(keys[-1])
        if following and tail[:1] and tail[0] in following:
            return None
        place = gaz.resolve(text[:i])
        if place is None or place.method != "gazetteer":
            return None
        return place._replace(method="name", matched_text="/".join(keys))

    def _latin_place(self, text: str, key: str, country: str | None) -> Place | None:
        if not key:
            return None
        words = _latin_words(text)
        for en_key, org in self._en:
            if en_key not in key:
                continue
            if key == en_key:
                return self._org_place(org, org.name_zh)
            lead = self._latin_lead(words)
            if lead is not None and lead.region_code != REGION_CODE:
                return lead
            if org.subunits == "here":
                return self._org_place(org, org.name_zh)
            if org.subunits == "region" and org.code.startswith("65"):
                return self._code_place(REGION_CODE, "organisation", org.name_zh)
            break
        xinjiang = any(w in _LATIN_XINJIANG for w in words)
        if not xinjiang and country is None:
            return None  # "Hami Corp" of nowhere in particular is not placed in 哈密
        lead = self._latin_lead(words)
        if lead is not None:
            return lead
        if xinjiang:
            return self._code_place(REGION_CODE, "name", "xinjiang")
        return None

    def _latin_lead(self, words: list[str]) -> Place | None:
        for size in range(min(4, len(words)), 0, -1):
            place = self.gaz.resolve(" ".join(words[:size]))
            if place is not None and place.method == "gazetteer" and place.matched_text \
                    and place.matched_text.split("/")[0].split(" ")[0] == words[0]:
                return place._replace(method="name")
        return None


def _latin_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("'", "")
    return re.findall(r"[a-z0-9]+", text)


def settle(address_place: Any, owner_place: Place | None, province_code: str | None) -> Any:
    """The place of a record: its address first; else the owner's place by name or
    organisation list, unless the export's 国省代码 names another province; else the 国省代码
    alone (province level)."""
    if address_place is not None and (address_place.region_code or address_place.prefecture_code):
        return address_place
    province = province_code if province_code and len(province_code) == 2 and province_code.isdigit() else None
    if owner_place is not None and (province is None or owner_place.region_code[:2] == province):
        return owner_place
    if province:
        return Place(province + "0000", None, None, "province_code", province)
    return None


# Not placed in China and the owner is foreign: counted apart from what could not be placed
# (`none`). Only the place method says so; the codes stay empty.
ABROAD = Place(None, None, None, "abroad", None)
_DOMESTIC = ("CN", "CHN")


def abroad(owner_country: str | None, office_country: str | None = None) -> Place | None:
    """ABROAD for a record placed nowhere in China whose owner's country is known and not China;
    an owner without a country counts as abroad only on a foreign office's record (a US patent of
    an applicant whose country the source leaves out). Otherwise None (not placed: `none`)."""
    country = (owner_country or "").strip().upper()
    if country:
        return None if country in _DOMESTIC else ABROAD
    office = (office_country or "").strip().upper()
    return ABROAD if office and office not in _DOMESTIC and len(office) == 2 and office not in ("WO", "EP") else None


def method_of(place: Any) -> str:
    if place is not None and getattr(place, "method", None) == "abroad":
        return "abroad"
    if place is None or not (getattr(place, "region_code", None) or getattr(place, "prefecture_code", None)):
        return "none"
    return (getattr(place, "method", None) or "gazetteer")[:20]


def method_shares(counts: dict[str, Any] | None) -> list[dict[str, Any]]:
    """[{method, count, share}] in METHODS order, over all the records counted (`none` too)."""
    counts = {k: int(v or 0) for k, v in (counts or {}).items()}
    total = sum(counts.values())
    order = [m for m in METHODS if counts.get(m)] + sorted(k for k in counts if k not in METHODS and counts[k])
    return [{"method": m, "count": counts[m], "share": round(counts[m] / total, 4) if total else None}
            for m in order]


# --- the owner method: at the end of a job ---------------------------------------------------

def _owner_specs() -> list[tuple[Any, Any]]:
    """(model, owner entity column) of every right table whose rows name their owner entity."""
    from xjip.hub.queries import TYPES, _col

    return [(spec.model, _col(spec.model, spec.entity)) for spec in TYPES.values() if spec.entity]


def owner_places(session: Session, entity_ids: Iterable[int]) -> dict[int, tuple[str, str | None, str | None]]:
    """Where owners are by their records placed from an address (or the source's own codes):
    the (region, prefecture, county) met most often; on a tie between places, their common
    prefecture, or their common province. People (entity kind `individual`) are left out:
    two people of one name are one entity here, and may live far apart."""
    from xjip.hub import models as m

    ids = sorted({i for i in entity_ids if i})
    if not ids:
        return {}
    people = set()
    for chunk in _chunks(ids, 1000):
        people.update(session.scalars(select(m.Entity.id).where(m.Entity.id.in_(chunk),
                                                                m.Entity.kind == "individual")))
    ids = [i for i in ids if i not in people]
    counted: dict[int, dict[tuple[str, str | None, str | None], int]] = {}
    sources = [(m.PatentParty, m.PatentParty.entity_id)] + [
        (model, column) for model, column in _owner_specs() if model is not m.Patent]
    for model, column in sources:
        for chunk in _chunks(ids, 1000):
            rows = session.execute(select(column, model.region_code, model.prefecture_code, model.county_code)
                                   .where(column.in_(chunk), model.place_method.in_(ADDRESS_METHODS),
                                          model.region_code.is_not(None)))
            for e, r, p, c in rows:
                per = counted.setdefault(e, {})
                per[(r, p, c)] = per.get((r, p, c), 0) + 1
    out: dict[int, tuple[str, str | None, str | None]] = {}
    for e, per in counted.items():
        top = max(per.values())
        best = sorted(k for k, n in per.items() if n == top)
        if len(best) == 1:
            out[e] = best[0]
            continue
        prefectures = {p for _r, p, _c in best}
        if len(prefectures) == 1 and None not in prefectures:
            p = prefectures.pop()
            out[e] = (p, p, None)
        elif len({(r or "")[:2] for r, _p, _c in best}) == 1:
            province = best[0][0][:2]
            out[e] = (province + "0000", None, None)
    return out


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def place_from_owners(session: Session, job_id: int) -> dict[str, int]:
    """Place the records this job wrote that have no place, or only one coarser than a
    prefecture and not from an address, where their owner's other records were placed by an
    address: the record takes that place (`owner`), if it lies in the province its own coarse
    place names. Returns {previous method: records moved to `owner`}."""
    moved: dict[str, int] = {}
    for model, column in _owner_specs():
        rows = session.execute(
            select(model.id, column, model.region_code, model.place_method)
            .where(model.import_job_id == job_id, column.is_not(None),
                   model.place_method.is_(None) | (model.place_method.in_(REFINABLE)
                                                   & model.prefecture_code.is_(None)))).all()
        if not rows:
            continue
        places = owner_places(session, [r[1] for r in rows])
        changes = []
        for rid, entity_id, region, method in rows:
            found = places.get(entity_id)
            if found is None or (region and found[0][:2] != region[:2]) or found[0] == region:
                continue
            changes.append({"i": rid, "r": found[0], "p": found[1], "c": found[2]})
            key = method or "none"
            moved[key] = moved.get(key, 0) + 1
        table = model.__table__
        for chunk in _chunks(changes, 1000):
            session.execute(update(table).where(table.c.id == bindparam("i")).values(
                region_code=bindparam("r"), prefecture_code=bindparam("p"), county_code=bindparam("c"),
                place_method="owner"), chunk)
    return moved


def apply_moves(counts: dict[str, Any] | None, moved: dict[str, int]) -> dict[str, int]:
    """A job's per-method counts after `place_from_owners` moved records to `owner`."""
    out = {k: int(v or 0) for k, v in (counts or {}).items()}
    for method, n in moved.items():
        out[method] = max(out.get(method, 0) - n, 0)
        out["owner"] = out.get("owner", 0) + n
    return {k: v for k, v in out.items() if v}


__all__ = ["METHODS", "ABROAD", "abroad", "OwnerPlacer", "settle", "method_of", "method_shares", "owner_places", "place_from_owners",
           "apply_moves", "organisation_rows"]
