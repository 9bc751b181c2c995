"""EPO OPS importer on the real OPS 3.2 responses in ../shared/data/patents/epo_ops_family_legal
(INPADOC family of EP2400812 with the granted US9648662 B2, legal events, biblio, error bodies)."""
from __future__ import annotations

import collections
import datetime as dt
import gzip
from pathlib import Path

import pytest

from xjip.hub.importers.base import detect, iter_sources
from xjip.hub.importers.epo_ops import classify_event, docdb_app, docdb_pub, epo_ops, granted_kind
from xjip.hub.records import PatentRecord, Rejection, SourceError
from xjip.i18n import both, catalogue

OPS = "patents/epo_ops_family_legal"
EX = f"{OPS}/demo/examples"


def parse(path: Path) -> list[PatentRecord | Rejection]:
    (source,) = list(iter_sources(path))
    return list(epo_ops.parse(source, {}))


def by_app(path: Path) -> dict[str, PatentRecord]:
    items = parse(path)
    assert all(isinstance(i, PatentRecord) for i in items)
    return {r.app_number: r for r in items}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def family_legal(shared_data: Path) -> dict[str, PatentRecord]:
    return by_app(shared_data / f"{EX}/get_family_with_legal/response.xml.gz")


def test_family_members_and_granted_us_member(family_legal: dict[str, PatentRecord]) -> None:
    assert list(family_legal) == ["EP10167109", "CA2744162", "US13167395"]  # one record per application
    ep = family_legal["EP10167109"]
    assert ep.family_id == "43088294" and ep.country == "EP"
    assert ep.app_date == dt.date(2010, 6, 24)
    assert (ep.pub_number, ep.pub_date) == ("EP2400812A1", dt.date(2011, 12, 28))
    assert (ep.grant_number, ep.grant_date, ep.status) == ("EP2400812B1", dt.date(2019, 11, 27), "granted")
    assert [(m.number, m.kind, m.date, m.granted) for m in ep.family] == [
        ("EP2400812A1", "A1", dt.date(2011, 12, 28), False),
        ("EP2400812B1", "B1", dt.date(2019, 11, 27), True),
        ("CA2744162A1", "A1", dt.date(2011, 12, 24), False),
        ("US20120057518A1", "A1", dt.date(2012, 3, 8), False),
        ("US9648662B2", "B2", dt.date(2017, 5, 9), True),
    ]
    assert [p.number for p in ep.priorities] == ["EP10167109"]
    us = family_legal["US13167395"]
    assert (us.pub_number, us.grant_number, us.grant_date) == ("US20120057518A1", "US9648662B2", dt.date(2017, 5, 9))
    assert us.app_date == dt.date(2011, 6, 23) and us.patent_type == "invention"
    assert us.family == ep.family and us.family is not ep.family
    ca = family_legal["CA2744162"]
    assert ca.grant_number is None and ca.status is None
    assert ep.locator is not None and (ep.locator.record, ep.locator.line) == (1, 11)
    assert (us.locator.record, us.locator.line) == (3, 1360)
    assert us.raw.count("<ops:family-member") == 2 and "9648662" in us.raw


def test_legal_events_classified(family_legal: dict[str, PatentRecord]) -> None:
    ep = family_legal["EP10167109"]
    assert len(ep.events) == 69
    cats = collections.Counter(e.category for e in ep.events)
    # PG25 ×32 + national REG codes MM (BE), PL (CH), MP (NL), MG4D (LT), MK05 (AT)
    assert cats["lapse"] == 37
    assert sorted(e.details["national_code"] for e in ep.events if e.code == "REG" and e.category == "lapse") == [
        "MG4D", "MK05", "MM", "MP", "PL"]
    assert cats["fee_payment"] == 4 and cats["owner_change"] == 1
    pgfp = [e for e in ep.events if e.code == "PGFP"]
    assert [(e.details["country"], e.date, e.details["fee_year"], e.details["gazette_date"]) for e in pgfp] == [
        ("FI", dt.date(2025, 6, 20), 16, "2025-07-08"),
        ("DE", dt.date(2025, 5, 14), 16, "2025-07-09"),
        ("GB", dt.date(2025, 5, 8), 16, "2025-07-10"),
        ("SE", dt.date(2025, 5, 14), 16, "2025-07-30"),
    ]
    assert all(e.category == "fee_payment" and e.description.startswith("ANNUAL FEE PAID TO NATIONAL OFFICE")
               for e in pgfp)
    assert pgfp[0].details["fields"]["L520EP"] == "16" and pgfp[0].details["application"] == "EP10167109"
    (rap1,) = [e for e in ep.events if e.code == "RAP1"]
    assert rap1.category == "owner_change" and rap1.details["owner"] == "9SOLUTIONS OY"
    pg25 = [e for e in ep.events if e.code == "PG25"]
    assert len(pg25) == 32 and all(e.category == "lapse" for e in pg25)
    ie = next(e for e in pg25 if e.details["country"] == "IE")
    assert ie.date == dt.date(2020, 6, 24) and ie.details["free_text"] == "LAPSE BECAUSE OF NON-PAYMENT OF DUE FEES"
    (graa,) = [e for e in ep.events if e.code == "GRAA"]
    assert graa.category == "grant" and graa.date == dt.date(2019, 10, 25)
    mm = next(e for e in ep.events if e.details.get("national_code") == "MM")
    assert mm.category == "lapse" and mm.details["country"] == "BE"

    us = family_legal["US13167395"].events
    assert [(e.code, e.category) for e in us] == [("AS", "transfer"), ("STCF", "grant"), ("MAFP", "fee_payment"),
                                                  ("MAFP", "fee_payment"), ("FEPP", "other")]
    assert us[0].date == dt.date(2011, 10, 31) and us[0].details["owner"] == "9SOLUTIONS OY, FINLAND"
    assert [e.details["fee_year"] for e in us if e.code == "MAFP"] == [4, 8]
    assert us[0].details["application"] == "US13167395"
    (fzde,) = family_legal["CA2744162"].events
    assert (fzde.category, fzde.date) == ("withdrawal", dt.date(2017, 6, 23))


