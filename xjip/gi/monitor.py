"""E-commerce infringement clues: listings → clues, each with its rule and evidence.

The engine is pure (no database): `Monitor(entries, gazetteer, settings)` is built once from the
GI library, then `scan(listing)` returns the clues of one listing. `from_session` builds it from the
hub's tables. Rules (each clue names one):

- ``outside_area``: the protected name, as published, used by a seller whose location resolves
  (hub gazetteer, GB/T 2260 codes) to a place outside every protected area of that name (the
  union over its GI systems: 库尔勒香梨's GI-product area includes 阿克苏's counties).
- ``misleading_qualifier``: the name next to a qualifier that says the goods are not it (同款, 风味,
  口味, 型, 式, 类, 仿…), or the title naming another origin ("新疆哈密瓜 河南产").
- ``traditional_variant`` / ``pinyin_variant`` / ``near_miss``: the name in traditional characters,
  in toneless pinyin or its English form, or one character off in its place part, or spelt with
  homophones (库尔乐香梨, 酷尔勒香梨), by a seller not shown to be inside the area.
- ``place_wordplay``: the place part of the name in the shop name, or split from the product word
  in the title (库尔勒 正宗 香梨), by a seller outside the area, without the name itself.
- ``mark_non_user``: a claim of the GI special mark (专用标志, 地理标志产品…) next to the name by a
  shop that is neither a recorded special-mark user of that GI nor whitelisted for it.
- ``off_season``: fresh produce listed in a month outside its season (`MonitorSettings.seasons`).

A seller whose location resolves no deeper than 新疆, or not at all, is never said to be outside
an area: such listings get no location-based clue and are counted as unresolved.
A whitelisted shop (for the GI, or for every GI) gets no clue for that GI.
"""
from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from xjip.gi.names import ENGLISH, pinyin_plain, traditional

RULES = ("outside_area", "misleading_qualifier", "traditional_variant", "pinyin_variant", "near_miss",
         "place_wordplay", "mark_non_user", "off_season")

# Qualifiers that say the goods are only like the GI (issue 13: 同款, 风味, 型; the others are the
# same construction on platforms). Settings, not an official list.
QUALIFIERS_AFTER = ("同款", "风味", "口味", "味道", "味", "型", "式", "类", "系列", "品种", "替代", "平替")
QUALIFIERS_BEFORE = ("仿", "类", "似", "媲美", "不输", "堪比", "赛过", "同款")
# Words that make a listing about something other than the product itself (saplings, empty boxes):
# the name there is a variety or a design, not an origin claim. A setting.
NOT_PRODUCT = ("树苗", "苗木", "种苗", "嫁接苗", "果树苗", "包装盒", "空盒", "纸箱", "礼盒空盒", "包装箱")
MARK_CLAIMS = ("地理标志专用标志", "专用标志", "地理标志保护产品", "地理标志产品", "地理标志认证", "地标产品", "地标认证",
               "国家地理标志", "GI标志", "地理标志")
FRESH = ("新鲜", "鲜果", "现摘", "现采", "当季", "应季", "鲜食")
# Other origin claimed in a title: 河南产, 产地河南, 产自山东.
_ORIGIN = re.compile(r"(?:产地|产自|原产地|原产|源自|发货地)[:：\s]*([\u4e00-\u9fff]{2,8})|([\u4e00-\u9fff]{2,4}?)[省市县]?(?:产|出产)(?![品业量地])")
_NOT_PRODUCT = re.compile("|".join(map(re.escape, NOT_PRODUCT)))
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_LATIN = re.compile(r"[^a-z]+")
# The place word of names the gazetteer does not read (a lake, a grassland, an old name).
PLACE_PARTS = {"那拉提牛": "那拉提", "巴尔楚克羊": "巴尔楚克", "喀什噶尔大枣": "喀什噶尔", "喀什噶尔石榴": "喀什噶尔",
               "皮亚勒玛甜石榴": "皮亚勒玛", "帕米尔冰川矿泉水": "帕米尔", "唐布拉黑蜂蜂蜜": "唐布拉",
               "博斯腾湖鲤鱼": "博斯腾湖", "博斯腾湖草鱼": "博斯腾湖", "巴音布鲁克蘑菇": "巴音布鲁克", "喀纳斯蜜瓜": "喀纳斯",
               "焉耆盆地葡萄酒": "焉耆盆地", "新疆兵团六团苹果": "六团"}
