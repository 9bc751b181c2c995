"""A truncated XML file never yields a record its document did not hold whole, under lxml 5 and
lxml 6 alike (issue 10 §1: lxml 6 reports the end of every element still open when the input runs
out, before "Premature end of data", and a half-filled trademark was stored). Every XML importer,
real files cut at many points: what comes out of a cut file is exactly what the whole file gives
for the documents (or, streamed, the records) that the cut left whole."""
from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any

import pytest

from xjip.hub.importers.base import Source, detect
from xjip.hub.records import BaseRecord, Rejection, SourceError

FILES = [
    ("patents/real_exports/uspto/us_application_v4-4-A1.xml", "uspto_xml"),
    ("patents/real_exports/uspto/us_grants_2001_sample.xml", "uspto_xml"),
    ("patents/real_exports/ep_st36/ep_grant_v1-3-B1.xml", "wipo_xml"),  # no declaration, no DOCTYPE
    ("patents/real_exports/ep_st36/ep_application_v1-0-A1.xml", "wipo_xml"),
    ("patents/real_exports/epo_ops/ops_family_EP2906782A2.xml", "epo_ops"),
    ("patents/real_exports/trademark/tsdr_sn76044902.xml", "trademark_xml"),
    ("patents/real_exports/trademark/tsdr_rn2178784-ST-962.2.1.xml", "trademark_xml"),
    ("patents/cn_cnipa_xml/xml/examples/cn_new2.xml.gz", "cnipa_xml"),
    ("trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml", "trademark_xml"),
    ("trademarks/records/wipo_gbd_test_fixtures/iltm__tlit.xml", "trademark_xml"),
]
CUTS = 24
MULTI = "us_grants_2001_sample.xml"  # 23 documents: those a cut leaves whole come
# Files that can follow one another in a file: each begins with a declaration or a DOCTYPE
CONCATENABLE = [(rel, importer) for rel, importer in FILES if not rel.endswith("ep_grant_v1-3-B1.xml")]


def read(shared_data: Path, rel: str) -> bytes:
    data = (shared_data / rel).read_bytes()
    return gzip.decompress(data) if rel.endswith(".gz") else data


def run(data: bytes, importer: str) -> tuple[list[Any], SourceError | None]:
    src = Source("cut.xml", lambda: io.BytesIO(data), len(data), len(data))
    items: list[Any] = []
    try:
        items.extend(detect(src, importer).parse(src, {}))
    except SourceError as exc:
        return items, exc
    return items, None


def whole(items: list[Any]) -> list[tuple[str, str]]:
    return [(r.natural_key(), r.raw) for r in items if isinstance(r, BaseRecord)]


@pytest.mark.parametrize("rel, importer", FILES, ids=[Path(f).name for f, _ in FILES])
def test_a_truncated_single_document_yields_nothing(shared_data: Path, rel: str, importer: str) -> None:
    data = read(shared_data, rel)
    intact = whole(run(data, importer)[0])
    cuts = 8 if rel.endswith(MULTI) else CUTS
    for k in range(1, cuts):
        cut = data[: len(data) * k // cuts]
        items, error = run(cut, importer)
        assert error is not None and error.rejection.code == "xml_truncated", (k, error)
        assert error.rejection.locator.line == cut.count(b"\n") + 1  # where the input ends
        if rel.endswith(MULTI):
            assert len(items) == len(whole(items)) == cut.count(b"</PATDOC>")
            assert whole(items) == intact[:len(items)]
        else:
            assert items == [], (k, items)


def test_a_truncated_last_document_keeps_the_ones_before(shared_data: Path) -> None:
    for rel, importer in CONCATENABLE:
        data = read(shared_data, rel)
        full = data if data.endswith(b"\n") else data + b"\n"
        good = whole(run(full, importer)[0])
        cut = data[: len(data) // 2]
        items, error = run(full + cut, importer)
        assert error is not None and error.rejection.code == "xml_truncated", rel
        # the first file whole, of the cut one only its documents left whole (none but in MULTI)
        assert whole(items) == good + whole(run(cut, importer)[0]), rel


def test_a_broken_middle_document_is_rejected_whole(shared_data: Path) -> None:
    for rel, importer in CONCATENABLE:
        data = read(shared_data, rel)
        full = data if data.endswith(b"\n") else data + b"\n"
        good = whole(run(full, importer)[0])
        cut = data[: len(data) // 2].decode("utf-8", "ignore").encode()  # not inside a character
        items, error = run(full + cut + b"\n" + full, importer)
        assert error is None, rel
        assert whole(items) == good + whole(run(cut, importer)[0]) + good, rel
        assert [i.code for i in items if isinstance(i, Rejection)] == ["xml_truncated"], rel


@pytest.mark.parametrize("after", range(0, 50, 7))
def test_a_bulk_trademark_document_cut_anywhere_gives_only_whole_marks(shared_data: Path, after: int) -> None:
    """Fifty marks in one streamed ST.66 document, cut inside mark `after` + 1, or right after its
    end tag: the marks before come (streaming keeps them), each exactly as in the whole file;
    the mark cut short never does."""
    ind = read(shared_data, "trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml")
    tm = re.search(rb"<TradeMarkApplication>.*</TradeMarkApplication>", ind, re.S).group(0)
    head, tail = ind.split(tm)
    data = head + b"".join(tm.replace(b"DID2017000184", b"DID%09d" % i) for i in range(50)) + tail
    intact = whole(run(data, "trademark_xml")[0])
    assert len(intact) == 50
    ends = [m.end() for m in re.finditer(rb"</TradeMark>", data)]
    starts = [m.start() for m in re.finditer(rb"<TradeMark[ >]", data)]
    for cut_at in (ends[after], ends[after] + 5, (starts[after] + ends[after]) // 2):
        items, error = run(data[:cut_at], "trademark_xml")
        assert error is not None and error.rejection.code == "xml_truncated"
        got = whole(items)
        assert got == intact[:len(got)]  # nothing half-filled, nothing out of order
        assert after - 1 <= len(got) <= after + (cut_at >= ends[after])