def test_legal_response(shared_data: Path) -> None:
    (rec,) = parse(shared_data / f"{OPS}/testdata/legal.xml.gz")
    assert rec.app_number == "EP10167109" and len(rec.events) == 69
    codes = collections.Counter(e.code for e in rec.events)
    assert (codes["PG25"], codes["PGFP"], codes["STAA"], codes["RAP1"]) == (32, 4, 4, 1)


def test_biblio_response(shared_data: Path) -> None:
    (rec,) = parse(shared_data / f"{EX}/get_biblio/response.xml.gz")
    assert rec.app_number == "EP10167109" and rec.pub_number == "EP2400812A1" and rec.grant_number is None
    assert rec.family_id == "43088294" and rec.family == []
    assert rec.title == rec.title_en == "BLUETOOTH NETWORKING"
    assert rec.abstract.startswith("An apparatus enabling establishment of a Bluetooth mesh network")
    assert [(p.name, p.country) for p in rec.applicants] == [("9SOLUTIONS OY", "FI")]
    assert rec.inventors == ["HERRALA SAMI", "KYLMAENEN JARI", "NIEMI JAAKKO"]
    assert rec.ipc == ["H04W84/20"] and rec.cpc == ["H04W84/20", "H04W88/04"]
    assert rec.citations == ["WO2002054790A2", "US20030060222A1", "WO2003067954A2", "US20040097263A1",
                             "US20040136338A1", "EP1542377A2"]
    assert [(p.number, p.date) for p in rec.priorities] == [("EP10167109", dt.date(2010, 6, 24))]


def test_family_with_biblio_merges_biblio_per_application(shared_data: Path) -> None:
    recs = by_app(shared_data / f"{EX}/get_family_with_biblio/response.xml.gz")
    us = recs["US13167395"]
    assert us.title == "BLUETOOTH NETWORKING" and us.grant_number == "US9648662B2"
    assert len(us.citations) == 37 and "US6968153B1" in us.citations
    assert recs["CA2744162"].ipc == ["H04W84/18", "H04L12/56", "H04W88/16"]


def test_biblio_of_two_publications_of_one_application(shared_data: Path) -> None:
    recs = by_app(shared_data / f"{EX}/get_biblio_multiple/response.xml.gz")
    assert (recs["EP11169280"].pub_number, recs["EP11169280"].grant_number) == ("EP2533477A1", "EP2533477B1")
    assert recs["EP11169280"].title == "Bluetooth network configuration"


def test_search_results_with_biblio(shared_data: Path) -> None:
    recs = by_app(shared_data / f"{EX}/search_with_constituent/response.xml.gz")
    assert list(recs) == ["AU2024270787", "AU2024265697", "DK19702186"]
    dk = recs["DK19702186"]
    assert dk.pub_number == "DK3740998T3" and dk.family_id == "61256235"
    assert dk.title == "ENERGILAGRINGSSYSTEM" and dk.title_en is None  # no English title in the answer
    assert [(p.name, p.country) for p in dk.applicants] == [("SIEMENS ENERGY AS", "NO")]
    assert recs["AU2024270787"].title_en == "MONITORING THE OPERATION OF A WIND TURBINE"
    assert [p.number for p in recs["AU2024270787"].priorities] == ["EP23173822", "WO2024EP63512"]


def test_publication_without_application_is_rejected(shared_data: Path) -> None:
    items = parse(shared_data / f"{OPS}/testdata/family.xml.gz")
    assert [(i.code, i.params["publication"], i.locator.record) for i in items] == [  # type: ignore[union-attr]
        ("epo_ops_no_application", "EP2400812A1", 1),
        ("epo_ops_no_application", "US9876543B2", 2),
        ("epo_ops_no_application", "WO2011012345A1", 3),
    ]


@pytest.mark.parametrize("name, code, status", [("error_404", "epo_ops_not_found", "404"),
                                                ("error_429", "epo_ops_rate_limited", "429")])
