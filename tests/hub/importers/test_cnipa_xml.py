"""CNIPA full-text XML (legacy cn-patent-document and V2.2.1), on the 9 real documents in
../shared/data/patents/cn_cnipa_xml, checked field by field against the reference JSONL there."""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from xjip.hub.importers import cnipa_xml, wipo_xml
from xjip.hub.importers.base import Source, iter_sources
from xjip.hub.numbers import canonical_cn_app, canonical_ipc
from xjip.hub.records import Party, PatentRecord, Priority, Rejection, SourceError

FOLDER = "patents/cn_cnipa_xml"
NEW1 = f"{FOLDER}/xml/examples/cn_new1.xml.gz"
NEW3 = f"{FOLDER}/xml/examples/cn_new3.xml.gz"
OLD1 = f"{FOLDER}/xml/examples/cn_old1.xml.gz"
OLD2 = f"{FOLDER}/xml/examples/cn_old2.xml.gz"


def raw(shared_data: Path, rel: str) -> bytes:
    return gzip.decompress((shared_data / rel).read_bytes())


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data))


def parse_all(source: Source) -> list:
    return list(cnipa_xml.parse(source, {}))


def one(shared_data: Path, rel: str) -> PatentRecord:
    (src,) = iter_sources(shared_data / rel)
    (rec,) = parse_all(src)
    assert isinstance(rec, PatentRecord), rec
    return rec


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def test_v2_cn113781974a(shared_data: Path) -> None:
    rec = one(shared_data, NEW1)
    assert rec.pub_number == "CN113781974A" and rec.kind_code == "A" and rec.pub_date == dt.date(2021, 12, 10)
    assert rec.app_number == "CN202111286633.X" and rec.app_date == dt.date(2017, 4, 24)
    assert rec.patent_type == "invention" and rec.grant_number is None
    assert rec.title == "显示设备" and rec.language == "zh" and rec.country == "CN"
    assert rec.abstract.startswith("公开了一种显示设备。显示设备包括排列成多行和多列的多个像素")
    assert rec.applicants == [Party(name="三星显示有限公司", address="韩国京畿道", country="KR", role="applicant")]
    assert rec.inventors == ["金驲柱", "田武经", "李安洙"]
    assert rec.agency == "北京英赛嘉华知识产权代理有限责任公司"  # agency code 11204 stripped
    assert rec.agents == ["王达佐", "刘铮"]
    assert rec.ipc == ["G09G3/36", "G09G3/3208", "G09G3/34"]
    assert rec.ipc_main == "G09G3/36" and rec.ipc_edition == "2006.01"
    assert rec.priorities == [Priority(number="10-2016-0063019", country="KR", date=dt.date(2016, 5, 23))]
    assert len(rec.claims) == 17
    assert rec.claims[1] == "2.如权利要求1所述的显示设备，其中，所述k个像素位于所述第m行中。"
    assert rec.description.startswith("相关申请的交叉引用\n于2016年5月23日提交的发明名称为“显示设备”")
    assert rec.locator.file == "cn_new1.xml.gz" and (rec.locator.record, rec.locator.line) == (1, 1)
    assert rec.raw.startswith('<?xml version="1.0" encoding="utf-8"') and "<base:DocNumber>202111286633.X<" in rec.raw


def test_legacy_cn104223352a(shared_data: Path) -> None:
    rec = one(shared_data, OLD1)
    assert rec.pub_number == "CN104223352A" and rec.pub_date == dt.date(2014, 12, 24)
    assert rec.app_number == "CN201410408762.5" and rec.app_date == dt.date(2014, 8, 19)
    assert rec.patent_type == "invention"  # appl-type="发明专利"
    assert rec.title == "一种甘草发酵所得烟用香料及其应用"
    # leading postcode 650231 stripped from the address
    assert rec.applicants == [Party(name="云南中烟工业有限责任公司", address="云南省昆明市五华区红锦路367号云烟科技园C区",
                                    country="CN", role="applicant")]
    assert rec.inventors[:3] == ["段焰青", "者为", "李青青"] and len(rec.inventors) == 8
    assert rec.agency == "昆明协立知识产权代理事务所(普通合伙)" and rec.agents == ["谢嘉", "旃习涵"]
    assert rec.ipc == ["A24B15/18", "C11B9/00", "C12P1/02", "C12R1/645"] and rec.ipc_edition == "2006.01"
    assert len(rec.claims) == 3 and rec.claims[1] == "2.根据权利要求1所述的甘草发酵所得烟用香料，其特征在于：所述的甘草物料与水的质量比优选为1:20。"
    # the biological-deposit block is not abstract prose
    assert rec.abstract.endswith("具有良好的应用前景。") and "2012.10.08" not in rec.abstract
    assert rec.raw.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet')  # BOM not kept in text