MAX_SCAN = 1000  # characters of a title read (platform titles are ≤ 60 characters; a longer one is stuffing)


@dataclass
class MonitorSettings:
    """Settings of rules that no official text fixes (gi_rules_facts.md §4: no CNIPA/SAMR guidance
    on GIs in e-commerce was found). Changing one changes the clues; the defaults are ours."""

    # Names also used as the common name of a kind of produce: their bare use is not flagged;
    # with an origin claim (新疆哈密瓜, 哈密产) it is. 哈密瓜 names the melon type (Cucumis melo) in
    # everyday Chinese as well as the GI.
    generic_names: tuple[str, ...] = ("哈密瓜",)
    # Months (1-12) in which a fresh product is on sale. Our estimate from the harvest times the
    # GIs' producers advertise, not an official calendar: staff adjust these per season.
    seasons: dict[str, tuple[int, ...]] = field(default_factory=lambda: {
        "库车小白杏": (5, 6, 7), "库车白杏": (5, 6, 7), "轮台白杏": (5, 6, 7), "托克逊杏": (5, 6, 7),
        "英吉沙杏": (6, 7), "伽师瓜": (7, 8, 9, 10), "阿图什无花果": (7, 8, 9, 10), "阜康蟠桃": (7, 8, 9),
        "喀纳斯蜜瓜": (7, 8, 9), "莎车甜瓜": (6, 7, 8, 9)})
    min_near_miss_length: int = 4


@dataclass(frozen=True)
class Entry:
    """One protected name with the union of its areas over its GI systems."""

    name: str
    gi_ids: tuple[int, ...]
    systems: tuple[str, ...]
    area: frozenset[str]  # county and prefecture codes as stored in gi_area
    users: frozenset[str] = frozenset()  # normalised names of recorded special-mark users


@dataclass
class Clue:
    listing_id: str
    gi_name: str
    gi_ids: tuple[int, ...]
    rule: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"listing_id": self.listing_id, "gi_name": self.gi_name, "gi_ids": list(self.gi_ids),
                "rule": self.rule, "evidence": self.evidence}


def clean_title(text: str | None) -> str:
    """What the rules read: HTML tags and entities removed, spaces collapsed, at most MAX_SCAN characters."""
    if not text:
        return ""
    text = html.unescape(_TAGS.sub(" ", text[: MAX_SCAN * 4]))
    return _SPACES.sub(" ", text).strip()[:MAX_SCAN]


def norm_shop(name: str | None) -> str:
    return re.sub(r"[\s()（）·\-_]+", "", unicodedata.normalize("NFKC", name or "")).lower()