def test_error_bodies(shared_data: Path, name: str, code: str, status: str) -> None:
    (source,) = list(iter_sources(shared_data / f"{OPS}/testdata/{name}.xml.gz"))
    assert detect(source).name == "epo_ops"
    with pytest.raises(SourceError) as err:
        list(epo_ops.parse(source, {}))
    rej = err.value.rejection
    assert rej.code == code and rej.params["status"] == status
    assert (rej.locator.file, rej.locator.record, rej.locator.line) == (f"{name}.xml.gz", 1, 1)
    zh, en = both(f"import.error.{code}", **rej.params)
    assert status in zh and status in en and rej.params["message"] in en


def test_other_services_are_refused_clearly(shared_data: Path) -> None:
    (source,) = list(iter_sources(shared_data / f"{EX}/get_register_events/response.xml.gz"))
    with pytest.raises(SourceError) as err:
        list(epo_ops.parse(source, {}))
    assert err.value.rejection.code == "epo_ops_unsupported"
    assert err.value.rejection.params["service"] == "register-search"


def test_truncated_response(shared_data: Path, tmp_path: Path) -> None:
    data = gzip.decompress((shared_data / f"{EX}/get_family_with_legal/response.xml.gz").read_bytes())
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: len(data) // 2])
    (source,) = list(iter_sources(path))
    with pytest.raises(SourceError) as err:
        list(epo_ops.parse(source, {}))
    assert err.value.rejection.code == "xml_truncated" and err.value.rejection.locator.file == "cut.xml"


def test_entity_declaration_refused(shared_data: Path, tmp_path: Path) -> None:
    data = gzip.decompress((shared_data / f"{OPS}/testdata/biblio.xml.gz").read_bytes())
    bomb = data.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', 1)
    bomb = bomb.replace(b"<invention-title lang=\"en\">", b"<invention-title lang=\"en\">&b;", 1)
    path = tmp_path / "bomb.xml"
    path.write_bytes(bomb)
    (source,) = list(iter_sources(path))
    with pytest.raises(SourceError) as err:
        list(epo_ops.parse(source, {}))
    assert err.value.rejection.code == "xml_entities_forbidden"


def test_sniff_root_only(shared_data: Path) -> None:
    def head(rel: str) -> bytes:
        (source,) = list(iter_sources(shared_data / rel))
        return source.head()

    assert epo_ops.sniff(head(f"{OPS}/testdata/legal.xml.gz"), "x") == 95
    assert epo_ops.sniff(head(f"{OPS}/testdata/error_404.xml.gz"), "x") == 90
    assert epo_ops.sniff(head("patents/us_uspto_xml/patentsview_db_fixtures/xml/ipg120327.two.xml.gz"), "x") == 0
    st36 = "patents/office_xml_examples_st36_st96_jp_us/st36_wipo_examples/st36aexample/DOC00001.xml.gz"
    assert epo_ops.sniff(head(st36), "x") == 0  # EPO, but not OPS
    assert epo_ops.sniff(b'<?xml version="1.0"?><world-patent-data xmlns="http://example.org"/>', "x") == 0


def test_numbers_and_rules() -> None:
    assert docdb_app("US", "201113167395") == "US13167395"
    assert docdb_app("EP", "10167109") == "EP10167109"
    assert docdb_app("CN", "201010123456") == "CN201010123456.9"  # check digit computed (ZC 0006-2003)
    assert docdb_pub("US", "2012057518", "A1") == "US20120057518A1"
    assert docdb_pub("US", "9648662", "B2") == "US9648662B2"
    assert docdb_pub("WO", "02054790", "A2") == "WO2002054790A2"
    assert granted_kind("US", "B2") and granted_kind("EP", "B1") and granted_kind("CN", "C")
    assert granted_kind("US", "S1") and not granted_kind("EP", "A1") and not granted_kind("WO", "A1")
    assert granted_kind("DK", "T3") is None
    assert classify_event("XXXX", "REFERENCE TO A NATIONAL CODE", "LAPSED BECAUSE OF NON-PAYMENT OF THE ANNUAL FEE") == "lapse"
    assert classify_event("XXXX", "LICENCE AGREEMENT REGISTERED") == "licence"
    assert classify_event("XXXX", "REVOCATION OF PATENT") == "invalidation"
    assert classify_event("PGFP", "ANNUAL FEE PAID TO NATIONAL OFFICE") == "fee_payment"


def test_error_codes_are_in_the_catalogue() -> None:
    codes = ["epo_ops_not_found", "epo_ops_rate_limited", "epo_ops_forbidden", "epo_ops_unauthorized",
             "epo_ops_bad_request", "epo_ops_fault", "epo_ops_unsupported", "epo_ops_no_application"]
    zh, en = catalogue("zh"), catalogue("en")
    for code in codes:
        key = f"import.error.{code}"
        assert key in zh and key in en
        assert sorted(_fields(zh[key])) == sorted(_fields(en[key])), code


def _fields(template: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(template) if f]
