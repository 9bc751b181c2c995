"""xjip.hub.queries on both databases, over the real GI list, regions and CN patent records."""
from __future__ import annotations

import collections

import pytest

from xjip.hub import queries
from xjip.hub.queries import RecordFilters, is_individual, mask_person_name

from .conftest import ReadOnly


def test_overview_counts_match_the_source_files(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        data = queries.overview(s)
    by_type = {t["record_type"]: t for t in data["by_type"]}
    assert by_type["gi"]["total"] == 93 == len(loaded.gi_rows)
    assert by_type["patent"]["total"] == 52 + 6
    assert by_type["institution"] == {"record_type": "institution", "total": 1, "real": 0, "synthetic": 1}
    assert data["total"] == 93 + 58 + 1

    # gi/README "Rows per prefecture code": 阿克苏 14 · 喀什 13 · 伊犁州直 13 · 巴州 10 · 吐鲁番 9 · 昌吉 9 · 和田 9
    prefectures = {r["code"]: r for r in data["by_prefecture"]}
    expected = {"652900": 14, "653100": 13, "654000": 13, "652800": 10, "650400": 9, "652300": 9, "653200": 9,
                "654300": 4, "650100": 3, "650500": 2, "652700": 2, "653000": 2, "654200": 2, "650200": 0}
    assert {code: prefectures[code]["counts"].get("gi", 0) for code in expected} == expected
    assert prefectures["652900"]["name"] == "阿克苏地区"
    assert prefectures["654200"]["administered_by"] == "654000"  # 塔城地区, under 伊犁州
    # XPCC cities are their own rows: 阿拉尔市 (第一师) carries 库尔勒香梨 among others
    assert prefectures["659002"]["kind"] == "xpcc_city" and prefectures["659002"]["xpcc_division"]
    assert prefectures["659002"]["name"] == "阿拉尔市" and prefectures["659002"]["counts"]["gi"] == 2
    # 10 Henan patents (国省代码 河南(41)) are outside Xinjiang; the 48 others have no place
    assert prefectures["other"]["counts"] == {"patent": 10}
    assert prefectures["none"]["counts"]["patent"] == 48
    assert prefectures["650100"]["counts"]["institution"] == 1


def test_overview_years_status_and_quality(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        data = queries.overview(s)
    filing_years = collections.Counter(r["filing_date"][:4] for r in loaded.patent_rows if r.get("filing_date"))
    assert {y["year"]: y["count"] for y in data["by_year"]["patent"]} == {int(k): v for k, v in filing_years.items()}
    assert {y["year"]: y["count"] for y in data["by_year"]["patent"]}[2021] == 8
    full_dates = sum(1 for r in loaded.gi_rows if len(r["approval_date"]) >= 10 and r["approval_date"][4] == "-"
                     and r["approval_date"][7] == "-")
    assert sum(y["count"] for y in data["by_year"]["gi"]) == full_dates
    status = {r["status"]: r["count"] for r in data["by_status"]["patent"]}
    assert status["granted"] == 8 and status["pending"] == 2  # cn_patent_records_small/README: 有权-审定授权 8, 审中 2
    assert {r["status"]: r["count"] for r in data["by_status"]["gi"]}["approved_or_registered"] == 84
    quality = {q["record_type"]: q for q in data["quality"]}
    assert quality["patent"]["missing_date"] == 6  # the Google Patents facts carry no dates
    assert quality["patent"]["unplaced"] == 48
    assert quality["gi"]["unplaced"] == 0 and quality["gi"]["missing_party"] == sum(
        1 for r in loaded.gi_rows if not r["applicant_or_holder"])
    assert quality["institution"]["synthetic"] == 1


def test_keyset_pages_cover_every_record_once_in_date_order(ro: ReadOnly) -> None:
    store = ro.store
    seen, dates, after = [], [], None
    with store.session() as s:
        while True:
            page = queries.list_records(s, "patent", RecordFilters(), page_size=7, after=after)
            assert page["total"] == 58 and len(page["items"]) <= 7
            seen += [item["id"] for item in page["items"]]
            dates += [item["app_date"] for item in page["items"]]
            after = page["next"]
            if after is None:
                break
    assert len(seen) == len(set(seen)) == 58
    dated = [d for d in dates if d is not None]
    assert dated == sorted(dated, reverse=True) and dates[len(dated):] == [None] * 6  # undated last
    assert dates[0].isoformat() == "2023-05-23"  # CN202310605823.6, the newest filing in the file


def test_filters(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    def total(record_type: str, **kw) -> int:  # noqa: ANN003
        with store.session() as s:
            return queries.list_records(s, record_type, RecordFilters(**kw), page_size=1)["total"]

    titles = [r["title"] for r in loaded.patent_rows]
    assert total("patent", year=2021) == 8
    assert total("patent", q="无人机") == sum("无人机" in t for t in titles) == 5
    assert total("patent", q="100%") == 0  # LIKE wildcards in the text are literal
    assert total("patent", kind="utility_model") == sum(r.get("patent_type") == "utility_model" for r in loaded.patent_rows)
    assert total("patent", status="granted") == 8
    assert total("patent", prefecture="other") == 10
    assert total("patent", prefecture="none") == 48
    assert total("patent", missing="date") == 6
    assert total("gi", prefecture="652900") == 14
    assert total("gi", county="652801") == 1  # 库尔勒市: 库尔勒香梨 only
    assert total("gi", prefecture="659002") == 2
    assert total("gi", kind="AGI") == 31  # gi/README: AGI 31
    assert total("institution", synthetic=True) == 1 and total("institution", synthetic=False) == 0
    with store.session() as s:
        page = queries.list_records(s, "gi", RecordFilters(county="652801"))
    assert [i["name"] for i in page["items"]] == ["库尔勒香梨"]


def test_bad_tokens_and_types(ro: ReadOnly) -> None:
    store = ro.store
    with store.session() as s:
        with pytest.raises(queries.BadPageToken):
            queries.list_records(s, "patent", after="not-a-token")
        token = queries.list_records(s, "gi", page_size=5)["next"]
        with pytest.raises(queries.BadPageToken):  # a GI token does not page patents
            queries.list_records(s, "patent", after=token)
        with pytest.raises(queries.UnknownRecordType):
            queries.list_records(s, "nope")
        assert queries.list_records(s, "patent", page_size=10_000)["page_size"] == queries.MAX_PAGE_SIZE


def test_patent_detail_masks_an_individual_applicants_address(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    patent_id = loaded.patents["CN201410513187.5"]  # 脚型量具, applicant 叶建鑫 (a natural person)
    with store.session() as s:
        public = queries.record_detail(s, "patent", patent_id)
        full = queries.record_detail(s, "patent", patent_id, masked=False)
    assert public["title"] == "脚型量具" and public["fields"]["inventors"] == ["叶建鑫"]
    assert public["related"]["parties"][0]["name"] == "叶建鑫"
    assert public["related"]["parties"][0]["address"] is None and public["related"]["parties"][0]["masked"] == ["address"]
    assert full["related"]["parties"][0]["address"] == "325000 浙江省温州市瓯海区巨溪镇河南西路33号"
    assert public["sources"][0]["raw"] is None and "叶建鑫" in full["sources"][0]["raw"]
    assert public["sources"][0]["locator"] == "cn_records_unified.jsonl.gz:#50"


def test_patent_detail_keeps_an_organisations_address_public(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        detail = queries.record_detail(s, "patent", loaded.patents["CN202223220665.2"])
    assert detail["title"] == "一种无人机机载多功能盒"
    party = detail["related"]["parties"][0]
    assert party["name"] == "中科大数据研究院" and party["address"] == "450000河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert detail["fields"]["ipc_main"] == "B64U20/80" and detail["fields"]["province_code"] == "41"
    assert detail["related"]["text"]["claims"][0].startswith("1.一种无人机机载多功能盒")


def test_institution_contacts_are_masked(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        public = queries.record_detail(s, "institution", loaded.institution_id)
        full = queries.record_detail(s, "institution", loaded.institution_id, masked=False)
    assert public["fields"]["phone"] is None and public["fields"]["contact"] is None
    assert set(public["masked"]) >= {"phone", "contact"}
    assert full["fields"]["phone"] == "0991-0000000" and full["masked"] == []


def test_gi_detail_lists_its_areas(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        detail = queries.record_detail(s, "gi", loaded.gis["库尔勒香梨|PGI_product"])
    assert detail["fields"]["announcement_no"] == "国家质检总局2004年第185号公告"
    assert detail["fields"]["approval_date"].isoformat() == "2004-10-05"
    names = {a["name"] for a in detail["related"]["areas"]}
    assert {"库尔勒市", "阿拉尔市", "阿克苏地区", "巴音郭楞蒙古自治州"} <= names


def test_entity_detail_and_search(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        entity = queries.entity_detail(s, loaded.entities["中科大数据研究院"])
        found = queries.list_entities(s, "大数据")
    assert entity["total_rights"] == 10
    assert entity["rights"][0]["record_type"] == "patent" and len(entity["rights"][0]["items"]) == 10
    assert entity["aliases"] == [{"alias": "中科大数据研究院", "source": "import"}]
    assert [e["name"] for e in found["items"]] == ["中科大数据研究院"]


def test_region_tree(ro: ReadOnly) -> None:
    store = ro.store
    with store.session() as s:
        tree = queries.region_tree(s)
    root = tree["root"]
    assert root["name"] == "新疆维吾尔自治区" and len(root["children"]) == 15  # 14 prefectures + XPCC node
    xpcc = next(c for c in root["children"] if c["code"] == "659000")
    assert len(xpcc["children"]) == 12 and all(c["is_xpcc"] for c in xpcc["children"])
    bazhou = next(c for c in root["children"] if c["code"] == "652800")
    assert bazhou["counts"]["gi"] == 10
    korla = next(c for c in bazhou["children"] if c["code"] == "652801")
    assert korla["name"] == "库尔勒市" and korla["counts"]["gi"] == 1
    assert tree["other"]["counts"] == {"patent": 10}


def test_job_detail(ro: ReadOnly) -> None:
    store, loaded = ro.store, ro.loaded
    with store.session() as s:
        job = queries.job_detail(s, loaded.job_id, rejections=1)
        rest = queries.job_detail(s, loaded.job_id, rejections=1, after=job["rejections_next"])
        jobs = queries.list_jobs(s)
    assert job["status"] == "done" and job["percent"] == 100.0 and job["counts"]["rejected"] == 2
    assert job["rejections"][0]["message_zh"] == "日期无效：2023-02-30"
    assert rest["rejections"][0]["code"] == "missing_field" and rest["rejections_next"] is None
    assert jobs["total"] == 1


@pytest.mark.parametrize(("name", "individual"), [
    ("叶建鑫", True), ("王茂庭", True), ("托马斯·L·埃文斯", True), ("Individual", True), ("John Smith", True),
    ("中科大数据研究院", False), ("三星显示有限公司", False), ("含山县东山德雨球墨铸造厂", False), ("浙江大学", False),
    ("Xinjiang Goldwind Science and Technology Co Ltd", False), ("Tarim University", False), ("", True),
])
def test_is_individual(name: str, individual: bool) -> None:
    assert is_individual(name) is individual


def test_entity_kind_overrides_the_name_rule() -> None:
    assert is_individual("叶建鑫", "company") is False
    assert is_individual("某某研究院", "individual") is True


def test_mask_person_name() -> None:
    assert mask_person_name("叶建鑫") == "叶某"
    assert mask_person_name("阿不都·热合曼") == "阿不都·某"
    assert mask_person_name("John Smith") == "J."