@lru_cache(maxsize=65536)
def _syllable(ch: str) -> str:
    """A character's reading for homophone checks: the alphabetically first toneless reading
    (勒 le/lei and 乐 le/yue both → le). Non-Chinese characters stand for themselves."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = pinyin_dict.get(ord(ch))
    if not readings:
        return ch
    plain = {"".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c)) for r in readings.split(",")}
    return min(plain)


def syllables(text: str) -> list[str]:
    return [_syllable(ch) for ch in text]


def _index(pairs: Iterable[tuple[str, Entry]]) -> dict[str, list[Entry]]:
    ix: dict[str, list[Entry]] = {}
    for form, e in pairs:
        ix.setdefault(form[:2], []).append(e)
    return ix


def _candidates(ix: dict[str, list[Entry]], grams: set[str]) -> list[Entry]:
    found = [e for g in grams if g in ix for e in ix[g]]
    found.sort(key=lambda e: (-len(e.name), e.name))
    return found


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < t for s, t in spans)


_CJK = re.compile(r"[\u4e00-\u9fff]+")
_HAS_LATIN = re.compile(r"[A-Za-z]{3}")


def _is_cjk(text: str) -> bool:
    return _CJK.fullmatch(text) is not None


class Monitor:
    def __init__(self, entries: Iterable[Entry], gazetteer: Any, settings: MonitorSettings | None = None,
                 whitelist: dict[str, set[str | None]] | None = None, place_parts: dict[str, str] | None = None):
        self.settings = settings or MonitorSettings()
        self.gaz = gazetteer
        self.entries = sorted(entries, key=lambda e: (-len(e.name), e.name))
        self.by_name = {e.name: e for e in self.entries}
        self.whitelist = {norm_shop(k): v for k, v in (whitelist or {}).items()}  # shop → {gi name, or None = all}
        self.trad = [(traditional(e.name), e) for e in self.entries if traditional(e.name) != e.name]
        self.latin = []
        for e in self.entries:
            forms = {pinyin_plain(e.name)}
            if e.name in ENGLISH:
                forms.add(_LATIN.sub("", ENGLISH[e.name].lower()))
            self.latin.append((tuple(f for f in forms if len(f) >= 6), e))
        self.sylls = [("|".join(syllables(e.name)), e) for e in self.entries if len(e.name) >= 3]
        self.syll_of = {e.name: syl for syl, e in self.sylls}
        self.place = {}
        for e in self.entries:
            part = {**PLACE_PARTS, **(place_parts or {})}.get(e.name) or self._place_part(e.name)
            self.place[e.name] = (part, e.name[len(part):]) if part and len(part) < len(e.name) else (e.name[:-1], e.name[-1:])
        self.bigrams: dict[str, list[Entry]] = {}
        for e in self.entries:
            for i in range(len(e.name) - 1):
                self.bigrams.setdefault(e.name[i:i + 2], []).append(e)
        # First-bigram indexes: a title is checked only against names whose first two characters
        # (or syllables) it contains, instead of against the whole library.
        self.exact_ix = _index((e.name, e) for e in self.entries)
        self.trad_ix = _index(self.trad)
        self.places_by_part: dict[str, list[Entry]] = {}
        for e in self.entries:
            part = self.place[e.name][0]
            if len(part) >= 2:
                self.places_by_part.setdefault(part, []).append(e)

        self.part_ix: dict[str, list[str]] = {}
        for part in self.places_by_part:
            self.part_ix.setdefault(part[:2], []).append(part)
        self.part_keys = frozenset(self.part_ix)
        self.bigram_keys = frozenset(self.bigrams)

    def _place_part(self, name: str) -> str | None:
        place = self.gaz.resolve(name) if self.gaz is not None else None
        if place and place.matched_text:
            first = place.matched_text.split("/")[0]
            if name.startswith(first):
                return first
        # No place found in the name: the last two characters are taken as the product word.
        return name[:-2] if len(name) >= 4 else None

    # --- helpers --------------------------------------------------------------------------

    def locate(self, location: str | None) -> Any:
        if not location or self.gaz is None:
            return None
        try:
            return self.gaz.resolve(location.strip()[:200])
        except Exception:  # noqa: BLE001 - an address the gazetteer cannot read is "unresolved", never a crash
            return None

    @staticmethod
    def inside(entry: Entry, place: Any) -> bool | None:
        """True/False when the seller's place is known well enough to tell, None otherwise."""
        if place is None:
            return None
        region = place.region_code or ""
        if not region.startswith("65"):
            return False  # another province (or its capital/major city)
        pref, county = place.prefecture_code, place.county_code
        if pref is None:
            return None  # 新疆 only
        area = entry.area
        if county and county in area:
            return True
        if pref in area:
            listed = [c for c in area if not c.endswith("00") and c[:4] == county[:4]] if county else []
            if county is None or not listed:
                return True  # the whole prefecture is in the area, or the seller's county is not known
            return False
        if county is None and any(c[:4] == pref[:4] for c in area):
            return None  # prefecture known, the area lists some of its counties: cannot tell
        if pref == "659000" and county is None:
            return None
        return False

    def _place_ev(self, place: Any) -> dict[str, Any]:
        if place is None:
            return {"seller_place": None}
        return {"seller_place": {"region_code": place.region_code, "prefecture_code": place.prefecture_code,
                                 "county_code": place.county_code, "matched": place.matched_text}}

    # --- the scan -------------------------------------------------------------------------

    def scan(self, listing: dict[str, Any]) -> list[Clue]:
        lid = str(listing.get("listing_id") or "")
        title = clean_title(listing.get("title"))
        if not title:
            return []
        shop = listing.get("shop") or ""
        shop_key = norm_shop(shop)
        allowed = self.whitelist.get(shop_key) if shop_key else None
        place = self.locate(listing.get("seller_location"))
        clues: list[Clue] = []
        not_product = _NOT_PRODUCT.search(title) is not None
        hit_spans: list[tuple[int, int]] = []
        hit_names: set[str] = set()

        def whitelisted(e: Entry) -> bool:
            return allowed is not None and (None in allowed or e.name in allowed)

        def add(e: Entry, rule: str, **evidence: Any) -> None:
            if whitelisted(e):
                return
            evidence.setdefault("title", title[:200])
            if shop:
                evidence.setdefault("shop", shop)
            clues.append(Clue(lid, e.name, e.gi_ids, rule, evidence))

        grams = {title[i:i + 2] for i in range(len(title) - 1)}
        # 1. the name as published (longest names first: the index lists keep the library's order)
        for e in _candidates(self.exact_ix, grams):
            start = title.find(e.name)
            if start < 0:
                continue
            end = start + len(e.name)
            hit_names.add(e.name)
            if any(s <= start and end <= t for s, t in hit_spans):
                continue  # inside a longer name already found (吐鲁番葡萄 in 吐鲁番葡萄干)
            hit_spans.append((start, end))
            if not_product:
                continue
            generic = e.name in self.settings.generic_names
            origin_claim = not generic or ("新疆" + e.name in title or self.place[e.name][0] + "产" in title)
            qualifier = self._qualifier(title, start, end)
            if qualifier:
                add(e, "misleading_qualifier", match=e.name, qualifier=qualifier, **self._place_ev(place))
            else:
                other = self._other_origin(title, e)
                if other:
                    add(e, "misleading_qualifier", match=e.name, other_origin=other[0],
                        other_origin_code=other[1], **self._place_ev(place))
                elif origin_claim and self.inside(e, place) is False:
                    add(e, "outside_area", match=e.name, seller_location=listing.get("seller_location"),
                        protected_area=sorted(e.area), **self._place_ev(place))
            claim = next((c for c in MARK_CLAIMS if c in title), None)
            if claim and shop_key not in e.users:
                add(e, "mark_non_user", match=e.name, claim=claim, users_recorded=len(e.users))
            months = self.settings.seasons.get(e.name)
            listed = listing.get("listed_at")
            if months and isinstance(listed, dt.date) and listed.month not in months and any(w in title for w in FRESH):
                add(e, "off_season", match=e.name, listed_at=listed.isoformat(), season_months=list(months))
        if not_product:
            return clues

        # 2. traditional characters
        for e in _candidates(self.trad_ix, grams):
            form = traditional(e.name)
            if e.name not in hit_names and form in title:
                hit_names.add(e.name)
                if self.inside(e, place) is not True:
                    add(e, "traditional_variant", match=form, name=e.name, **self._place_ev(place))

        # 3. pinyin / English
        latin = _LATIN.sub("", title.lower()) if _HAS_LATIN.search(title) else ""
        for forms, e in (self.latin if len(latin) >= 6 else ()):
            if not forms or e.name in hit_names:
                continue
            form = next((f for f in forms if f in latin), None)
            if form:
                hit_names.add(e.name)
                if self.inside(e, place) is not True:
                    add(e, "pinyin_variant", match=form, name=e.name, **self._place_ev(place))

        # 4. near misses: homophones, one character off in the place part. Only names sharing
        # enough two-character pieces with the title are tried (one changed character breaks at
        # most two pieces), so most titles cost a few set lookups here.
        cjk_title = title
        candidates: dict[str, int] = {}
        for g in grams & self.bigram_keys:
            for e in self.bigrams[g]:
                candidates[e.name] = candidates.get(e.name, 0) + 1
        tried = [(name, shared) for name, shared in candidates.items()
                 if name not in hit_names and shared >= max(1, len(name) - 3)]
        tried.sort(key=lambda kv: -len(kv[0]))
        if tried:
            title_syll = syllables(cjk_title)
            joined = "|".join(title_syll)
            offsets, pos = {}, 0
            for i, s in enumerate(title_syll):
                offsets[pos] = i
                pos += len(s) + 1
        for name, _shared in tried:
            e = self.by_name[name]
            if name in hit_names or len(name) < 3:
                continue
            syl = self.syll_of[name]
            at = joined.find(syl)
            while at >= 0 and at not in offsets:
                at = joined.find(syl, at + 1)
            if at >= 0 and (at + len(syl) == len(joined) or joined[at + len(syl)] == "|"):
                i = offsets[at]
                window = cjk_title[i:i + len(name)]
                if (window != name and _is_cjk(window) and window not in self.by_name
                        and not _overlaps(hit_spans, i, i + len(window))):
                    hit_names.add(name)
                    hit_spans.append((i, i + len(window)))
                    if self.inside(e, place) is not True:
                        add(e, "near_miss", match=window, name=name, how="homophone", **self._place_ev(place))
        for name, _shared in tried:
            e = self.by_name[name]
            if name in hit_names or len(name) < self.settings.min_near_miss_length:
                continue
            align = fuzz.partial_ratio_alignment(name, cjk_title, score_cutoff=70)
            if align is None:
                continue
            found = self._near_window(e, cjk_title, align.dest_start, align.dest_end, hit_spans)
            if found:
                window, pos = found
                hit_names.add(name)
                if self.inside(e, place) is not True:
                    add(e, "near_miss", match=window, name=name, how="edit", position=pos, **self._place_ev(place))

        # 5. place-name wordplay: the place part in the shop name or split from the product word
        shop_grams = {shop[i:i + 2] for i in range(len(shop) - 1)}
        for part in {p for g in (grams | shop_grams) & self.part_keys for p in self.part_ix[g]}:
            entries = self.places_by_part[part]
            in_shop = part in shop
            at = title.find(part)
            in_title = at >= 0 and not _overlaps(hit_spans, at, at + len(part))
            if not (in_shop or in_title):
                continue
            for e in entries:
                if e.name in hit_names:
                    continue
                product = self.place[e.name][1]
                if len(product) < 1 or product not in title:
                    continue
                split = in_title and title.find(product, at + len(part)) - (at + len(part)) in range(1, 9)
                if not (in_shop or split):
                    continue
                hit_names.add(e.name)
                if self.inside(e, place) is False:
                    add(e, "place_wordplay", place_part=part, product_word=product,
                        where="shop" if in_shop else "title", **self._place_ev(place))
        return clues

    def _qualifier(self, title: str, start: int, end: int) -> str | None:
        after = title[end:end + 3].lstrip(" ")
        for q in QUALIFIERS_AFTER:
            if after.startswith(q):
                if q in ("型", "式", "类", "味") and after[len(q):len(q) + 1] in ("号", "别"):
                    continue
                return q
        before = title[max(0, start - 3):start].rstrip(" ")
        for q in QUALIFIERS_BEFORE:
            if before.endswith(q):
                return q
        return None

    def _other_origin(self, title: str, e: Entry) -> tuple[str, str] | None:
        for match in _ORIGIN.finditer(title):
            text = match.group(1) or match.group(2)
            if not text or text in e.name or e.name.startswith(text):
                continue
            place = self.locate(text)
            if place is not None and self.inside(e, place) is False:
                return text, place.region_code
        return None

    def _near_window(self, e: Entry, title: str, start: int, end: int,
                     taken: list[tuple[int, int]]) -> tuple[str, int] | None:
        """A window of the title one edit from the name, the edit inside the name's place part."""
        name, part_len = e.name, len(self.place[e.name][0])
        best = None
        for lo in range(max(0, start - 1), min(len(title), start + 2)):
            for size in (len(name) - 1, len(name), len(name) + 1):
                window = title[lo:lo + size]
                if (len(window) != size or not _is_cjk(window) or window == name or window in self.by_name
                        or _overlaps(taken, lo, lo + size)):
                    continue
                if any(other != name and (other in window or window in other) for other in self.by_name if len(other) >= 3
                       and other[:2] == window[:2]):
                    continue
                if Levenshtein.distance(name, window, score_cutoff=1) != 1:
                    continue
                ops = Levenshtein.editops(name, window)
                if all(op.src_pos < part_len for op in ops) and window[-1] == name[-1]:
                    best = (window, ops[0].src_pos)
                    taken.append((lo, lo + size))
                    break
            if best:
                break
        return best


