"""USPTO full-text importer on the real fixtures in ../shared/data/patents/us_uspto_xml
(weekly ipg files, v4.0–v4.5 grants and applications, ST.32 PATDOC, pap, APS greenbook)."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import pytest

from xjip.hub.importers.base import iter_sources
from xjip.hub.importers.uspto_xml import (
    cited_number,
    ipc_code,
    pct_number,
    uspto_xml,
    us_app_number,
    us_pub_number,
    wo_number,
)
from xjip.hub.numbers import canonical_ipc
from xjip.hub.records import PatentRecord, Rejection, SourceError
from xjip.i18n import catalogue

US = "patents/us_uspto_xml"
PV = f"{US}/patentsview_db_fixtures"
PPD = f"{US}/uspto_patentpublicdata_samples"
WEEKLY = ["ipg050104", "ipg060103", "ipg070102", "ipg080101", "ipg090106", "ipg100105", "ipg110104",
          "ipg120103", "ipg130416"]


def parse(path: Path) -> list[PatentRecord | Rejection]:
    (source,) = list(iter_sources(path))
    return list(uspto_xml.parse(source, {}))


def records(path: Path) -> list[PatentRecord]:
    items = parse(path)
    assert not [i for i in items if isinstance(i, Rejection)]
    return items  # type: ignore[return-value]


def one(shared_data: Path, rel: str) -> PatentRecord:
    (rec,) = records(shared_data / rel)
    return rec


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- v4.x grants --------------------------------------------------------------------

def test_design_grant_ipg120327_two(shared_data: Path) -> None:
    first, second = records(shared_data / f"{PV}/xml/ipg120327.two.xml.gz")
    assert first.country == "US"
    assert first.grant_number == "USD656308S1" and first.kind_code == "S1"
    assert first.grant_date == dt.date(2012, 3, 27) and first.status == "granted"
    # designs are never pre-published: the grant is also the publication
    assert first.pub_number == "USD656308S1" and first.pub_date == dt.date(2012, 3, 27)
    assert first.app_number == "US29379369" and first.app_date == dt.date(2010, 11, 18)
    assert first.patent_type == "design"
    assert first.title == "Replaceable cartridge for a pain management system"
    owner = first.applicants[0]
    assert (owner.name, owner.address, owner.country, owner.role) == (
        "OrthoCor Medical, Inc.", "Minneapolis, MN", "US", "assignee")
    assert first.inventors == ["Sham, Kin-Joe"]
    assert first.agency == "Schwegman, Lunberg & Woessner, P.A."
    assert len(first.claims) == 1
    assert first.claims[0].startswith("The ornamental design for the replaceable cartridge")
    assert first.ipc == [] and first.ipc_main is None  # a design carries a Locarno class, no IPC
    assert first.citations == ["USD621603S", "USD630009S", "USD641970S", "USD645657S"]
    assert first.locator is not None and (first.locator.record, first.locator.line) == (1, 1)
    assert first.raw.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "D0656308" in first.raw
    assert "USD0656309" not in first.raw  # raw is this document only

    assert second.grant_number == "USD656309S1" and second.locator.record == 2
    assert second.locator.line == 257
    assert second.applicants[0].name == "Zero1.tv GmbH" and second.applicants[0].country == "DE"
    assert second.applicants[0].address == "Berlin"
    assert "US6176401B1" in second.citations


def test_utility_grant_v42_with_ipc_priority_and_pre_grant_publication(shared_data: Path) -> None:
    recs = {r.grant_number: r for r in records(shared_data / f"{PV}/ipgxml/ipg080101.small.xml.gz")}
    canon = recs["US7314069B2"]
    assert canon.title.startswith("Fuel container, fuel supply method")
    assert canon.app_number == "US11005072"
    assert canon.pub_number == "US20050189035A1" and canon.pub_date == dt.date(2005, 9, 1)
    assert canon.grant_date == dt.date(2008, 1, 1)
    assert canon.ipc == ["B65B1/04"] and canon.ipc_main == "B65B1/04" and canon.ipc_edition == "2006.01"
    assert canon.applicants[0].name == "Canon Kabushiki Kaisha"
    assert (canon.applicants[0].address, canon.applicants[0].country) == ("Tokyo", "JP")
    assert [(p.number, p.country, p.date) for p in canon.priorities] == [("2003-413147", "JP", dt.date(2003, 12, 11))]
    assert len(canon.claims) == 4
    plant = recs["USPP18398P2"]
    assert plant.patent_type == "plant" and plant.title == "Sedum telephium plant named ‘Beka’"
    assert plant.ipc == ["A01H5/00"]
    pct = recs["US7314354B2"]
    assert pct.pct_app_number == "PCT/US2003/000230"


def test_grant_v45_cpc_assignee_and_claims(shared_data: Path) -> None:
    rec = one(shared_data, f"{PPD}/xml2014/US08926509.xml.gz")
    assert rec.grant_number == "US8926509B2" and rec.grant_date == dt.date(2015, 1, 6)
    assert rec.title == "Wireless physiological sensor patches and systems"
    assert rec.pub_number == "US20090054737A1"
    assert rec.app_number == "US12134151" and rec.app_date == dt.date(2008, 6, 5)
    assert rec.applicants[0].name == "Hmicro, Inc."
    assert (rec.applicants[0].address, rec.applicants[0].country, rec.applicants[0].role) == ("Fremont, CA", "US", "assignee")
    assert rec.inventors[0] == "Magar, Surendar" and len(rec.inventors) == 5
    assert rec.agency == "Wilson Sonsini Goodrich & Rosati"
    assert len(rec.claims) == 31
    assert rec.ipc_main == "A61B5/00" and "H04L29/08" in rec.ipc
    assert rec.cpc[:3] == ["A61B5/0205", "A61B5/0024", "A61B5/0404"]
    assert "A61B2560/0209" in rec.cpc and "H04W52/0235" in rec.cpc  # further-cpc and combination sets
    assert len(rec.citations) == 129 and "EP1292218B1" in rec.citations and "KR1020040032451" in rec.citations
    assert "WO2002025773A1" in rec.citations  # 'WO 02/25773' in WIPO's 4-digit-year form


def test_v40_fixed_width_ipc_and_applicant_inventor(shared_data: Path) -> None:
    rec = records(shared_data / f"{PV}/ipgxml/ipg050104.small.xml.gz")[0]
    assert rec.grant_number == "US6836899B1"
    assert rec.ipc == ["A45F5/04"] and rec.ipc_edition == "7"  # 'A45F  504' in the v4.0 XML
    (applicant,) = rec.applicants
    assert applicant.name == "Glasmire, Samuel G." and applicant.role == "applicant"
    assert applicant.address == "146 Bentwood Cir., Bath, PA, 18014-8224" and applicant.country == "US"
    assert rec.inventors == ["Glasmire, Samuel G."]
    assert rec.agents == ["Wilkinson, Charles A."]
    assert len(rec.claims) == 23 and len(rec.citations) == 39
    assert rec.description.startswith("BACKGROUND OF THE INVENTION\n1. Field of the Invention")


@pytest.mark.parametrize("week", WEEKLY)
def test_weekly_small_files_yield_the_25_grants(shared_data: Path, week: str) -> None:
    recs = records(shared_data / f"{PV}/ipgxml/{week}.small.xml.gz")
    # README: "the first 25 grants of 9 real weekly ipg files" (sequence listings are skipped)
    assert len(recs) == 25
    assert len({r.grant_number for r in recs}) == 25 and all(r.app_number for r in recs)
    assert recs[0].locator.line == 1
    assert all(a.locator.record < b.locator.record and a.locator.line < b.locator.line for a, b in zip(recs, recs[1:]))


def test_sequence_listing_documents_are_skipped(shared_data: Path) -> None:
    recs = records(shared_data / f"{PV}/ipgxml/ipg060103.small.xml.gz")
    assert [r.locator.record for r in recs][12:14] == [14, 16]  # documents 13 and 15 are <sequence-cwu>
    assert recs[2].grant_number == "USH2140H1" and recs[2].patent_type == "invention"
    assert records(shared_data / f"{PV}/xml/patent_one_unparsed_dna.xml.gz") == []


# --- applications -------------------------------------------------------------------

def test_applications_v43(shared_data: Path) -> None:
    first, second = records(shared_data / f"{PV}/xml/ipa130117.one.xml.gz")
    assert first.pub_number == "US20130014308A1" and first.grant_number is None and first.status is None
    assert first.pub_date == dt.date(2013, 1, 17)
    assert first.app_number == "US13181579" and first.title == "TYPING-MATE"
    assert second.pub_number == "US20130014306A1" and second.title == "TACTICAL MIXED MARTIAL ARTS GLOVE"
    assert second.ipc == ["A41D13/08", "A41D19/02"] and len(second.claims) == 14
    assert second.inventors == ["Mechling, Christopher", "Mechling, Nicholas"]


def test_application_v44_2021(shared_data: Path) -> None:
    rec = one(shared_data, "patents/office_xml_examples_st36_st96_jp_us/examples/us_example4.xml.gz")
    assert rec.pub_number == "US20210048778A1" and rec.pub_date == dt.date(2021, 2, 18)
    assert rec.app_number == "US17089879" and rec.app_date == dt.date(2020, 11, 5)
    assert rec.applicants[0].name == "BROTHER KOGYO KABUSHIKI KAISHA"
    assert (rec.applicants[0].address, rec.applicants[0].country) == ("Nagoya-shi", "JP")
    assert [p.number for p in rec.priorities] == ["2008-281991", "2008-281992", "2008-281993"]
    assert rec.ipc_main == "G03G21/18" and rec.cpc[0] == "G03G21/1853"
    assert len(rec.claims) == 12


def test_pap_v16_and_v15(shared_data: Path) -> None:
    rec = one(shared_data, f"{PV}/xml/pa040101.two.xml.gz")
    assert rec.pub_number == "US20040000002A1" and rec.pub_date == dt.date(2004, 1, 1)
    assert rec.app_number == "US10189364" and rec.app_date == dt.date(2002, 6, 27)
    assert rec.title == "Garment for preventing muscle strain"
    assert rec.ipc == ["A41B1/00"] and rec.ipc_edition == "07"
    assert rec.applicants[0].name == "Hill-Rom Services, Inc." and rec.applicants[0].role == "assignee"
    assert rec.inventors == ["Hollander, Scott"]
    assert rec.applicants[1].address == "Tarzana, CA" and rec.applicants[1].country == "US"
    assert rec.agency == "KNOBBE MARTENS OLSON & BEAR LLP"
    assert rec.abstract.startswith("A garment adapted for wear by persons")

    old = one(shared_data, f"{PPD}/pap/US20010000943A1.xml.gz")
    assert old.pub_number == "US20010000943A1" and old.app_number == "US09727454"
    assert [(p.number, p.country, p.date) for p in old.priorities] == [("11-097727", "JP", dt.date(1999, 4, 5))]
    assert old.pct_app_number == "PCT/JP2000/002182"
    assert old.applicants[0].name == "IDEMITSU KOSAN CO., LTD." and len(old.claims) == 13
    assert "Min−20 nm" in old.description  # &minus; of the pap DTD resolved


# --- 2001–2004 ST.32 PATDOC ---------------------------------------------------------

def test_patdoc_grant(shared_data: Path) -> None:
    rec = one(shared_data, f"{PPD}/sgml/US06336130.xml.gz")
    assert rec.grant_number == "US6336130B1" and rec.grant_date == dt.date(2002, 1, 1)
    assert rec.app_number == "US09413215" and rec.app_date == dt.date(1999, 10, 5)
    assert rec.title == "Arrangement for improving availability of services in a communication system"
    assert rec.ipc == ["G06F15/16", "G06F13/00"] and rec.ipc_edition == "7"  # 'G06F 1516' fixed width
    owner = rec.applicants[0]
    assert (owner.name, owner.address, owner.country) == ("Telefonaktiebolaget LM Ericsson (publ)", "Stockholm", "SE")
    assert rec.inventors == ["Do, Thanh Van"]
    assert rec.agency == "Nixon & Vanderhye P.C."
    assert [(p.number, p.country, p.date) for p in rec.priorities] == [("971605", "NO", dt.date(1997, 4, 8))]
    assert rec.citations[-1] == "WO1996025012" and len(rec.claims) == 22
    assert rec.claims[0].startswith("1. An arrangement in a network including a plurality of mobile terminals")


def test_patdoc_iso_entities_resolved(shared_data: Path) -> None:
    rec = one(shared_data, f"{PPD}/sgml/US06337117.xml.gz")
    text = " ".join([rec.abstract or "", rec.description or ""] + rec.claims)
    assert "“luminous" in text and "Φ" in text
    assert not re.search(r"&[A-Za-z]+;", text)


def test_patdoc_design_has_no_ipc(shared_data: Path) -> None:
    rec = one(shared_data, f"{PPD}/sgml/USD435854S1.xml.gz")
    assert rec.grant_number == "USD435854S" and rec.patent_type == "design"
    assert rec.ipc == []  # B511 '1402' is the Locarno class
    assert rec.citations[0] == "USD271298"  # 'D. 271298'


# --- APS greenbook ------------------------------------------------------------------

def test_greenbook_aps(shared_data: Path) -> None:
    rec = one(shared_data, f"{PPD}/greenbook/US04347903.greenbook.gz")
    assert rec.grant_number == "US4347903A" and rec.grant_date == dt.date(1982, 9, 7)
    assert rec.app_number == "US06192529" and rec.app_date == dt.date(1980, 3, 10)  # SRC 6, APN 192529+check
    assert rec.title == "Electronic reading balance"
    assert rec.applicants[0].name == "Shimadzu Corporation"
    assert (rec.applicants[0].address, rec.applicants[0].country, rec.applicants[0].role) == ("Kyoto", "JP", "assignee")
    assert len(rec.inventors) == 8 and rec.inventors[0] == "Yano, Shozo"
    assert rec.ipc == ["G01G19/04", "G01G23/10", "G06F7/28"]
    assert rec.pct_app_number == "PCT/JP1979/000178"
    assert [(p.number, p.country) for p in rec.priorities] == [("53/84696", "JP")]
    assert len(rec.claims) == 3 and rec.claims[0].startswith("1. A weighing balance device")
    assert rec.citations == ["US4102421", "US4137568", "US4231439"]
    assert rec.abstract.startswith("A weighing balance to provide an average weight")
    assert rec.raw.startswith("PATN\nWKU  043479030")

    old = one(shared_data, f"{PPD}/greenbook/US03932709.greenbook.gz")
    assert old.app_number == "US05449155" and old.agency == "Flehr, Hohbach, Test, Albritton & Herbert"
    assert old.applicants[0].address == "San Francisco, CA" and old.applicants[0].country == "US"
    assert len(old.claims) == 17


# --- against the parsed JSONL of the README -----------------------------------------

def test_all_documents_agree_with_the_parsed_jsonl(shared_data: Path) -> None:
    gold = {}
    with gzip.open(shared_data / f"{US}/us_patents_parsed.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            g = json.loads(line)
            gold[us_pub_number(g["doc_number"], g["kind"])] = g
    assert len(gold) == 479
    got: dict[str, PatentRecord] = {}
    for folder in (f"{PV}/ipgxml", f"{PV}/xml", f"{PV}/unittest", f"{PPD}/xml2004", f"{PPD}/xml2006",
                   f"{PPD}/xml2014", f"{PPD}/xmlApp2004", f"{PPD}/pap"):
        for source in iter_sources(shared_data / folder):
            for rec in uspto_xml.parse(source, {}):
                assert isinstance(rec, PatentRecord), rec
                got.setdefault(rec.grant_number or rec.pub_number, rec)
    assert set(gold) <= set(got)
    for key, g in gold.items():
        rec = got[key]
        assert rec.app_number == "US" + g["application_number"], key
        assert rec.app_date == dt.datetime.strptime(g["filing_date"], "%Y%m%d").date(), key
        assert rec.title == " ".join(g["title"].split()), key
        assert rec.ipc == list(dict.fromkeys(canonical_ipc(i) for i in g.get("ipc") or [])), key
        assert len(rec.claims) == len(g.get("claims") or []), key
        cites = [cited_number(c["country"], c["doc-number"], c.get("kind")) for c in g.get("patent_citations") or []]
        assert rec.citations == list(dict.fromkeys(cites)), key
        orgs = [a["orgname"] for a in g.get("assignees") or [] if a and a.get("orgname")]
        assert [p.name for p in rec.applicants if p.role == "assignee"][:len(orgs)] == orgs, key


# --- bad input ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ipg18(shared_data: Path) -> bytes:
    return gzip.decompress((shared_data / f"{PV}/xml/ipg120327.18.xml.gz").read_bytes())


def test_truncated_last_document(ipg18: bytes, tmp_path: Path) -> None:
    data = ipg18[:-3000]
    last_start = data.count(b"\n", 0, data.rfind(b"<?xml ")) + 1
    (source,) = list(iter_sources(write(tmp_path, "ipg120327.cut.xml", data)))
    got: list = []
    with pytest.raises(SourceError) as err:
        for item in uspto_xml.parse(source, {}):
            got.append(item)
    assert len(got) == 17 and all(isinstance(g, PatentRecord) for g in got)
    rej = err.value.rejection
    assert rej.code == "xml_truncated"
    assert rej.locator.file == "ipg120327.cut.xml" and rej.locator.record == 18
    assert rej.locator.line >= last_start


def test_malformed_document_in_the_middle(ipg18: bytes, tmp_path: Path) -> None:
    parts = ipg18.split(b"<?xml ")
    parts[5] = parts[5].replace(b"</invention-title>", b"</invention-titl>", 1)
    data = b"<?xml ".join(parts)
    bad_line = data[: data.find(b"</invention-titl>")].count(b"\n") + 1
    items = parse(write(tmp_path, "ipg.bad.xml", data))
    assert len(items) == 18
    (rej,) = [i for i in items if isinstance(i, Rejection)]
    assert rej.code == "xml_malformed" and rej.locator.record == 5 and rej.locator.line == bad_line
    assert "invention-titl" in rej.params["detail"] and rej.raw.startswith("<?xml ")
    assert [i.locator.record for i in items if isinstance(i, PatentRecord)] == [1, 2, 3, 4] + list(range(6, 19))


def test_entity_payloads_refused(ipg18: bytes, tmp_path: Path) -> None:
    parts = ipg18.split(b"<?xml ")
    laughs = b'[ <!ENTITY a "lol"> <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"> ]>'
    parts[3] = parts[3].replace(b"[ ]>", laughs, 1).replace(b'<invention-title id="d2e53">', b'<invention-title id="d2e53">&b;', 1)
    items = parse(write(tmp_path, "laughs.xml", b"<?xml ".join(parts)))
    rejections = [i for i in items if isinstance(i, Rejection)]
    assert [(r.code, r.locator.record) for r in rejections] == [("xml_entities_forbidden", 3)]
    assert len(items) == 18 and not any("lol" in (i.title or "") for i in items if isinstance(i, PatentRecord))

    xxe = b"<?xml " + parts[1].replace(b"[ ]>", b'[ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>', 1).replace(
        b'<invention-title id="d2e53">', b'<invention-title id="d2e53">&x;', 1)
    (source,) = list(iter_sources(write(tmp_path, "xxe.xml", xxe)))
    with pytest.raises(SourceError) as err:
        list(uspto_xml.parse(source, {}))
    assert err.value.rejection.code == "xml_entities_forbidden" and err.value.rejection.locator.record == 1


def test_unknown_document_in_a_weekly_file_and_unknown_file(ipg18: bytes, tmp_path: Path, shared_data: Path) -> None:
    parts = ipg18.split(b"<?xml ")
    parts.insert(3, b'version="1.0"?>\n<foo-document/>\n')
    items = parse(write(tmp_path, "mixed.xml", b"<?xml ".join(parts)))
    rej = [i for i in items if isinstance(i, Rejection)]
    assert [(r.code, r.locator.record, r.params["detail"]) for r in rej] == [("unknown_format", 3, "<foo-document>")]
    assert len(items) == 19
    (cpc,) = list(iter_sources(shared_data / f"{PPD}/cpcMaster/cpcMaster.xml.gz"))
    with pytest.raises(SourceError) as err:
        list(uspto_xml.parse(cpc, {}))
    assert err.value.rejection.code == "unknown_format"


def test_bad_application_number_is_a_located_rejection(ipg18: bytes, tmp_path: Path) -> None:
    parts = ipg18.split(b"<?xml ")
    parts[2] = parts[2].replace(b"<doc-number>29", b"<doc-number>2", 1)  # 7 digits
    items = parse(write(tmp_path, "badno.xml", b"<?xml ".join(parts)))
    (rej,) = [i for i in items if isinstance(i, Rejection)]
    assert (rej.code, rej.field, rej.locator.record) == ("bad_number", "application-reference/doc-number", 2)
    assert len(items) == 18


# --- detection, numbers, catalogue --------------------------------------------------

def test_sniff(shared_data: Path) -> None:
    def head(rel: str) -> bytes:
        (source,) = list(iter_sources(shared_data / rel))
        return source.head()

    assert uspto_xml.sniff(head(f"{PV}/ipgxml/ipg050104.small.xml.gz"), "x") == 95
    assert uspto_xml.sniff(head(f"{PPD}/pap/US20010000044A1.xml.gz"), "x") == 95
    assert uspto_xml.sniff(head(f"{PPD}/sgml/US06337117.xml.gz"), "x") >= 90
    assert uspto_xml.sniff(head(f"{PPD}/greenbook/US03937375.greenbook.gz"), "x") == 90
    assert uspto_xml.sniff(head(f"{PPD}/css_brs/css_brs_sample.txt.gz"), "x") == 0
    assert uspto_xml.sniff(head(f"{PPD}/cpcMaster/cpcMaster.xml.gz"), "x") == 0
    assert uspto_xml.sniff(head("patents/epo_ops_family_legal/testdata/biblio.xml.gz"), "x") == 0


def test_numbers() -> None:
    assert us_app_number("13/167,395") == "US13167395"
    assert us_app_number("167395", "13") == "US13167395"
    assert us_pub_number("D0656308", "S1") == "USD656308S1"
    assert us_pub_number("PP018398", "P2") == "USPP18398P2"
    assert us_pub_number("RE043210", "E") == "USRE43210E"
    assert us_pub_number("2003/0169838", "A1") == "US20030169838A1"
    assert pct_number("PCTNL00/00518") == "PCT/NL2000/000518"
    assert pct_number("PCT/US2010/012345") == "PCT/US2010/012345"
    assert wo_number("WO 2004/002301") == "WO2004002301" and wo_number("02054790") == "WO2002054790"
    assert ipc_code("A45F  504") == "A45F5/04" and ipc_code("H01L 21336") == "H01L21/336"
    assert ipc_code("A41B001/00") == "A41B1/00" and ipc_code("1402") is None
    assert cited_number("JP", "2001-185088", None) == "JP2001185088"


def test_error_codes_are_in_the_catalogue() -> None:
    for lang in ("zh", "en"):
        cat = catalogue(lang)
        for code in ("xml_truncated", "xml_malformed", "xml_entities_forbidden", "unknown_format",
                     "bad_number", "missing_field", "invalid_date"):
            assert f"import.error.{code}" in cat
