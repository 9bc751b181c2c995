"""Synthetic records of the other rights, one CSV per import template (`importers.templates`):
trademarks, GI special-mark users, copyrights, plant varieties, transfers and licences, pledges,
enforcement cases, service institutions and agencies. Every row carries 合成数据=是 and is stored
as synthetic however it is imported.

Built from the real vocabularies and from the synthetic patents of the same run, so that the
records hang together: transfers, licences, pledges and cases name patents the synthetic
patent sample holds, and their owners; the agencies are those of the synthetic patents;
special-mark users use the real GI names of their real prefectures; trademarks take their
classes and goods from the real Nice classes and China's 类似群 table; courts and market
regulators are named after the real prefectures. Numbers, people, enterprises, dates and
amounts are invented. Never present figures computed on these records as Xinjiang facts.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from xjip.hub.importers.templates import CREDIT_CHARS, SPECS, credit_check_char
from xjip.hub.reference import PACKAGE_DIR
from xjip.hub.synth import (
    AS_OF, INSTITUTES, SYNTHETIC_COLUMN, SYNTHETIC_VALUE, TITLE_PREFIX, UNIVERSITIES, Generator,
    Place, SynthPatent, _address, _between, _person, _pick, iter_patents, shared_data_dir,
)

# Real lenders that finance IP pledges in Xinjiang (banks' own names; branches named after real places).
BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "国家开发银行", "乌鲁木齐银行",
         "昆仑银行", "新疆银行", "新疆天山农村商业银行", "中国邮政储蓄银行")
# Crops bred in Xinjiang, as the plant-variety register names genus or species.
SPECIES = ("棉属", "普通小麦", "玉米", "葡萄属", "苹果属", "番茄", "甜瓜", "西瓜", "向日葵", "红花", "枣属", "核桃属",
           "辣椒属", "梨属", "大豆", "水稻")
CASE_CAUSES = {  # (right, case kind) → causes as case lists print them
    ("patent", "民事"): ("侵害发明专利权纠纷", "侵害实用新型专利权纠纷", "专利权权属纠纷"),
    ("trademark", "民事"): ("侵害商标权纠纷", "不正当竞争纠纷"),
    ("patent", "行政"): ("假冒专利", "专利侵权纠纷行政裁决"),
    ("trademark", "行政"): ("商标侵权", "假冒注册商标"),
    ("patent", "调解"): ("专利侵权纠纷", "专利合同纠纷"),
    ("trademark", "调解"): ("商标侵权纠纷",),
}
# Words Chinese brands are commonly made of, after a real place name ("天山" + "雪").
BRAND_WORDS = ("源", "丰", "鑫", "康", "绿洲", "金", "润", "雪", "情", "红", "香", "缘", "宝", "之星", "印象")
CASE_RESULTS = ("判决停止侵权并赔偿损失", "调解结案", "驳回诉讼请求", "责令停止侵权行为，处以罚款", "撤诉")
WORK_CATEGORIES = ("文字作品", "美术作品", "摄影作品", "视听作品", "图形作品")
# Rights name patents among the first this many of the run: each patent is drawn on its own, so
# these are a random sample of any larger run, and memory stays bounded.
PATENT_POOL = 20_000


@dataclass(frozen=True)
class _GI:
    name: str
    system: str
    prefecture_codes: tuple[str, ...]


def _gis(shared: Path) -> list[_GI]:
    """The real GI names of shared/data (not shipped with the package): none without it, and
    then no special-mark users are generated."""
    out: list[_GI] = []
    path = shared / "gi" / "xinjiang_gi_records.csv"
    if not path.is_file():
        return out
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            codes = tuple(c for c in (row.get("prefecture_codes") or "").split(";") if len(c) == 6)
            if row.get("name_zh") and codes:
                out.append(_GI(row["name_zh"], row["gi_type"], codes))
    return out


def _similar_groups() -> dict[str, list[tuple[str, str]]]:
    """Nice class → [(类似群 code, its goods or services)] (China's 2018 table)."""
    out: dict[str, list[tuple[str, str]]] = {}
    with open(PACKAGE_DIR / "classification" / "cn_similar_groups_2018.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["class"], []).append((row["group_code"], row["group_name"]))
    return out


def _credit_code(rng: random.Random, region: str) -> str:
    """A well-formed unified social credit code (GB 32100-2015) of an enterprise registered in
    `region` (its first 6 digits): 9 1 + region + 9 random characters + the check character."""
    body = "91" + region + "".join(_pick(rng, CREDIT_CHARS) for _ in range(9))
    return body + credit_check_char(body)


def _day(rng: random.Random, start: dt.date, end: dt.date = AS_OF) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=int(rng.random() * (end - start).days))


def _amount(rng: random.Random, median: float, spread: float = 1.0) -> float:
    """Amounts in 10,000 yuan: log-normal (a few large deals, many small)."""
    return round(median * math.exp(rng.gauss(0.0, spread)), 1)


class RightsGenerator:
    """Draws the other rights' rows (deterministic for a seed and a patent run)."""

    def __init__(self, seed: int, patents: int, patent_seed: int, shared: str | os.PathLike[str] | None = None):
        self.shared = Path(shared) if shared else shared_data_dir()
        self.gen = Generator(seed + 7, str(self.shared))  # companies, people and places of their own
        self.rng = random.Random(seed)
        self.patents = list(iter_patents(min(patents, PATENT_POOL), patent_seed, str(self.shared)))
        self.granted = [p for p in self.patents if p.grant_number] or self.patents
        self.owned = [p for p in self.granted if p.applicants[0].kind != "individual"] or self.granted
        self.owned_by: dict[str, list[str]] = {}
        for p in self.owned:
            self.owned_by.setdefault(p.applicants[0].name, []).append(p.app_number)
        self.gis = _gis(self.shared)
        self.groups = _similar_groups()
        vocab = self.gen.vocab
        self.by_prefecture: dict[str, list[Place]] = {}
        for place in vocab.places:
            self.by_prefecture.setdefault(place.prefecture_code, []).append(place)
        self.prefectures = sorted({(p.prefecture_code, p.prefecture) for p in vocab.places if p.prefecture})
        self.serial = 0

    def _next_serial(self) -> int:
        """Numbers unique across the run: natural keys of the records never repeat."""
        self.serial += 1
        return self.serial

    def _company(self) -> tuple[str, str, Place]:
        title = _pick(self.rng, self.gen.vocab.titles)
        company = self.gen._company(title)  # the patent generator's own way of naming a company
        return company.name, company.address, company.place

    def _patent(self, pool: list[SynthPatent]) -> SynthPatent:
        return _pick(self.rng, pool)

    # one row per template column (Chinese headers), plus 合成数据 ------------------------

    def transaction(self) -> dict[str, Any]:
        rng = self.rng
        p = self._patent(self.granted)
        r = rng.random()
        kind = "转让" if r < 0.55 else "许可" if r < 0.9 else "开放许可"
        buyer, address, _ = self._company()
        start = p.grant_date or p.app_date
        date = _day(rng, start)
        row = {"交易类型": kind, "权利类型": "专利", "专利号/注册号": p.app_number,
               "让与人/许可人": p.applicants[0].name, "受让人/被许可人": buyer if kind != "开放许可" else "",
               "受让人地址": address if kind != "开放许可" else "", "生效日期": date.isoformat()}
        if kind != "转让":
            row["许可类型"] = "普通" if kind == "开放许可" else _pick(rng, ("独占", "排他", "普通", "普通"))
            row["终止日期"] = (date + dt.timedelta(days=365 * _between(rng, 1, 5))).isoformat()
        row["金额（万元）"] = _amount(rng, 20 if kind != "转让" else 35)
        row["备案号"] = f"{'X' if kind == '转让' else 'Y'}{date.year}650{self._next_serial():07d}"
        return row

    def pledge(self) -> dict[str, Any]:
        rng = self.rng
        first = self._patent(self.owned)
        owner = first.applicants[0]
        same = [n for n in self.owned_by[owner.name] if n != first.app_number]
        numbers = [first.app_number, *rng.sample(same, min(len(same), _between(rng, 0, 2)))]
        date = _day(rng, first.grant_date or first.app_date)
        end = date + dt.timedelta(days=365 * _between(rng, 1, 3))
        bank = f"{_pick(rng, BANKS)}{owner.place.short}{'分行' if rng.random() < 0.6 else '支行'}"
        return {"质押登记号": f"Y{date.year}650{self._next_serial():07d}", "权利类型": "专利",
                "专利号/注册号": ";".join(numbers), "出质人": owner.name, "质权人": bank,
                "出质人地址": owner.address, "质押金额（万元）": _amount(rng, 300, 1.1),
                "登记日期": date.isoformat(), "到期日期": end.isoformat(),
                "状态": "已解除" if end < AS_OF else "有效"}

    def case(self) -> dict[str, Any]:
        rng = self.rng
        right = "patent" if rng.random() < 0.7 else "trademark"
        p = self._patent(self.owned)
        holder = p.applicants[0]
        defendant, address, place = self._company()
        code, prefecture = self._prefecture_of(place)
        accepted = _day(rng, p.grant_date or p.app_date)
        r = rng.random()
        if r < 0.5:
            kind, authority = "民事", f"{prefecture}中级人民法院"
            number = f"（{accepted.year}）新{int(code[2:4]):02d}知民初{self._next_serial()}号"
        elif r < 0.9:
            kind, authority = "行政", f"{prefecture}市场监督管理局"
            number = f"新{place.short}市监处罚〔{accepted.year}〕{self._next_serial()}号"
        else:
            kind, authority = "调解", f"{prefecture}知识产权纠纷人民调解委员会"
            number = f"新调〔{accepted.year}〕{self._next_serial()}号"
        closed = accepted + dt.timedelta(days=_between(rng, 20, 400))
        row = {"案号": TITLE_PREFIX + number, "案件类型": kind, "权利类型": "专利" if right == "patent" else "商标",
               "案由": _pick(rng, CASE_CAUSES[right, kind]), "原告/权利人": holder.name, "被告/当事人": defendant,
               "办案机关/法院": authority, "地址": address, "受理日期": accepted.isoformat()}
        if closed <= AS_OF:
            row.update({"结案日期": closed.isoformat(), "处理结果": _pick(rng, CASE_RESULTS),
                        "金额（万元）": _amount(rng, 8, 1.2)})
        return row

    def copyright(self) -> dict[str, Any]:
        rng = self.rng
        title = _pick(rng, self.gen.vocab.titles)
        core = _pick(rng, title.cores) if title.cores else _pick(rng, self.gen.vocab.cores)
        owner, address, _ = self._company() if rng.random() < 0.8 else self._university()
        done = _day(rng, dt.date(2016, 1, 1))
        reg = _day(rng, done, min(AS_OF, done + dt.timedelta(days=200)))
        if rng.random() < 0.7:
            return {"登记号": f"{reg.year}SR{self._next_serial():07d}", "登记类型": "计算机软件",
                    "作品/软件名称": f"{TITLE_PREFIX}{core}管理系统V{_between(rng, 1, 3)}.0", "著作权人": owner,
                    "著作权人地址": address, "作者": "", "创作完成日期": done.isoformat(),
                    "首次发表日期": "", "登记日期": reg.isoformat()}
        category = _pick(rng, WORK_CATEGORIES)
        return {"登记号": f"新作登字-{reg.year}-A-{self._next_serial():08d}", "登记类型": "作品",
                "作品/软件名称": f"{TITLE_PREFIX}{core}{category[:-2]}集", "著作权人": owner, "著作权人地址": address,
                "作品类别": category, "作者": ";".join(_person(rng) for _ in range(_between(rng, 1, 3))),
                "创作完成日期": done.isoformat(), "首次发表日期": _day(rng, done, reg).isoformat(),
                "登记日期": reg.isoformat()}

    def plant_variety(self) -> dict[str, Any]:
        rng = self.rng
        owner, address, place = self._institute() if rng.random() < 0.7 else self._company()
        filed = _day(rng, dt.date(2015, 1, 1), dt.date(2023, 12, 31))
        number = f"{filed.year}{self._next_serial():07d}"
        granted = filed + dt.timedelta(days=_between(rng, 500, 1400))
        row = {"申请号": number, "品种名称": f"{TITLE_PREFIX}新{place.short[:1]}{_between(rng, 1, 99)}号",
               "申请人/品种权人": owner, "申请人地址": address, "属或者种": _pick(rng, SPECIES),
               "培育人": ";".join(_person(rng) for _ in range(_between(rng, 1, 4))), "申请日": filed.isoformat()}
        if granted <= AS_OF and rng.random() < 0.6:
            row.update({"品种权号": f"CNA{number}", "授权日": granted.isoformat(), "状态": "授权"})
        else:
            row["状态"] = "审查中"
        return row

    def gi_mark_user(self) -> dict[str, Any]:
        rng = self.rng
        gi = _pick(rng, self.gis)
        places = [p for code in gi.prefecture_codes for p in self.by_prefecture.get(code, ())] or self.gen.vocab.places
        place = _pick(rng, places)
        name = f"{place.short}{gi.name.removeprefix(place.short)}{_pick(rng, ('专业合作社', '农业科技有限公司', '食品有限公司', '农业发展有限公司'))}"
        approved = _day(rng, dt.date(2016, 1, 1))
        row = {"地理标志名称": gi.name, "企业名称": name, "保护类型": gi.system,
               "统一社会信用代码": _credit_code(rng, place.county_code), "企业地址": _address(rng, place),
               "核准日期": approved.isoformat(), "公告号": f"国家知识产权局第{_between(rng, 300, 600)}号公告"}
        if rng.random() < 0.08:
            row["注销日期"] = _day(rng, approved).isoformat()
        return row

    def trademark(self) -> dict[str, Any]:
        rng = self.rng
        owner, address, place = self._company()
        cls = _pick(rng, ("29", "30", "31", "32", "33", "35", "05", "09", "42", "43", "03", "25"))
        group, goods = _pick(rng, self.groups[cls])
        word = f"{place.short}{_pick(rng, BRAND_WORDS)}"
        filed = _day(rng, dt.date(2014, 1, 1), dt.date(2024, 12, 31))
        number = f"{_between(rng, 60, 79)}{self._next_serial():06d}"
        row = {"申请号": number, "商标名称": TITLE_PREFIX + word, "国际分类": cls, "申请人/注册人": owner,
               "申请人地址": address, "申请日期": filed.isoformat(), "商标类型": "普通商标",
               "商标形式": _pick(rng, ("文字", "文字", "组合")), "类似群": group, "商品/服务项目": goods}
        registered = filed + dt.timedelta(days=_between(rng, 240, 420))
        if registered <= AS_OF and rng.random() < 0.8:
            row.update({"注册号": number, "注册日期": registered.isoformat(),
                        "专用权期限截止日": (registered + dt.timedelta(days=3652)).isoformat(), "商标状态": "已注册"})
        else:
            row["商标状态"] = "初审公告" if rng.random() < 0.5 else "驳回"
        return row

    def institutions(self) -> Iterator[dict[str, Any]]:
        """The synthetic patents' agencies, then public-service institutions in some prefectures."""
        rng = self.rng
        for name, code in self.gen.agencies:
            city = next((p for p in self.gen.vocab.places if name.startswith(p.short)), self.gen.vocab.places[0])
            yield {"机构名称": name, "机构类型": "专利代理机构", "统一社会信用代码": _credit_code(rng, city.county_code),
                   "执业许可证号/机构代码": code, "地址": _address(rng, city), "联系人": _person(rng),
                   "成立日期": _day(rng, dt.date(2005, 1, 1), dt.date(2022, 12, 31)).isoformat(),
                   "从业人员数": _between(rng, 3, 40), "执业代理师人数": _between(rng, 1, 12)}
        kinds = (("知识产权服务网点", "知识产权服务工作站"), ("技术与创新支持中心", "技术与创新支持中心（TISC）"),
                 ("知识产权保护中心", "知识产权保护中心"))
        for code, prefecture in self.prefectures:
            if rng.random() < 0.5:
                continue
            kind, suffix = _pick(rng, kinds)
            place = _pick(rng, self.by_prefecture[code])
            yield {"机构名称": f"{TITLE_PREFIX}{prefecture}{suffix}", "机构类型": kind, "地址": _address(rng, place),
                   "联系人": _person(rng), "成立日期": _day(rng, dt.date(2018, 1, 1)).isoformat(),
                   "从业人员数": _between(rng, 2, 15)}

    # helpers --------------------------------------------------------------------------------

    def _prefecture_of(self, place: Place) -> tuple[str, str]:
        if place.prefecture:
            return place.prefecture_code, place.prefecture
        code, name = _pick(self.rng, self.prefectures)
        return code, name

    def _university(self) -> tuple[str, str, Place]:
        name, county = _pick(self.rng, UNIVERSITIES)
        place = self.gen.vocab.by_county_name[county]
        return name, _address(self.rng, place), place

    def _institute(self) -> tuple[str, str, Place]:
        name, county = _pick(self.rng, INSTITUTES + UNIVERSITIES[:3])
        place = self.gen.vocab.by_county_name[county]
        return name, _address(self.rng, place), place


# kind → (share of --rights N, row maker)
KINDS: dict[str, tuple[float, Callable[[RightsGenerator], dict[str, Any]]]] = {
    "trademark": (1.0, RightsGenerator.trademark),
    "gi_mark_user": (0.5, RightsGenerator.gi_mark_user),
    "copyright": (1.0, RightsGenerator.copyright),
    "plant_variety": (0.25, RightsGenerator.plant_variety),
    "transaction": (1.0, RightsGenerator.transaction),
    "pledge": (0.5, RightsGenerator.pledge),
    "case": (0.5, RightsGenerator.case),
}


def write_rights(folder: str | os.PathLike[str], n: int, seed: int = 0, *, patents: int = 2000,
                 patent_seed: int = 2026, shared: str | os.PathLike[str] | None = None) -> dict[str, int]:
    """One template CSV per kind in `folder` (`synthetic_<kind>.csv`, UTF-8 with BOM): `n` rows
    for trademarks, copyrights and transfers/licences, fewer of the rarer kinds, and the
    institutions. Transfers, licences, pledges and cases name synthetic patents of the run
    `patent_seed` of `patents` patents (those `xjip synth --patents N --seed S` writes; among its
    first PATENT_POOL). Returns kind → rows written."""
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = RightsGenerator(seed, max(patents, 50), patent_seed, shared)
    counts: dict[str, int] = {}

    def rows_of(make: Callable[[RightsGenerator], dict[str, Any]], count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield make(gen)

    plans = [(kind, rows_of(make, max(1, round(n * share)))) for kind, (share, make) in KINDS.items()
             if kind != "gi_mark_user" or gen.gis]  # mark users need the real GI names
    plans.append(("institution", gen.institutions()))
    for kind, rows in plans:
        headers = [c.zh for c in SPECS[kind].columns] + [SYNTHETIC_COLUMN]
        path = out_dir / f"synthetic_{kind}.csv"
        count = 0
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, headers)
            writer.writeheader()
            for row in rows:
                unknown = set(row) - set(headers)
                assert not unknown, (kind, unknown)  # a template column renamed: fix the generator
                writer.writerow({**row, SYNTHETIC_COLUMN: SYNTHETIC_VALUE})
                count += 1
        counts[kind] = count
    return counts