def entries_from_session(session: Any) -> list[Entry]:
    from sqlalchemy import select

    from xjip.hub import models as m

    names: dict[str, dict[str, Any]] = {}
    for gi_id, name, system in session.execute(select(m.GeographicalIndication.id, m.GeographicalIndication.name,
                                                      m.GeographicalIndication.gi_system)):
        d = names.setdefault(name, {"ids": [], "systems": [], "area": set(), "users": set()})
        d["ids"].append(gi_id)
        d["systems"].append(system)
    by_id = {i: n for n, d in names.items() for i in d["ids"]}
    for gi_id, code in session.execute(select(m.GIArea.gi_id, m.GIArea.region_code)):
        if gi_id in by_id:
            names[by_id[gi_id]]["area"].add(code)
    for gi_id, user, revoked in session.execute(select(m.GIMarkUser.gi_id, m.GIMarkUser.user_name,
                                                       m.GIMarkUser.revoked_date)):
        if gi_id in by_id and revoked is None:
            names[by_id[gi_id]]["users"].add(norm_shop(user))
    return [Entry(n, tuple(d["ids"]), tuple(d["systems"]), frozenset(d["area"]), frozenset(d["users"]))
            for n, d in names.items()]


def whitelist_from_session(session: Any) -> dict[str, set[str | None]]:
    from sqlalchemy import select

    from xjip.hub import models as m

    out: dict[str, set[str | None]] = {}
    for shop, gi_name in session.execute(select(m.GIWhitelist.shop, m.GeographicalIndication.name)
                                         .outerjoin(m.GeographicalIndication, m.GIWhitelist.gi_id == m.GeographicalIndication.id)):
        out.setdefault(shop, set()).add(gi_name)
    return out