def test_legacy_line_wrapped_claims_and_second_applicant_without_address(shared_data: Path) -> None:
    rec = one(shared_data, OLD2)
    assert rec.claims[0].startswith("1.一种用于对包含于人造草坪的填充材料进行重复利用的筛选方法，该方法为用于")
    assert rec.applicants[1] == Party(name="盛源立赛科株式会社", address=None, country=None, role="applicant")
    assert rec.applicants[0].country == "KR"
    assert rec.pct_app_number == "PCT/KR2014/002669"
    assert [(f.number, f.date) for f in rec.family] == [("WO2014157990", dt.date(2014, 10, 2))]
    assert len(rec.priorities) == 6 and rec.priorities[-1].number == "10-2013-0138117"


def test_pct_national_phase_appltype_11(shared_data: Path) -> None:
    rec = one(shared_data, NEW3)
    assert rec.app_number == "CN202180002433.9" and rec.patent_type == "invention"
    assert rec.pct_app_number == "PCT/US2021/019468"
    assert rec.family[0].number == "WO2021173713" and rec.family[0].date == dt.date(2021, 9, 2)
    # only the original-format priorities, not their 'standard' duplicates
    assert [p.number for p in rec.priorities][:2] == ["62/982,670", "62/994,206"] and len(rec.priorities) == 8
    assert len(rec.claims) == 111
    assert rec.applicants[0].address == "美国马萨诸塞州" and rec.applicants[0].country == "US"


