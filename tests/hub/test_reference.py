"""Reference loaders on a real SQLite file and a throwaway PostgreSQL database, real data."""
from __future__ import annotations

import csv
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from xjip.hub import reference
from xjip.hub.gazetteer import Gazetteer
from xjip.hub.models import (
    Base, IpcClass, IpcSei, Law, LawArticle, NiceClass, Region, RegionAlias, RegionPopulation, SeiIndustry, SeiRule,
    SimilarGroup, SimilarItem,
)
from xjip.hub.reference import ReferenceDataError, load_all, split_articles

PG_HOST = "host=127.0.0.1 port=5432 user=postgres"


def _pg_engine() -> Iterator[Engine]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(f"{PG_HOST} dbname=postgres", autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means no server
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 (user postgres): {str(exc).splitlines()[0]}")
    name = f"xjip_ref_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           shared_data: Path) -> Iterator[tuple[Engine, dict, dict, float, float]]:
    """Schema from the models, then load_all twice: (engine, first counts, second counts, seconds…)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("ref") / "reference.db"
        engines: Iterator[Engine] = iter([create_engine(f"sqlite:///{path}")])
    else:
        engines = _pg_engine()
    engine = next(engines)
    Base.metadata.create_all(engine)
    timings, results = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        with Session(engine) as session:
            results.append(load_all(session, shared_data))
            session.commit()
        timings.append(time.perf_counter() - t0)
    yield engine, results[0], results[1], timings[0], timings[1]
    if request.param == "sqlite":
        engine.dispose()
    else:
        next(engines, None)


def test_counts_and_idempotence(loaded) -> None:
    engine, first, second, t1, t2 = loaded
    print(f"\n{engine.dialect.name}: load_all {t1:.1f}s, again {t2:.1f}s")
    assert first["region"]["inserted"] == 126 + 12  # CSV rows + the 12 former units
    assert first["ipc_class"]["inserted"] == 80_913  # 77,226 zh ∪ 75,287 en codes
    assert first["ipc_sei"]["inserted"] == 34_598
    assert first["sei_rule"]["inserted"] == 321 and first["sei_industry"]["inserted"] == 40
    assert first["nice_class"]["inserted"] == 45 and first["similar_group"]["inserted"] == 491
    assert first["similar_item"]["inserted"] == 11_230
    assert first["law"]["inserted"] == 33
    for table, counts in second.items():
        assert counts["inserted"] == 0 and counts["updated"] == 0, table
        assert counts["unchanged"] == first[table]["inserted"], table
    if engine.dialect.name == "sqlite":
        assert t1 < 30


def test_regions(loaded) -> None:
    engine = loaded[0]
    with Session(engine) as s:
        shz = s.scalars(select(Region).where(Region.code == "659001")).one()
        assert (shz.name_zh, shz.is_xpcc, shz.xpcc_division, shz.prefecture_code, shz.level) == \
            ("石河子市", True, "第八师", "659000", 3)
        assert s.scalars(select(Region).where(Region.code == "654200")).one().administered_by == "654000"
        kuche = s.scalars(select(Region).where(Region.code == "652923")).one()
        assert (kuche.name_zh, kuche.valid_to) == ("库车县", dt.date(2019, 12, 20))
        assert s.scalars(select(Region).where(Region.code == "653228")).one().valid_from == dt.date(2024, 12, 27)
        assert s.scalar(select(func.count()).select_from(Region).where(Region.is_xpcc.is_(True))) == 12

        def alias(text: str, kind: str) -> set[str]:
            return set(s.scalars(select(RegionAlias.code).where(RegionAlias.alias == text, RegionAlias.kind == kind)))

        assert alias("库车县", "former") == {"652902"}
        assert alias("金银川镇", "township") == {"659002100"}
        assert alias("一二一团", "xpcc_regiment") == {"654203503"}
        assert alias("农八师", "xpcc_division") == {"659001"}
        assert alias("乌市", "short") == {"650100"}
        assert alias("kashgar", "latin") == {"653100"}
        townships = s.scalar(select(func.count(func.distinct(RegionAlias.code))).where(RegionAlias.kind == "township"))
        assert townships == 1405


def test_gazetteer_from_session_matches_from_shared(loaded, shared_data: Path) -> None:
    from tests.hub.test_gazetteer import ADDRESSES

    shared = Gazetteer.from_shared(shared_data)
    with Session(loaded[0]) as s:
        stored = Gazetteer.from_session(s)
    towns = [r["name_zh"] for r in csv.DictReader(open(shared_data / "regions" / "xinjiang_townships.csv",
                                                       encoding="utf-8"))]
    samples = [a for a, _ in ADDRESSES] + towns + [f"新疆{t}" for t in towns[::7]]
    for day in (None, dt.date(2005, 1, 1), dt.date(2010, 5, 1), dt.date(2016, 6, 1), dt.date(2020, 6, 1)):
        for address in samples:
            assert stored.resolve(address, day) == shared.resolve(address, day), (address, day)
    assert stored.names("659001") == shared.names("659001")
    assert [u.code for u in stored.prefectures()] == [u.code for u in shared.prefectures()]


def test_population(loaded) -> None:
    with Session(loaded[0]) as s:
        def persons(code: str, year: int, indicator: str = "census2020_resident_population") -> int:
            return s.scalars(select(RegionPopulation.persons).where(
                RegionPopulation.code == code, RegionPopulation.year == year,
                RegionPopulation.indicator == indicator)).one()

        assert persons("650000", 2020) == 25_852_345
        assert persons("652700", 2020) == 488_198  # persons row beats the superseded 47.85万
        assert persons("650000", 2010, "census2010_resident_population") == 21_813_334
        assert persons("650200", 2024, "year_end_resident_population") == 492_900  # 49.29万 converted
        census = s.scalars(select(RegionPopulation.persons).where(
            RegionPopulation.year == 2020, RegionPopulation.indicator == "census2020_resident_population",
            RegionPopulation.code.in_(["650100", "650200", "650400", "650500", "652300", "652700", "652800", "652900",
                                       "653000", "653100", "653200", "654000", "654200", "654300", "659000"]))).all()
        assert len(census) == 15 and sum(census) == 25_852_345
        note = s.scalars(select(RegionPopulation.scope_note).where(
            RegionPopulation.code == "650200", RegionPopulation.year == 2024)).one()
        assert "万人" in note


def test_ipc_and_sei(loaded) -> None:
    with Session(loaded[0]) as s:
        a01b = s.get(IpcClass, "A01B")
        assert a01b.level == "subclass"
        assert a01b.title_zh.startswith("农业或林业的整地；一般农业机械或农具的部件")
        assert a01b.title_en.startswith("SOIL WORKING IN AGRICULTURE OR FORESTRY")
        assert (a01b.edition_zh, a01b.edition_en) == ("2026.01", "2019.01")
        assert s.get(IpcClass, "A01B1/00").title_zh.startswith("手动工具")
        h01l = s.get(IpcClass, "H01L")  # gone from IPC 2026.01, still in the 2019 English table
        assert h01l.title_zh is None and h01l.edition_zh is None and h01l.edition_en == "2019.01"
        h10 = s.get(IpcClass, "H10B")
        assert h10.title_en is None and h10.edition_zh == "2026.01"
        assert s.get(SeiIndustry, "1.1").name_zh == "下一代信息网络产业"
        assert s.get(SeiRule, 33).sei_code and s.get(SeiRule, 2).data["keywords"] == "计算机和辅助设备修理。"
        rules = set(s.scalars(select(IpcSei.rule_id).where(IpcSei.ipc_code == "H01M10/0525")))
        assert rules == {223}
        assert set(s.scalars(select(IpcSei.rule_id).where(IpcSei.ipc_code == "A01B"))) == {33}


def test_nice_and_similar(loaded) -> None:
    with Session(loaded[0]) as s:
        c30 = s.get(NiceClass, "30")
        assert c30.kind == "goods"
        assert c30.heading_zh.startswith("咖啡，茶，可可和咖啡代用品；米；食用淀粉和西米")
        assert c30.heading_en.startswith("Coffee, tea, cocoa and artificial coffee; Rice;")
        assert s.get(NiceClass, "35").kind == "services"
        g = s.get(SimilarGroup, "3001")
        assert (g.nice_class, g.name_zh, g.edition) == ("30", "咖啡，咖啡代用品，可可", "2018")
        coffee = s.scalars(select(SimilarItem).where(SimilarItem.item_code == "300026")).one()
        assert (coffee.name_zh, coffee.group_code, coffee.cn_supplementary) == ("咖啡", "3001", False)
        assert s.scalar(select(func.count()).select_from(SimilarItem).where(SimilarItem.nice_class == "30")) == 381
        assert s.scalar(select(func.count()).select_from(SimilarItem).where(SimilarItem.cn_supplementary.is_(True))) \
            == 1962


def test_laws(loaded, shared_data: Path) -> None:
    index = list(csv.DictReader(open(shared_data / "legal" / "index.csv", encoding="utf-8")))
    with Session(loaded[0]) as s:
        patent = s.scalars(select(Law).where(Law.key == "中华人民共和国专利法@2020-10-17")).one()
        assert (patent.category, patent.version_date) == ("law", dt.date(2020, 10, 17))
        articles = s.scalars(select(LawArticle).where(LawArticle.law_id == patent.id).order_by(LawArticle.seq)).all()
        assert len(articles) == 82
        a22 = articles[21]
        assert (a22.number, a22.chapter) == ("第二十二条", "第二章 授予专利权的条件")
        assert a22.text.startswith("授予专利权的发明和实用新型，应当具备新颖性、创造性和实用性。")
        assert "新颖性，是指该发明或者实用新型不属于现有技术" in a22.text
        assert articles[-1].number == "第八十二条"
        for row in index:
            law = s.scalars(select(Law).where(Law.title == row["title"])).one()
            n = s.scalar(select(func.count()).select_from(LawArticle).where(LawArticle.law_id == law.id))
            if int(row["article_count"]):
                assert n == int(row["article_count"]), row["title"]
        reply = s.scalars(select(Law).where(Law.title.like("%涉网络知识产权侵权纠纷%"))).one()
        items = s.scalars(select(LawArticle).where(LawArticle.law_id == reply.id).order_by(LawArticle.seq)).all()
        assert [a.number for a in items] == ["一", "二", "三", "四", "五", "六"] and reply.version_date is None
        tm = s.scalars(select(Law).where(Law.title == "中华人民共和国商标法")).one()
        assert s.scalar(select(func.count()).select_from(LawArticle).where(LawArticle.law_id == tm.id)) == 73


def test_split_articles_sections() -> None:
    text = "# 法\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n### 第一节 一般规定\n\n第一条 甲。\n\n乙。\n\n## 第二章 其他\n\n第二条 丙。\n"
    assert split_articles(text) == [
        {"seq": 1, "number": "第一条", "chapter": "第一章 总则/第一节 一般规定", "text": "甲。\n乙。"},
        {"seq": 2, "number": "第二条", "chapter": "第二章 其他", "text": "丙。"},
    ]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s, pytest.raises(ReferenceDataError) as err:
        reference.load_regions(s, tmp_path)
    assert err.value.code == "missing_file"
    assert "参考数据文件不存在" in str(err.value) and "Reference data file not found" in str(err.value)
    assert "xinjiang_admin_divisions.csv" in str(err.value)
    engine.dispose()