def from_session(session: Any, settings: MonitorSettings | None = None) -> Monitor:
    from xjip.hub.gazetteer import Gazetteer

    gaz = Gazetteer.from_session(session)
    return Monitor(current_areas(entries_from_session(session), gaz), gaz, settings, whitelist_from_session(session))


def current_areas(entries: list[Entry], gaz: Any) -> list[Entry]:
    """A protected area naming a unit that no longer exists (库车县 652923) also covers its
    successor (库车市 652902): sellers place to today's units."""
    out = []
    for e in entries:
        extra = {gaz.code_on(c) for c in e.area} - e.area
        out.append(Entry(e.name, e.gi_ids, e.systems, e.area | extra, e.users) if extra else e)
    return out


def entries_from_csv(path: Any, users: dict[str, list[str]] | None = None) -> list[Entry]:
    """Entries straight from the compiled list (gi/xinjiang_gi_records.csv), for the benchmark and
    the labelled evaluation; the same union of areas as `entries_from_session`."""
    import csv

    names: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for index, r in enumerate(csv.DictReader(fh), start=1):
            d = names.setdefault(r["name_zh"], {"ids": [], "systems": [], "area": set()})
            d["ids"].append(index)
            d["systems"].append(r["gi_type"])
            d["area"] |= {c for c in r["county_codes"].split(";") + r["prefecture_codes"].split(";") if c}
    return [Entry(n, tuple(d["ids"]), tuple(d["systems"]), frozenset(d["area"]),
                  frozenset(norm_shop(u) for u in (users or {}).get(n, ()))) for n, d in names.items()]


_WORKER: Monitor | None = None  # the monitor a forked scan process inherits


def _scan_chunk(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return [c.as_dict() for row in rows for c in _WORKER.scan(row)]


def scan_many(monitor: Monitor, rows: list[dict[str, Any]], processes: int | None = None,
              chunk: int = 5000) -> list[dict[str, Any]]:
    """Clues of many listings, in listing order. With `processes` > 1 (Linux: forked workers that
    inherit the built monitor, so nothing is pickled but listings and clues) the chunks are scanned
    on several cores; small inputs stay in this process."""
    import multiprocessing
    import sys

    global _WORKER
    if not processes or processes < 2 or len(rows) < 2 * chunk or not sys.platform.startswith("linux"):
        return [c.as_dict() for row in rows for c in monitor.scan(row)]
    _WORKER = monitor
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_scan_chunk, [rows[i:i + chunk] for i in range(0, len(rows), chunk)])
    finally:
        _WORKER = None
    return [c for part in parts for c in part]
