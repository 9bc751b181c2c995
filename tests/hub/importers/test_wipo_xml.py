"""WIPO ST.36 (EPO, JPO gazette) and ST.96 patent documents, on the real examples in
../shared/data/patents/office_xml_examples_st36_st96_jp_us."""
from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import pytest

from xjip.hub.importers import cnipa_xml, wipo_xml
from xjip.hub.importers.base import Source, iter_sources
from xjip.hub.records import Party, PatentRecord, Priority, Rejection, SourceError

FOLDER = "patents/office_xml_examples_st36_st96_jp_us"
EP_A1 = f"{FOLDER}/st36_wipo_examples/st36aexample/DOC00001.xml.gz"
EP_B1 = f"{FOLDER}/st36_wipo_examples/st36bexample/DOC00001.xml.gz"
ST96 = f"{FOLDER}/03-96-vii-example-instances/PatentPublication_Example.xml.gz"
JP1 = f"{FOLDER}/examples/jp_example1.xml.gz"


def raw(shared_data: Path, rel: str) -> bytes:
    return gzip.decompress((shared_data / rel).read_bytes())


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data))


def one(shared_data: Path, rel: str) -> PatentRecord:
    (src,) = iter_sources(shared_data / rel)
    (rec,) = list(wipo_xml.parse(src, {}))
    assert isinstance(rec, PatentRecord), rec
    return rec


def test_ep1667425_a1(shared_data: Path) -> None:
    rec = one(shared_data, EP_A1)
    assert rec.country == "EP" and rec.pub_number == "EP1667425A1" and rec.kind_code == "A1"
    assert rec.pub_date == dt.date(2006, 6, 7) and rec.grant_number is None
    assert rec.app_number == "EP05255002" and rec.app_date == dt.date(2005, 8, 11)  # B210 05255002.7
    assert rec.patent_type == "invention" and rec.language == "en"
    assert rec.title == rec.title_en == "Image forming method and image forming apparatus"
    assert rec.applicants == [Party(name="Wedg Co. Ltd",
                                    address="Minami Ohtsuka Arrow Bldg. 7F, 3-30-3 Minami Ohsuka, Toshima-ku, Tokyo",
                                    country="JP", role="applicant")]
    assert rec.inventors == ["Yoshida, Naoki c/o Wedg Co., Ltd.", "Kasahara, Hiroyuki c/o Wedg Co., Ltd."]
    assert rec.agents == ["Denmark, James Christopher"]
    assert rec.ipc == ["H04N1/40"] and rec.ipc_main == "H04N1/40" and rec.ipc_edition == "2006.01"
    assert rec.priorities == [Priority(number="2004351438", country="JP", date=dt.date(2004, 12, 3))]
    assert len(rec.claims) == 9 and rec.claims[0].startswith("A method of forming an image by thermally transferring")
    assert rec.abstract.startswith("An image with sufficient gray-scale representation and high resolution")
    assert rec.description.startswith("2. BACKGROUND OF THE INVENTION\nFIELD OF THE INVENTION\n")
    assert "EPO <DP" not in rec.description  # page-break comments are not text
    assert rec.raw.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ep-patent-document')


def test_ep1599469_b1_grant(shared_data: Path) -> None:
    rec = one(shared_data, EP_B1)
    assert rec.pub_number == rec.grant_number == "EP1599469B1" and rec.grant_date == dt.date(2006, 6, 7)
    assert rec.app_number == "EP04818324" and rec.app_date == dt.date(2004, 10, 29)
    assert [(p.name, p.role, p.country) for p in rec.applicants] == [
        ("Arena Pharmaceuticals, Inc.", "owner", "US"), ("Merck & Co., Inc.", "owner", "US")]
    assert rec.citations == ["EP529854A", "WO2004032928A"]  # B561 'EP-A- 0 529 854', 'WO-A-20/04032928'
    assert rec.pct_app_number == "PCT/US2004/035927"
    assert rec.family[0].number == "WO2005044816" and rec.family[0].date == dt.date(2005, 5, 19)
    assert rec.ipc == ["C07D403/04", "C07D495/04", "C07D491/04", "A61K31/41"]
    assert rec.priorities == [Priority(number="516238 P", country="US", date=dt.date(2003, 10, 31))]
    # claims exist in en, de and fr: the English ones (publication language) are taken
    assert len(rec.claims) == 40 and rec.claims[0].startswith("A compound of Formula (I):")
    assert len(rec.inventors) == 11 and rec.inventors[0] == "SEMPLE, Graeme"


def test_st96_patent_publication(shared_data: Path) -> None:
    rec = one(shared_data, ST96)
    assert rec.country == "US" and rec.pub_number == "US8936998B2" and rec.pub_date == dt.date(2015, 1, 20)
    assert rec.grant_number == "US8936998B2" and rec.kind_code == "B2"
    assert rec.app_number == "US13797521" and rec.app_date == dt.date(2013, 3, 12)
    assert rec.patent_type == "invention" and rec.language == "en"
    assert rec.title == "Manufcaturing method for room-temperature substrate bonding"  # sic, as published
    assert [p.name for p in rec.applicants if p.role == "applicant"] == [
        "Jun Utsumi", "Takayuki Goto", "Kensuke Ide", "Hideki Takagi", "Masahiro Funayama"]
    assert [p.name for p in rec.applicants if p.role == "assignee"] == [
        "Mitsubishi Heavy Industries, Ltd.", "National Institute of Advanced Industrial Science and Technology"]
    assert rec.agency == "Birch, Stewart, Kolasch & Birch, LLP"
    assert rec.ipc == ["H01L21/30", "H01L21/302", "H01L21/324", "H01L21/20", "H01L23/00", "H01L31/0203"]
    assert rec.ipc_main == "H01L21/30" and rec.ipc_edition == "2006.01"
    assert rec.cpc[0] == "H01L21/2007" and "H01L2224/83099" in rec.cpc
    assert rec.priorities == [Priority(number="2007-290922", country="JP", date=dt.date(2007, 11, 8))]
    assert len(rec.citations) == 17 and rec.citations[0] == "US6054363A"
    assert "US20040235266A1" in rec.citations and "JP2000056265A" in rec.citations
    assert len(rec.claims) == 10
    assert rec.claims[1] == ("2. The device manufacture method according to claim 1, wherein said first surface is "
                             "subject to sputtering after said bonding functional intermediate layer is formed thereon.")
    assert rec.abstract.startswith("A device is provided with: a first substrate mainly containing silicon dioxide")


