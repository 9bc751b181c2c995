"""Owner-name normalisation (pure) and entity resolution/merge/split on SQLite and PostgreSQL."""
from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xjip.hub import entities
from xjip.hub.entities import EntityError, classify, display_name, merge, name_key, resolve_many, split
from xjip.hub.models import AuditEvent, Entity, EntityAlias
from xjip.hub.store import normalise_url


def _google_assignees(shared_data: Path) -> dict[str, list[str]]:
    path = shared_data / "patents" / "xinjiang_google_patents_facts" / "records.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {r["publication_number"]: r["original_assignee"] + r["current_assignee"] for r in map(json.loads, fh)}


# --- pure functions ------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("新疆金风科技股份有限公司", "新疆金风科技有限公司"),  # same company before/after joint-stock conversion
    ("新疆金风科技股份有限公司", "新疆金風科技股份有限公司"),  # traditional script
    ("新疆天业（集团）有限公司", "新疆天业(集团)有限公司"),
    ("新疆天业（集团）有限公司", "新疆天业集团有限公司"),
    ("新疆大学", " 新 疆 大 学 "),
    ("ＴＡＲＩＭ　ＵＮＩＶＥＲＳＩＴＹ", "Tarim University"),  # full width
    ("Xinjiang Goldwind Science and Technology Co Ltd", "XINJIANG GOLDWIND SCIENCE & TECHNOLOGY CO., LTD."),
    ("Xinjiang Goldwind Science and Technology Co Ltd", "Xinjiang Goldwind Science and Technology Company Limited"),
    ("Apple Inc.", "APPLE INC"), ("Siemens AG", "SIEMENS AG"),
    ("Xinjiang Wisdom Agriculture Group Ltd By Share Ltd", "Xinjiang Wisdom Agriculture Group Co., Ltd."),
    ("830011 新疆乌鲁木齐市北京南路40号附1号中国科学院新疆理化技术研究所", "中国科学院新疆理化技术研究所"),
    ("新疆乌鲁木齐市 新疆大学", "新疆大学"),
    ("三星显示有限公司", "三星显示株式会社"),
])
def test_same_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b) != ""