def test_all_nine_match_reference_jsonl(shared_data: Path) -> None:
    ref = {}
    with gzip.open(shared_data / FOLDER / "cn_cnipa_xml_parsed.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            ref[d["publication_number"]] = d
    recs = [r for src in iter_sources(shared_data / FOLDER / "xml") for r in parse_all(src)]
    assert len(recs) == 9 and all(isinstance(r, PatentRecord) for r in recs)
    for r in recs:
        d = ref[r.pub_number]
        assert r.app_number == canonical_cn_app(d["application_number"])
        assert f"{r.app_date:%Y%m%d}" == d["filing_date"] and f"{r.pub_date:%Y%m%d}" == d["publication_date"]
        assert r.title == d["title"]
        assert r.ipc == [canonical_ipc(x) for x in d["ipc"]]
        assert [a.name for a in r.applicants] == [a["name"] for a in d["applicants"]]
        assert [a.address for a in r.applicants] == [cnipa_xml.strip_postcode(a["address"]) for a in d["applicants"]]
        assert r.inventors == d["inventors"] and r.agents == d["agents"]
        assert [r.agency] == [cnipa_xml.agency_name(a) for a in d["agency"]]
        assert [squash(c) for c in r.claims] == [squash(c) for c in d["claims"]]
        if "2012.10.08" not in d["abstract"]:
            assert squash(r.abstract) == squash(d["abstract"])
        for p in r.priorities:
            assert f"{p.country} {p.number} {p.date:%Y%m%d}" in d["priority_claims"]


def test_standard_number_maps_to_canonical(shared_data: Path) -> None:
    # the three (original, standard) pairs of the real V2.2.1 documents
    assert cnipa_xml.app_from_standard("102021001286633") == "CN202111286633.X"
    assert cnipa_xml.app_from_standard("112021000002433") == "CN202180002433.9"
    assert cnipa_xml.app_from_standard("102015000481495") == "CN201510481495.9"
    # a document that only has the standard form gets the same canonical number
    data = raw(shared_data, NEW1)
    only_std = re.sub(rb'<business:ApplicationReference applType="10" dataFormat="original"'
                      rb".*?</business:ApplicationReference>", b"", data, count=1, flags=re.S)
    assert b"202111286633.X" not in only_std
    (rec,) = parse_all(mem(only_std))
    assert rec.app_number == "CN202111286633.X" and rec.app_date == dt.date(2017, 4, 24)


def test_wrong_check_digit_is_a_located_rejection(shared_data: Path) -> None:
    data = raw(shared_data, NEW1).replace(b">202111286633.X<", b">2021112866331<")  # 13 digits, X expected
    (rej,) = parse_all(mem(data, "bad.xml"))
    assert isinstance(rej, Rejection) and rej.code == "check_digit" and rej.field == "app_number"
    assert rej.params == {"value": "2021112866331", "expected": "202111286633.X"}
    assert rej.locator.line == data[: data.index(b">2021112866331<")].count(b"\n") + 1
    assert "2021112866331" in rej.raw


def test_original_and_standard_disagree(shared_data: Path) -> None:
    data = raw(shared_data, NEW1).replace(b">102021001286633<", b">102021001286634<")
    (rej,) = parse_all(mem(data))
    assert rej.code == "app_number_mismatch"
    assert rej.params == {"original": "202111286633.X", "standard": "102021001286634"}


def test_concatenated_file_with_a_bad_record_in_the_middle(shared_data: Path) -> None:
    good1, good2 = raw(shared_data, NEW1), raw(shared_data, OLD1)
    bad = raw(shared_data, OLD2).replace(b"</invention-title>", b"</invention-titel>", 1)
    data = good1 + b"\n" + bad + b"\n" + good2
    items = parse_all(mem(data, "weekly.xml"))
    assert [type(i).__name__ for i in items] == ["PatentRecord", "Rejection", "PatentRecord"]
    assert [i.locator.record for i in items] == [1, 2, 3]
    assert items[1].code == "xml_malformed"
    assert items[1].locator.line == data[: data.index(b"</invention-titel>")].count(b"\n") + 1
    assert items[2].pub_number == "CN104223352A"
    assert items[2].locator.line == data[: data.rindex(b"<?xml ")].count(b"\n") + 1


def test_truncated_file(shared_data: Path) -> None:
    data = raw(shared_data, NEW1) + b"\n" + raw(shared_data, OLD1)[:5000]
    out = []
    with pytest.raises(SourceError) as err:
        for item in cnipa_xml.parse(mem(data, "cut.xml"), {}):
            out.append(item)
    assert [r.pub_number for r in out] == ["CN113781974A"]
    assert err.value.rejection.code == "xml_truncated" and err.value.rejection.locator.record == 2


def test_entity_payloads_refused(shared_data: Path) -> None:
    doc = raw(shared_data, OLD1)
    decl_end = doc.index(b"?>") + 2
    for dtd in (b'<!DOCTYPE cn-patent-document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
                b'<!DOCTYPE cn-patent-document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'):
        data = doc[:decl_end] + b"\n" + dtd + doc[decl_end:].replace(b"<name>", b"<name>&x;&b;", 1)
        with pytest.raises(SourceError) as err:
            parse_all(mem(data, "evil.xml"))
        assert err.value.rejection.code == "xml_entities_forbidden"
        assert err.value.rejection.locator.file == "evil.xml" and err.value.rejection.locator.record == 1


def test_empty_file() -> None:
    with pytest.raises(SourceError) as err:
        parse_all(mem(b"", "empty.xml"))
    assert err.value.rejection.code == "empty_file"


def test_gzip_and_zip_with_two_documents(shared_data: Path, tmp_path: Path) -> None:
    a, b = raw(shared_data, NEW1), raw(shared_data, OLD1)
    gz = tmp_path / "two.xml.gz"
    gz.write_bytes(gzip.compress(a + b"\n" + b))
    zp = tmp_path / "two.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("docs/cn_new1.xml", a)
        zf.writestr("docs/cn_old1.xml", b)
    (gz_src,) = iter_sources(gz)
    assert cnipa_xml.sniff(gz_src.head(), gz_src.name) > 0
    assert [(r.pub_number, r.locator.record) for r in parse_all(gz_src)] == [("CN113781974A", 1), ("CN104223352A", 2)]
    zip_sources = list(iter_sources(zp))
    assert [s.name for s in zip_sources] == ["two.zip!/docs/cn_new1.xml", "two.zip!/docs/cn_old1.xml"]
    recs = [r for s in zip_sources for r in parse_all(s)]
    assert [r.pub_number for r in recs] == ["CN113781974A", "CN104223352A"]
    assert recs[1].locator.file == "two.zip!/docs/cn_old1.xml"


def test_sniff_on_real_files(shared_data: Path) -> None:
    for src in iter_sources(shared_data / FOLDER / "xml"):
        assert cnipa_xml.sniff(src.head(), src.name) >= 95
        assert wipo_xml.sniff(src.head(), src.name) == 0
    others = shared_data / "patents/office_xml_examples_st36_st96_jp_us"
    for src in iter_sources(others):
        assert cnipa_xml.sniff(src.head(), src.name) == 0
    assert cnipa_xml.sniff(b"", "x.xml") == 0


def test_gbk_encoded_document_declared_gb2312(shared_data: Path) -> None:
    # Re-encode a real document the way older CNIPA/agency exports do: declared GB2312, holding a
    # character outside GB2312 (堃 is GBK/GB18030 only).
    text = raw(shared_data, OLD1).decode("utf-8-sig").replace('encoding="UTF-8"', 'encoding="GB2312"', 1)
    text = text.replace("<name>叶灵</name>", "<name>叶堃</name>")
    (rec,) = parse_all(mem(text.encode("gb18030"), "gbk.xml"))
    assert "叶堃" in rec.inventors and rec.applicants[0].name == "云南中烟工业有限责任公司"
    assert 'encoding="GB2312"' in rec.raw and "叶堃" in rec.raw


def test_address_helpers() -> None:
    assert cnipa_xml.country_of_address("650231 云南省昆明市") == "CN"
    assert cnipa_xml.country_of_address("新疆乌鲁木齐市") == "CN"
    assert cnipa_xml.country_of_address("中国台湾新竹市") == "TW"
    assert cnipa_xml.country_of_address("日本京都府") == "JP"
    assert cnipa_xml.country_of_address("Somewhere") is None
    assert cnipa_xml.strip_postcode("830000 新疆乌鲁木齐市") == "新疆乌鲁木齐市"
