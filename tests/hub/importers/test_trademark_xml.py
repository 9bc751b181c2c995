"""Trademark XML (WIPO ST.66 / ST.96 / Israeli TMBRAND) and the opposed-applications CSV,
on the real files of ../shared/data/trademarks and the WIPO ST.96 example instance."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from pathlib import Path

import pytest

from xjip.hub.importers import trademark_xml as tx
from xjip.hub.importers.base import Source, detect, iter_sources, parse_date
from xjip.hub.importers.trademark_status import normalise_status
from xjip.hub.records import LegalEvent, Party, Rejection, SourceError, TrademarkRecord

FIXTURES = "trademarks/records/wipo_gbd_test_fixtures"
SUMMARY = "trademarks/records/wipo_gbd_test_fixtures_summary.csv"
ST96 = "patents/office_xml_examples_st36_st96_jp_us/03-96-vii-example-instances"
OPPOSED = "trademarks/records/opposed_applications_2023.csv.gz"


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data))


def parse_file(path: Path) -> list:
    (src,) = list(iter_sources(path))
    assert detect(src).name == "trademark_xml"
    return list(tx.trademark_xml.parse(src, {}))


def one(shared_data: Path, name: str) -> TrademarkRecord:
    (rec,) = parse_file(shared_data / FIXTURES / name)
    assert isinstance(rec, TrademarkRecord)
    return rec


def run(src: Source) -> list:
    """Items, then the SourceError's rejection (if any) as the last element."""
    out: list = []
    try:
        out.extend(tx.trademark_xml.parse(src, {}))
    except SourceError as exc:
        out.append(exc)
    return out