def test_jpo_gazette(shared_data: Path) -> None:
    rec = one(shared_data, JP1)
    assert rec.country == "JP" and rec.pub_number == "JP2021044377A" and rec.kind_code == "A"
    assert rec.app_number == "JP2019165329" and rec.app_date == dt.date(2019, 9, 11)
    assert rec.pub_date == dt.date(2021, 3, 18) and rec.language == "ja"
    assert rec.title == "ウェーハの加工方法"
    assert rec.applicants == [Party(name="株式会社ディスコ", address="東京都大田区大森北二丁目１３番１１号", country="JP",
                                    role="applicant")]
    assert rec.inventors[0] == "原田 成規" and len(rec.inventors) == 10
    assert rec.agents[0] == "松本 昂" and len(rec.agents) == 5
    assert rec.ipc == ["H01L21/301", "H01L21/67", "H01L21/683", "B23K26/53"] and rec.ipc_edition == "2006.01"
    assert len(rec.claims) == 6 and rec.abstract.startswith("【課題】品質を低下させることなくデバイスチップを形成する。")


def test_sniff(shared_data: Path) -> None:
    scores = {s.name.rsplit("/", 1)[-1]: wipo_xml.sniff(s.head(), s.name)
              for s in iter_sources(shared_data / FOLDER)}
    assert scores["PatentPublication_Example.xml.gz"] == 95
    assert scores["DOC00001.xml.gz"] == 95
    assert scores["jp_example1.xml.gz"] == 90 and scores["2021193879.xml.gz"] == 90
    # not patents (or not mine): ST.96 GI / trademark / design, USPTO, the EPO package table of contents
    for name in ("GIApplication_Example.xml.gz", "TrademarkApplication_Example.xml.gz",
                 "DesignApplication_Example.xml.gz", "us_example1.xml.gz", "toc.xml.gz", "README.md"):
        assert scores[name] == 0, name
    # head cut inside the root start tag, before the namespace declaration: not sure, so no
    assert wipo_xml.sniff(raw(shared_data, ST96)[:70], "x") == 0


def test_mixed_concatenation_and_a_foreign_root(shared_data: Path) -> None:
    gi = raw(shared_data, f"{FOLDER}/03-96-vii-example-instances/GIApplication_Example.xml.gz")
    # The JPO gazette has no XML declaration, so it can only be the first document of a stream.
    data = raw(shared_data, JP1) + b"\n" + raw(shared_data, EP_A1) + b"\n" + gi + b"\n" + raw(shared_data, ST96)
    items = list(wipo_xml.parse(mem(data, "mixed.xml"), {}))
    assert [type(i).__name__ for i in items] == ["PatentRecord", "PatentRecord", "Rejection", "PatentRecord"]
    assert isinstance(items[2], Rejection) and items[2].code == "xml_unexpected_root"
    assert items[2].params == {"tag": "GIApplication"} and items[2].locator.record == 3
    assert [i.country for i in items if isinstance(i, PatentRecord)] == ["JP", "EP", "US"]
    assert items[3].locator.line == data[: data.rindex(b"<?xml ")].count(b"\n") + 1


def test_bad_date_is_located(shared_data: Path) -> None:
    data = raw(shared_data, EP_A1).replace(b"<B220><date>20050811</date>", b"<B220><date>20050231</date>", 1)
    (rej,) = list(wipo_xml.parse(mem(data), {}))
    assert rej.code == "invalid_date" and rej.field == "app_date" and rej.params == {"value": "20050231"}
    assert rej.locator.line == data[: data.index(b"20050231")].count(b"\n") + 1


def test_truncated_and_malformed(shared_data: Path) -> None:
    doc = raw(shared_data, ST96)
    with pytest.raises(SourceError) as err:
        list(wipo_xml.parse(mem(doc[: len(doc) // 3], "cut.xml"), {}))
    assert err.value.rejection.code == "xml_truncated"
    bad = doc.replace(b"</pat:InventionTitle>", b"</pat:InventionTitel>", 1)
    with pytest.raises(SourceError) as err:
        list(wipo_xml.parse(mem(bad, "bad.xml"), {}))
    assert err.value.rejection.code == "xml_malformed"
    assert err.value.rejection.locator.line == bad[: bad.index(b"</pat:InventionTitel>")].count(b"\n") + 1


def test_cnipa_documents_are_not_taken(shared_data: Path) -> None:
    (src,) = iter_sources(shared_data / "patents/cn_cnipa_xml/xml/examples/cn_new1.xml.gz")
    (rej,) = list(wipo_xml.parse(src, {}))
    assert rej.code == "xml_unexpected_root" and rej.params == {"tag": "PatentDocumentAndRelated"}
    assert cnipa_xml.sniff(raw(shared_data, EP_A1), "x") == 0
