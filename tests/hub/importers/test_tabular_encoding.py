"""An undecodable byte in a CSV/TSV: every complete row before it is imported, then the file
fails with a located, bilingual `encoding` error (tabular text is decoded 64 KiB at a time, so
the rows sharing the bad byte's chunk are the ones at stake)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from xjip.hub import models as m
from xjip.hub.importers.base import iter_sources
from xjip.hub.importers.cn_biblio import CnBiblioImporter
from xjip.hub.pipeline import run_import
from xjip.hub.records import PatentRecord, SourceError
from xjip.hub.synth import write_cn_biblio_csv

ROWS = 3000
_MARK = "\x01"  # never written by synth; replaced by the bad bytes after encoding


def bad_csv(tmp_path: Path, row: int, *, encoding: str = "utf-8-sig", at_line_start: bool = False,
            newline: str | None = None) -> Path:
    """A synth export of ROWS rows whose data row `row` (1-based; physical line row + 1) holds
    one undecodable byte, in its title or as the line's first byte."""
    path = tmp_path / f"bad_{encoding}_{row}.csv"
    write_cn_biblio_csv(path, ROWS, 11)
    lines = path.read_bytes().decode("utf-8-sig").split("\n")
    assert len(lines) == ROWS + 2  # header, rows, '' after the last '\n': one physical line per row
    at = 0 if at_line_start else lines[row].index("]") + 1  # after '[合成]' in the title
    lines[row] = lines[row][:at] + _MARK + lines[row][at:]
    text = "\n".join(lines)
    if newline is not None:
        text = text.replace("\r\n", "\n").replace("\n", newline)
    if encoding == "utf-16":
        data = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
        mark, bad = _MARK.encode("utf-16-le"), b"\x00\xdc"  # a lone low surrogate
    else:
        data = text.encode(encoding)
        mark, bad = _MARK.encode("ascii"), b"\xff"
    assert data.count(mark) == 1
    path.write_bytes(data.replace(mark, bad))
    return path


def parse_until_error(path: Path) -> tuple[list, SourceError]:
    (source,) = iter_sources(path)
    got = []
    with pytest.raises(SourceError) as exc:
        for item in CnBiblioImporter().parse(source, {}):
            got.append(item)  # noqa: PERF402 - list() would drop them on the error
    return got, exc.value


CASES = {
    # deep inside a 64 KiB block, far from the head that encoding detection samples
    "utf8-bom-deep": {"row": 2500},
    "utf8-deep": {"row": 2500, "encoding": "utf-8"},
    # inside the head (first 64 KiB): detection finds no encoding for it
    "utf8-head": {"row": 40, "encoding": "utf-8"},
    "gb18030-head": {"row": 40, "encoding": "gb18030"},
    # among the first 3 bytes of a line in the first block: utf-8-sig error offsets skip the BOM
    "utf8-bom-line-start": {"row": 40, "at_line_start": True},
    # classic-Mac '\r' line ends and UTF-16 (Excel's "Unicode text"): decoded after reading
    "cr-deep": {"row": 2500, "newline": "\r"},
    "utf16-deep": {"row": 2500, "encoding": "utf-16", "newline": "\r\n"},
    "utf16-head": {"row": 40, "encoding": "utf-16", "newline": "\r\n"},
}


@pytest.mark.parametrize("case", CASES)
def test_rows_before_the_bad_byte_are_yielded(tmp_path: Path, case: str) -> None:
    spec = dict(CASES[case])
    row = spec.pop("row")
    path = bad_csv(tmp_path, row, **spec)
    got, err = parse_until_error(path)
    assert all(isinstance(item, PatentRecord) for item in got)
    assert [item.locator.record for item in got] == list(range(1, row))  # the bad row is not among them
    assert got[-1].locator.line == row
    assert err.rejection.code == "encoding"
    assert err.rejection.locator.line == row + 1
    assert err.rejection.locator.record is None


# A bad byte in the head does not hide the header from format detection either.
@pytest.mark.parametrize(("case", "format"), [("utf8-bom-deep", None), ("utf8-head", None), ("gb18030-head", None),
                                              ("utf8-head", "cn_biblio")])
def test_import_keeps_rows_before_the_bad_byte(store, tmp_path: Path, case: str, format: str | None) -> None:
    spec = dict(CASES[case])
    row = spec.pop("row")
    path = bad_csv(tmp_path, row, **spec)
    job = run_import(store, path, format=format)
    assert job.status == "failed"
    assert job.error["code"] == "encoding" and job.error["locator"] == f"{path.name}:line {row + 1}"
    assert "无法识别文件编码" in job.error["message_zh"] and "Cannot determine the file encoding" in job.error["message_en"]
    assert job.inserted_count == row - 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == row - 1