def summary_rows(shared_data: Path) -> list[dict[str, str]]:
    with open(shared_data / SUMMARY, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_all_22_fixtures_are_in_the_summary(shared_data: Path) -> None:
    files = sorted(p.name for p in (shared_data / FIXTURES).glob("*.xml"))
    assert files == FILES
    assert sorted(r["file"] for r in summary_rows(shared_data)) == FILES


FILES = ["altm__altm.xml", "brtm__test01.xml", "idtm__translation.xml", "idtm__unicode.xml",
         "iltm__cancellations.xml", "iltm__collcert.xml", "iltm__eventdata.xml", "iltm__international.xml",
         "iltm__markfeature.xml", "iltm__noevents.xml", "iltm__opposition.xml", "iltm__tlit.xml", "khtm__khtm.xml",
         "latm__test.xml", "mgtm__test.xml", "mytm__example.xml", "pgtm__pgtm.xml", "smtm__test.xml",
         "totm__nofeature.xml", "totm__syntax.xml", "totm__test.xml", "wstm__test.xml"]


@pytest.mark.parametrize("name", FILES)
def test_fixture_matches_summary(shared_data: Path, name: str) -> None:
    """Every field the summary CSV extracted, compared with what the importer reads."""
    row = next(r for r in summary_rows(shared_data) if r["file"] == name)
    rec = one(shared_data, row["file"])
    date = lambda v: parse_date(v) if v else None  # noqa: E731
    assert rec.office == row["office"]
    assert rec.app_number == row["application_number"]
    assert rec.reg_number == (row["registration_number"] or None)
    assert rec.app_date == date(row["application_date"])
    assert rec.reg_date == date(row["registration_date"])
    assert rec.expiry_date == date(row["expiry_date"])
    assert rec.status_text == row["status"]  # as printed; the vocabulary: test_trademark_status.py
    assert rec.status == normalise_status(row["status"])
    assert rec.status_date == date(row["status_date"])
    assert rec.nice_classes == [f"{int(c):02d}" for c in row["nice_classes"].split(";") if c]
    parties = row["applicant_or_holder"].split(" | ")
    assert rec.owners[0].name == parties[0]
    if row["office"] == "IL":
        # summary: 'he:… | en:… | transcription:…' (whitespace collapsed on our side)
        expected = dict(part.split(":", 1) for part in row["word_element"].split(" | "))
        assert rec.transliterations == {k: " ".join(v.split()) for k, v in expected.items()}
        assert rec.word_element == " ".join(next(iter(expected.values())).split())
    else:
        assert rec.word_element == (row["word_element"] or None)
        assert rec.agent == ("; ".join(parties[1:]) or None)
    assert rec.natural_key() == f"{row['office']}:{row['application_number']}"
    assert rec.locator.file.endswith(row["file"]) and rec.locator.record == 1
    assert rec.raw.lstrip().startswith(("<TradeMark", "<TMBRAND"))


def test_idtm_unicode_kingma(shared_data: Path) -> None:
    rec = one(shared_data, "idtm__unicode.xml")
    assert (rec.office, rec.app_number, rec.word_element) == ("ID", "DID2017000184", "KingMa")
    assert rec.nice_classes == ["09"]
    assert (rec.status, rec.status_text, rec.status_date) == ("refused", "Rejected", dt.date(2018, 10, 25))
    assert rec.mark_kind == "ordinary"  # KindMark Individual
    assert rec.mark_feature == "combined"  # 'Merek Kata dan Lukisan' = word and figurative mark
    assert rec.transliterations == {"translation": "merupakan suatu penamaan"}
    owner = rec.owners[0]
    assert owner == Party(
        name="Shenzhen Benmer Electronic Technology Co., Ltd",
        address="Building 2 No. 88, Longwangmiao Industrial Park, Baishixia, Fuyong Street, Bao’an District, "
                "Shenzhen City, Guangdong Province, China",  # the two identical lines once; U+0092 → ’
        country="CN", role="applicant")
    assert rec.agent == "Chamelia Sari, S.E.,S.H.,M.H."
    assert rec.goods.startswith("09: Pemancar sinyal elektronik; cover untuk telepon pintar;")
    assert [(e.category, e.date, e.code) for e in rec.events] == [
        ("other", dt.date(2017, 1, 4), "Filed"),
        ("other", dt.date(2017, 1, 26), "Published"),
        ("rejection", dt.date(2018, 10, 25), "Rejected"),
    ]
    assert rec.events[2].description == "Ditolak" and rec.events[2].details == {"office_code": "251"}


def test_totm_syntax_nine_classes_two_representatives(shared_data: Path) -> None:
    rec = one(shared_data, "totm__syntax.xml")
    assert rec.nice_classes == ["09", "16", "35", "36", "37", "38", "41", "42", "45"]
    assert rec.goods.startswith("09: Telecommunications and information technology products;")
    assert " || 45: Computerized communication network security services;" in rec.goods
    assert rec.agent == "Petunia Tupou, Fungateiki Law Firm; A J Park"
    assert rec.owners == [Party("Verizon Trademark Services LLC", "1320 North Court Road, Arlington, VA 22201, USA",
                                "US", "applicant")]


def test_il_transcriptions(shared_data: Path) -> None:
    tlit = one(shared_data, "iltm__tlit.xml")
    assert tlit.word_element == "אילמה"
    assert tlit.transliterations == {"he": "אילמה", "en": "Elima", "transcription": "Elima"}
    assert tlit.owners == [Party("Beth Hayain Or Haganuz Ltd", "Or Haganuz, 13909, Marom Hagalili, Israel",
                                 None, "applicant")]
    assert tlit.agent == "Welner & Co., Law Office & Notary"
    assert tlit.goods == ("33: Alcoholic beverages, wine, except beers; alcoholic preparations for making "
                          "beverages; all included in class 33.")
    assert [(e.category, e.date, e.code) for e in tlit.events] == [
        ("other", dt.date(2019, 8, 29), "Accepted"), ("grant", dt.date(2019, 12, 29), "Registered")]
    assert tlit.events[1].details == {"publication_date": "2019-12-31"}

    ev = one(shared_data, "iltm__eventdata.xml")
    assert ev.transliterations == {"he": "הרווח כולו שלכם", "en": "Benefit",
                                   "transcription": "HAREVAH KOLO SHLACHIM"}
    assert ev.nice_classes == ["09", "35", "41"]
    # name + image + Vienna codes → combined (ILPO/WIPO GBD rule); name only → word
    assert ev.mark_feature == "combined"
    assert one(shared_data, "iltm__markfeature.xml").mark_feature == "word"


def test_il_events_and_kinds(shared_data: Path) -> None:
    rec = one(shared_data, "iltm__cancellations.xml")
    change = [e for e in rec.events if e.category == "owner_change"]
    assert change == [LegalEvent("owner_change", dt.date(2016, 5, 26), "Change in ownership from",
                                 "Reckitt Benckiser N.V.",
                                 {"publication_date": "2016-05-31", "from": "Reckitt Benckiser N.V."})]
    assert [e.category for e in rec.events if e.date == dt.date(2009, 10, 29)] == ["lapse"]  # non-payment
    assert [e.category for e in rec.events if e.date == dt.date(2009, 11, 5)] == ["fee_payment"]  # renewal
    assert rec.events[-1] == LegalEvent("other", dt.date(2005, 11, 7), "cancellation",
                                        details={"closing_date": "2009-09-02"})
    assert one(shared_data, "iltm__opposition.xml").events[-1] == LegalEvent(
        "other", dt.date(1994, 7, 27), "opposition", details={"closing_date": "2002-11-12"})
    collcert = one(shared_data, "iltm__collcert.xml")
    assert collcert.mark_kind == "collective" and (collcert.status, collcert.status_text) == ("other", "deleted")
    assert collcert.owners[0].name == "Gütegemeinschaft Substrate für Pflanzen e.V."


def test_st96_trademark_application_example(shared_data: Path) -> None:
    (rec,) = parse_file(shared_data / ST96 / "TrademarkApplication_Example.xml.gz")
    assert (rec.office, rec.app_number, rec.reg_number) == ("US", "87035559", "5169753")
    assert (rec.app_date, rec.reg_date) == (dt.date(2016, 5, 12), dt.date(2017, 3, 28))
    assert (rec.status, rec.status_text, rec.status_date) == ("registered", "REGISTERED", dt.date(2017, 3, 28))
    assert (rec.word_element, rec.mark_kind, rec.mark_feature) == ("LANYI", "ordinary", "combined")  # drawing code 3
    assert rec.nice_classes == ["09"] and rec.goods.startswith("09: Audio cables; Bags for cameras")
    # three Applicant entries (original applicant, owner at publication, registrant): one owner
    assert rec.owners == [Party("Shenzhen Fengniao E-Commerce Co.,Ltd", None, "CN", "applicant")]
    assert rec.agent == "IVY XU"
    assert len(rec.events) == 17
    assert rec.events[0] == LegalEvent("grant", dt.date(2017, 3, 28), "R.PRA", "REGISTERED-PRINCIPAL REGISTER")
    assert rec.events[-1].code == "NWAPI" and rec.events[-1].category == "other"


def test_sniff(shared_data: Path) -> None:
    for path in sorted((shared_data / ST96).glob("*.gz")):
        head = gzip.decompress(path.read_bytes())[:65536]
        expected = 90 if path.name.startswith("Trademark") else 0  # GI/Design/Patent: not ours
        assert tx.trademark_xml.sniff(head, path.name) == expected, path.name
    assert tx.trademark_xml.sniff((shared_data / FIXTURES / "altm__altm.xml").read_bytes(), "x") == 95
    assert tx.trademark_xml.sniff((shared_data / FIXTURES / "iltm__tlit.xml").read_bytes(), "x") == 95


# --- streaming and errors --------------------------------------------------------------

@pytest.fixture(scope="module")
def il_id(shared_data: Path) -> tuple[bytes, bytes]:
    return ((shared_data / FIXTURES / "iltm__tlit.xml").read_bytes(),
            (shared_data / FIXTURES / "idtm__unicode.xml").read_bytes())


def test_concatenated_documents_with_file_lines(il_id: tuple[bytes, bytes]) -> None:
    il, ind = il_id
    data = il + b"\n" + ind + b"\n\n" + b"\xef\xbb\xbf" + il  # the last one as `cat` of a BOM file
    items = run(mem(data))
    assert [(r.app_number, r.locator.record, r.locator.line) for r in items] == [
        # iltm__tlit.xml has no final newline; <TradeMark> is on line 12 of idtm__unicode.xml
        ("320000", 1, 2), ("DID2017000184", 2, il.count(b"\n") + 1 + 12),
        ("320000", 3, data.count(b"\n") - il.count(b"\n") + 2)]


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_small_chunks_give_the_same_records(il_id: tuple[bytes, bytes], chunk: int) -> None:
    il, ind = il_id
    data = il + ind + b"\xef\xbb\xbf" + il
    got = [(r.dialect, r.transaction_code, r.line) for r in tx._iter_records(mem(data), chunk_size=chunk)]
    assert got == [("il", None, 2), ("st66", "Merek Dagang", il.count(b"\n") + 12),
                   ("il", None, (il + ind).count(b"\n") + 2)]


def test_many_marks_in_one_transaction(il_id: tuple[bytes, bytes]) -> None:
    _, ind = il_id
    tm = re.search(rb"<TradeMarkApplication>.*</TradeMarkApplication>", ind, re.S).group(0)
    head, tail = ind.split(tm)
    body = b"".join(tm.replace(b"DID2017000184", b"DID%09d" % i) for i in range(50))
    items = run(mem(head + body + tail))
    assert [r.app_number for r in items] == [f"DID{i:09d}" for i in range(50)]
    assert items[49].locator.record == 50 and items[49].locator.line == 12 + 49 * tm.count(b"\n")


def test_broken_middle_document_is_rejected_and_the_next_one_comes(il_id: tuple[bytes, bytes]) -> None:
    il, ind = il_id
    data = il + ind[:3000] + b"\n" + il
    items = run(mem(data))
    assert items[0].app_number == "320000"
    rej = items[1]
    assert isinstance(rej, Rejection) and rej.code == "xml_truncated"
    # located where the document ends: the line after its last newline
    assert (rej.locator.record, rej.locator.line) == (2, (il + ind[:3000]).count(b"\n") + 2)
    assert items[2].app_number == "320000" and items[2].locator.record == 3


def test_truncated_or_unsafe_single_document_raises(il_id: tuple[bytes, bytes]) -> None:
    _, ind = il_id
    (err,) = run(mem(ind[:3000]))
    assert isinstance(err, SourceError) and err.rejection.code == "xml_truncated"
    assert err.rejection.locator.line == ind[:3000].count(b"\n") + 1
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE TMBRAND [<!ENTITY a "aaaaaaaaaa">]>\n<TMBRAND>&a;</TMBRAND>'
    (err,) = run(mem(bomb))
    assert isinstance(err, SourceError) and err.rejection.code == "xml_entities_forbidden"
    (err,) = run(mem(b" \n "))
    assert err.rejection.code == "empty_file"


def test_bad_values_reject_the_record_only(il_id: tuple[bytes, bytes]) -> None:
    il, ind = il_id
    bad_date = il.replace(b"<FILINGDATE>20190828", b"<FILINGDATE>20190230")
    bad_class = ind.replace(b"<ClassNumber>9<", b"<ClassNumber>46<")
    items = run(mem(bad_date + bad_class + il))
    assert [(i.code, i.field, i.params, i.locator.record, i.locator.line) for i in items[:2]] == [
        ("invalid_date", "FILINGDATE", {"value": "20190230"}, 1, 2),
        ("bad_value", "ClassNumber", {"value": "46"}, 2, bad_date.count(b"\n") + 12),
    ]
    assert "<FILINGDATE>20190230</FILINGDATE>" in items[0].raw
    assert items[2].app_number == "320000" and items[2].locator.record == 3
    no_number = il.replace(b"<OFFICENUMBER>320000</OFFICENUMBER>", b"<OFFICENUMBER/>")
    (rej,) = run(mem(no_number))
    assert (rej.code, rej.field) == ("missing_field", "ApplicationNumber")


# --- opposed applications CSV ----------------------------------------------------------

def test_opposed_applications_csv(shared_data: Path) -> None:
    (src,) = list(iter_sources(shared_data / OPPOSED))
    assert detect(src).name == "trademark_csv"
    items = list(tx.trademark_csv.parse(src, {}))
    assert len(items) == 230 and all(isinstance(i, TrademarkRecord) for i in items)
    first = items[0]
    assert (first.office, first.app_number, first.word_element, first.mark_feature) == (
        "NZ", "1246864", "ZEEDA ENERGY", "combined")
    assert first.nice_classes == ["09"]
    assert first.owners == [Party("Shanghai Zhida Technology Development Co., Ltd.", None, "CN", "applicant")]
    assert (first.status, first.status_text) == ("opposed", "opposition")
    assert first.events == [LegalEvent("other", dt.date(2023, 11, 16), "opposition",
                                       details={"opponent": "Z Energy Limited"})]
    assert first.locator.line == 2 and first.raw["application_no"] == "1246864"
    image = items[1]
    assert (image.app_number, image.word_element, image.mark_feature) == ("1175970", None, "figurative")
    assert image.nice_classes == ["09", "35", "41"] and image.events[0].date is None
    assert sum(1 for r in items if r.owners[0].country == "CN") == 13
    feats = [r.mark_feature for r in items]
    assert (feats.count("combined"), feats.count("word"), feats.count("figurative")) == (107, 103, 20)
    # the office can be stated when known
    assert next(iter(tx.trademark_csv.parse(src, {"office": "AU"}))).natural_key() == "AU:1246864"
