"""The 3-tier library on both databases: tiers, search, distribution, gaps, audited edits, and a
protected area naming a unit that no longer exists."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from xjip.gi import GIError
from xjip.gi.library import gi_detail, list_gis, update_gi
from xjip.hub import models as m

from .conftest import gi_id


def test_region_tier_lists_every_record_with_distribution(store, gi_loaded) -> None:
    with store.reading() as s:
        data = list_gis(s)
    assert data["total"] == len(gi_loaded.gi_rows) == 93
    assert data["products"] == len({r["name_zh"] for r in gi_loaded.gi_rows}) == 82
    by_pref = {p["code"]: p["count"] for p in data["by_prefecture"]}
    # the data README's counts of rows per prefecture code (a row may carry several codes)
    assert by_pref["652900"] == 14 and by_pref["653100"] == 13 and by_pref["650400"] == 9
    assert sum(c["count"] for c in data["by_category"]) == 93
    assert {c["category"] for c in data["by_category"]} >= {"水果", "畜禽", "粮油"}
    assert len(data["children"]) >= 14


def test_prefecture_and_county_tiers(store, gi_loaded) -> None:
    with store.reading() as s:
        korla_pref = list_gis(s, tier="prefecture", code="652800")
        korla = list_gis(s, tier="county", code="652801")
        aral = list_gis(s, tier="county", code="659002")
    names = {r["name"] for r in korla_pref["items"]}
    assert {"库尔勒香梨", "博斯腾湖鲤鱼", "若羌红枣"} <= names
    assert {r["name"] for r in korla["items"]} >= {"库尔勒香梨"}
    assert "若羌红枣" not in {r["name"] for r in korla["items"]}
    # 库尔勒香梨 certification mark is mapped to 巴州 as a whole: shown apart as prefecture-wide
    assert any(r["name"] == "库尔勒香梨" and r["gi_system"] == "GI_certification_TM" for r in korla["prefecture_wide"])
    assert "库尔勒香梨" in {r["name"] for r in aral["items"]}  # 阿拉尔 659002 is in the GI-product area


def test_search_and_unknown_tier(store, gi_loaded) -> None:
    with store.reading() as s:
        assert {r["name"] for r in list_gis(s, q="葡萄")["items"]} >= {"吐鲁番葡萄", "吐鲁番葡萄干", "和硕葡萄酒"}
        with pytest.raises(GIError) as err:
            list_gis(s, tier="village")
        with pytest.raises(GIError):
            list_gis(s, tier="county", code="999999")
    zh, en = err.value.messages()
    assert "village" in zh and "village" in en and "tier" in en


def test_gaps_are_named_and_filled_with_an_audit_trail(store, gi_loaded) -> None:
    target = gi_id(gi_loaded, "莎车巴旦姆", "PGI_product")
    with store.reading() as s:
        before = gi_detail(s, target)
        gapped = list_gis(s, gaps_only=True)
    assert "announcement_no" in before["gaps"]
    assert target in {r["id"] for r in gapped["items"]}
    with store.session() as s:
        update_gi(s, target, {"announcement_no": "质检总局2011年第X号（测试）", "approval_date": "2011"}, "staff1", "核对公告")
    with store.reading() as s:
        after = gi_detail(s, target)
        events = [(e.actor, e.details) for e in
                  s.execute(select(m.AuditEvent).where(m.AuditEvent.tag == "gi:gi:edit")).scalars()]
    assert "announcement_no" not in after["gaps"] and "approval_date" not in after["gaps"]
    assert after["approval_date_text"] == "2011"
    assert len(events) == 1 and events[0][0] == "staff1"
    assert events[0][1]["before"]["announcement_no"] is None
    assert events[0][1]["after"]["announcement_no"].startswith("质检总局")
    assert after["history"][0]["reason"] == "核对公告"


def test_bad_edits_change_nothing(store, gi_loaded) -> None:
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    with store.reading() as s:
        areas = gi_detail(s, target)["area_codes"]
    for changes, code in [({"approval_date": "2013-02-30"}, "bad_date"), ({"area_codes": "652801;12345"}, "bad_region_code"),
                          ({"area_codes": "652801;652923"}, "region_gone"), ({"name": "x"}, "not_editable"),
                          ({"announcement_no": "x" * 300}, "too_long"), ({"area_codes": "652801;659999"}, "unknown_region")]:
        with pytest.raises(GIError) as err:
            with store.session() as s:
                update_gi(s, target, {"announcement_no": "不应保存", **changes}, "staff1")
        assert err.value.code == code
        zh, en = err.value.messages()
        assert zh and en and zh != en
    with store.reading() as s:
        detail = gi_detail(s, target)
        assert detail["announcement_no"] != "不应保存"
        assert detail["area_codes"] == areas
        assert s.execute(select(m.AuditEvent).where(m.AuditEvent.tag == "gi:gi:edit")).first() is None
    err_gone = None
    try:
        with store.session() as s:
            update_gi(s, target, {"area_codes": "652923"}, "staff1")
    except GIError as exc:
        err_gone = exc
    assert "库车" in err_gone.messages()[0] and "652902" in err_gone.messages()[0]  # the successor is named


def test_area_naming_a_former_unit_is_flagged_with_its_successor(store, gi_loaded) -> None:
    target = gi_id(gi_loaded, "库车小白杏", "AGI")
    with store.session() as s:
        # as an old record would carry it: 库车县 (652923, became 库车市 652902 in 2019)
        s.add(m.GIArea(gi_id=target, region_code="652923", prefecture_code="652900"))
    with store.reading() as s:
        detail = gi_detail(s, target)
    gone = [a for a in detail["areas"] if a["code"] == "652923"][0]
    assert gone["gone"] and gone["name"] == "库车县"
    assert gone["successor"] == {"code": "652902", "name": "库车市"}


def test_names_in_other_languages(store, gi_loaded) -> None:
    with store.reading() as s:
        korla = gi_detail(s, gi_id(gi_loaded, "库尔勒香梨", "PGI_product"))
        urumqi = gi_detail(s, gi_id(gi_loaded, "米泉大米", "GI_unspecified"))
    assert korla["names"]["pinyin"] == "kù ěr lè xiāng lí"
    assert korla["names"]["traditional"] == "庫爾勒香梨"
    assert korla["names"]["en"] == "Korla Fragrant Pear"
    assert korla["names"]["ru"] is None
    assert urumqi["names"]["ug_place"]  # 乌鲁木齐's Uyghur name from the regions data


def test_xpcc_units_name_their_division(store, gi_loaded) -> None:
    with store.reading() as s:
        korla = gi_detail(s, gi_id(gi_loaded, "库尔勒香梨", "PGI_product"))
    aral = [a for a in korla["areas"] if a["code"] == "659002"][0]
    assert aral["name"] == "阿拉尔市" and aral["xpcc_division"] == "第一师"


def test_units_named_in_the_area_text_are_checked_against_the_codes(store, gi_loaded) -> None:
    with store.reading() as s:
        ruoqiang = gi_detail(s, gi_id(gi_loaded, "若羌红枣", "PGI_product"))
        beitun = gi_detail(s, gi_id(gi_loaded, "北屯白斑狗鱼", "AGI"))
    units = {u["text"]: u for u in ruoqiang["text_units"]}
    assert units["若羌镇"]["mapped"] and units["若羌镇"]["county_code"] == "652824"
    # 农二师36团: an XPCC regiment the text names and the codes (652824 only) do not cover
    assert units["农二师36团"]["xpcc_division"] == "第二师" and not units["农二师36团"]["mapped"]
    assert units["瓦石峡乡"]["recognised"] is False
    assert any(u.get("xpcc_division") == "第十师" for u in beitun["text_units"])