@pytest.mark.parametrize("a,b", [
    ("新疆天业（集团）有限公司", "新疆天业股份有限公司"),  # group parent ≠ listed subsidiary
    ("特变电工股份有限公司", "特变电工股份有限公司新疆变压器厂"),
    ("新疆特变电工股份有限公司乌鲁木齐分公司", "新疆特变电工股份有限公司"),  # a branch is not the head office
    ("新疆金风科技股份有限公司", "金风科技股份有限公司"),  # a leading region is part of the name
    ("乌鲁木齐市天山区和平商行", "和平商行"),
    ("新疆大学", "新疆农业大学"),
])
def test_different_key(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_keys_of_real_assignees(shared_data: Path) -> None:
    names = _google_assignees(shared_data)
    assert name_key(names["CN105673356B"][0]) == "xinjianggoldwindscienceandtechnology"
    assert name_key(names["CN105673356B"][1]) == "jinfengtechnology"  # current owner: another name, not merged
    assert name_key(names["CN104059672B"][0]) == "xinjiangwisdomagriculturegroup"
    assert classify(names["CN108925901A"][0]) == "university"
    assert classify(names["CN108650899B"][0]) == "institute"
    assert classify(names["CN104059672B"][1]) == "company"
    assert classify(names["CN117837452A"][0]) == "institute"


def test_display_name() -> None:
    assert display_name("新疆天业(集团)有限公司") == "新疆天业（集团）有限公司"
    assert display_name("新疆金風科技股份有限公司") == "新疆金风科技股份有限公司"
    assert display_name("ＸＩＮＪＩＡＮＧ　ＵＮＩＶＥＲＳＩＴＹ") == "XINJIANG UNIVERSITY"
    assert display_name("Xinjiang Goldwind Science and Technology Co.,Ltd (CN)") == \
        "Xinjiang Goldwind Science and Technology Co., Ltd"
    assert display_name("830011新疆乌鲁木齐市北京南路40号附1号中国科学院新疆理化技术研究所") == "中国科学院新疆理化技术研究所"
    assert display_name(" 新 疆 大 学 ") == "新疆大学"


@pytest.mark.parametrize("name,kind", [
    ("新疆金风科技股份有限公司", "company"), ("乌鲁木齐市天山区和平商行", "company"),
    ("新疆天业（集团）有限公司", "company"), ("玛纳斯县农民专业合作社", "company"), ("新疆xx餐厅", "company"),
    ("新疆大学", "university"), ("石河子大学", "university"), ("新疆农业职业技术学院", "university"),
    ("新疆大学科技园有限公司", "company"),
    ("中国科学院新疆理化技术研究所", "institute"), ("新疆农业科学院", "institute"),
    ("新疆维吾尔自治区农业农村厅", "government"), ("乌鲁木齐市市场监督管理局", "government"),
    ("巩留县农业技术推广站", "government"), ("民丰县农林牧兽医局", "government"),
    ("新疆维吾尔自治区人民医院", "hospital"), ("石河子大学医学院第一附属医院", "hospital"),
    ("李保强", "individual"), ("张付春", "individual"), ("买买提·吐尔逊", "individual"),
    ("哈密、吐鲁番哈密瓜协会", "other"),
    ("Tarim University", "university"), ("Apple Inc.", "company"), ("SMITH, John", "individual"),
])
def test_classify(name: str, kind: str) -> None:
    assert classify(name) == kind


def test_empty_names() -> None:
    assert name_key("") == name_key("  ") == name_key("（）") == ""
    assert classify("") == "other"


# --- database ------------------------------------------------------------------------------

@pytest.fixture
def engine(db_url: str):
    eng = create_engine(normalise_url(db_url))
    yield eng
    eng.dispose()


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_resolve_many_creates_once(engine) -> None:
    names = ["新疆金风科技股份有限公司", "新疆金风科技有限公司", "新疆大学", "石河子大学", "李保强", "新疆大学", "", None]
    with Session(engine) as s:
        ids = resolve_many(s, names)
        s.commit()
        assert set(ids) == {"新疆金风科技股份有限公司", "新疆金风科技有限公司", "新疆大学", "石河子大学", "李保强"}
        assert ids["新疆金风科技股份有限公司"] == ids["新疆金风科技有限公司"]
        assert len(set(ids.values())) == 4
        assert (_count(s, Entity), _count(s, EntityAlias)) == (4, 4)
        gold = s.get(Entity, ids["新疆金风科技有限公司"])
        assert (gold.name, gold.name_key, gold.kind) == ("新疆金风科技股份有限公司", "新疆金风科技", "company")
        assert s.get(Entity, ids["李保强"]).kind == "individual"
    with Session(engine) as s:  # second run: nothing new
        again = resolve_many(s, ["新疆金風科技股份有限公司", "新疆大学", "塔里木大学"])
        s.commit()
        assert again["新疆金風科技股份有限公司"] == ids["新疆金风科技股份有限公司"]
        assert again["新疆大学"] == ids["新疆大学"]
        assert (_count(s, Entity), _count(s, EntityAlias)) == (5, 5)


def test_resolve_many_bulk(engine) -> None:
    names = [f"新疆测试{i:04d}科技有限公司" for i in range(1500)]  # more than one IN-chunk
    with Session(engine) as s:
        first = resolve_many(s, names)
        s.commit()
    with Session(engine) as s:
        second = resolve_many(s, names + [n.replace("有限公司", "股份有限公司") for n in names])
        assert _count(s, Entity) == 1500
    assert all(second[n] == first[n] for n in names)
    assert second["新疆测试0007科技股份有限公司"] == first["新疆测试0007科技有限公司"]


def test_savepoint_recovers_from_a_unique_violation(engine) -> None:
    """The mechanism resolve_many relies on when another process wins the race."""
    with Session(engine) as other:
        winner = resolve_many(other, ["新疆天山大学"])["新疆天山大学"]
        other.commit()
    with Session(engine) as s:
        with pytest.raises(IntegrityError):
            with s.begin_nested():
                entities._insert_entities(s, [("新疆天山大学", "新疆天山大学")], "import")
        # the outer transaction is intact and the retry finds the winner's row
        assert entities._insert_one(s, ("新疆天山大学", "新疆天山大学"), "import") == winner
        assert resolve_many(s, ["新疆天山大学", "昌吉学院"])["新疆天山大学"] == winner
        s.commit()
        assert _count(s, Entity) == 2


def test_concurrent_resolve_many_postgresql(engine) -> None:
    """Two sessions insert the same new names; the second blocks on the unique index until the
    first commits, gets the violation, and picks up the first one's ids."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with a database lock; the race is a PostgreSQL one")
    names = [f"并发测试{i:03d}有限公司" for i in range(200)]
    first_done, results, errors = threading.Event(), {}, []

    def worker(tag: str, hold: float) -> None:
        try:
            with Session(engine) as s:
                if tag == "b":
                    first_done.wait(10)
                ids = resolve_many(s, names)
                if tag == "a":
                    first_done.set()
                    threading.Event().wait(hold)  # keep the rows uncommitted while b inserts
                s.commit()
                results[tag] = ids
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=("a", 1.0)), threading.Thread(target=worker, args=("b", 0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert results["a"] == results["b"]
    with Session(engine) as s:
        assert _count(s, Entity) == 200 and _count(s, EntityAlias) == 200


def test_merge_and_split(engine) -> None:
    with Session(engine) as s:
        ids = resolve_many(s, ["新疆金风科技股份有限公司", "Xinjiang Goldwind Science and Technology Co Ltd",
                               "金风科技有限公司", "新疆大学"])
        keep = ids["新疆金风科技股份有限公司"]
        en, short = ids["Xinjiang Goldwind Science and Technology Co Ltd"], ids["金风科技有限公司"]
        moved = merge(s, keep, [en, short], actor="admin")
        s.commit()
        assert moved["keep_id"] == keep and moved["merged_ids"] == sorted([en, short])
        assert sorted(moved["aliases"]) == sorted(["Xinjiang Goldwind Science and Technology Co Ltd", "金风科技有限公司"])
        assert s.get(Entity, en).merged_into == keep and s.get(Entity, short).merged_into == keep
        assert set(s.scalars(select(EntityAlias.entity_id))) == {keep, ids["新疆大学"]}
        event = s.scalars(select(AuditEvent).where(AuditEvent.tag == "hub:entity:merge")).one()
        assert event.actor == "admin" and event.details["merged_ids"] == sorted([en, short])
        # new spellings of the merged names now land on the kept entity
        assert resolve_many(s, ["XINJIANG GOLDWIND SCIENCE & TECHNOLOGY CO., LTD."]).popitem()[1] == keep
        with pytest.raises(EntityError) as err:
            merge(s, keep, [keep], actor="admin")
        assert err.value.code == "merge_self"
        with pytest.raises(EntityError):
            merge(s, ids["新疆大学"], [en], actor="admin")  # already merged

        # split the English alias back out: it returns to the entity merged under that name
        out = split(s, keep, ["Xinjiang Goldwind Science and Technology Co., Ltd."],
                    "Xinjiang Goldwind Science and Technology Co Ltd", actor="admin")
        s.commit()
        assert out["new_entity_id"] == en and s.get(Entity, en).merged_into is None
        assert out["aliases"] == ["Xinjiang Goldwind Science and Technology Co Ltd"]
        assert resolve_many(s, ["Xinjiang Goldwind Science and Technology Co Ltd"]).popitem()[1] == en
        # split into a brand-new entity
        out = split(s, keep, ["金风科技有限公司"], "金风科技（北京）有限公司", actor="admin")
        s.commit()
        new = s.get(Entity, out["new_entity_id"])
        assert new.id not in (keep, en, short) and new.name == "金风科技（北京）有限公司"
        assert s.scalar(select(EntityAlias.entity_id).where(EntityAlias.alias == "金风科技有限公司")) == new.id
        assert s.scalar(select(EntityAlias.source).where(EntityAlias.alias == "金风科技有限公司")) == "split"
        assert _count(s, AuditEvent) == 3
        with pytest.raises(EntityError) as err:
            split(s, keep, ["新疆大学"], "某大学", actor="admin")
        assert err.value.code == "alias_not_owned"
        assert "不是主体" in str(err.value) and "is not an alias" in str(err.value)
        with pytest.raises(EntityError) as err:
            split(s, keep, ["新疆金风科技股份有限公司"], "新疆大学", actor="admin")
        assert err.value.code == "name_taken"
        with pytest.raises(EntityError) as err:
            split(s, keep, [], "x", actor="admin")
        assert err.value.code == "split_empty"
