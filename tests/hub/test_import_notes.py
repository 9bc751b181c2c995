"""A document repaired to be read (a bare `&` or `<`, issue 9 §7) is imported and its note shown
where a person looks: `xjip import`, `xjip jobs show`, the rejection report; counted apart from the
rejections. Through click's CliRunner, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import re
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from xjip.cli import main
from xjip.hub import models as m
from xjip.hub.import_notes import job_notes
from xjip.hub.queries import job_detail

US_APP = "patents/real_exports/uspto/us_application_v4-4-A1.xml"


def run(settings, *args: str):  # noqa: ANN001, ANN201
    return CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir, *args],
                              catch_exceptions=False)


def with_amp(shared_data: Path, tmp_path: Path, name: str = "us_with_amp.xml") -> tuple[Path, int]:
    data = (shared_data / US_APP).read_bytes()
    at = data.index(b">", data.index(b"<invention-title")) + 1
    path = tmp_path / name
    path.write_bytes(data[:at] + b"R&D x < 5 " + data[at:])
    return path, data.count(b"\n", 0, at) + 1


def test_cli_import_takes_the_record_and_shows_the_note(settings, store, shared_data: Path,  # noqa: ANN001
                                                        tmp_path: Path) -> None:
    path, line = with_amp(shared_data, tmp_path)
    result = run(settings, "import", str(path), "--quiet", "--report", str(tmp_path / "report.csv"))
    assert result.exit_code == 0, result.output
    assert "新增 inserted 1" in result.output and "拒绝 rejected 0" in result.output
    assert "注意 1 条（记录已导入）： / 1 note(s) (records imported):" in result.output
    assert f"us_with_amp.xml:#1:line {line}: XML 文档中有 2 个未转义的“&”或“<”（第 {line} 行“&”；第 {line} 行“<”）" \
           in result.output
    assert f"('&' line {line}; '<' line {line})" in result.output
    assert "were read as text and the record was imported" in result.output
    with store.reading() as s:
        job = s.scalars(select(m.ImportJob)).one()
        patent = s.scalars(select(m.Patent)).one()
        assert (job.status, job.inserted_count, job.rejected_count) == ("done", 1, 0)
        assert patent.title.startswith("R&D x < 5 METHODS AND APPARATUS")
        job_id = job.id
        assert job_notes(s, job_id)["total"] == 1
    # the report lists the note with its own code and a message saying the record was imported
    with open(tmp_path / "report.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["code"], r["line"]) for r in rows] == [("xml_repaired", str(line))]
    assert "记录已导入" in rows[0]["message_zh"] and "was imported" in rows[0]["message_en"]

    shown = json.loads(run(settings, "jobs", "show", str(job_id), "--format", "json").output)
    assert shown["notes"]["total"] == 1 and shown["rejected"] == 0 and "rejection_summary" not in shown
    assert shown["notes"]["items"][0]["line"] == line


def test_notes_and_rejections_are_counted_apart(settings, store, shared_data: Path,  # noqa: ANN001
                                                tmp_path: Path) -> None:
    """One file of three documents: one repaired, one broken beyond repair, one clean."""
    path, _ = with_amp(shared_data, tmp_path)
    clean = (shared_data / US_APP).read_bytes()
    broken = clean.replace(b"</abstract>", b"</abstrakt>", 1)
    second = clean.replace(b"<doc-number>17173265</doc-number>", b"<doc-number>17173266</doc-number>")
    both_files = tmp_path / "three.xml"
    both_files.write_bytes(path.read_bytes() + b"\n" + broken + b"\n" + second)
    result = run(settings, "import", str(both_files), "--quiet", "--format", "json")
    data = json.loads(result.output)
    assert (data["inserted"], data["rejected"], data["notes"]["total"]) == (2, 1, 1)
    assert [(g["code"], g["count"]) for g in data["rejection_summary"]] == [("xml_malformed", 1)]
    with store.reading() as s:
        detail = job_detail(s, data["id"])
    assert [r["code"] for r in detail["rejections"]] == ["xml_malformed"]
    assert [n["code"] for n in detail["notes"]["items"]] == ["xml_repaired"]
    assert detail["counts"]["rejected"] == 1


def test_parse_processes_store_the_same_notes(store, tmp_path: Path) -> None:  # noqa: ANN001
    """A note made in a parse process (`XJIP_IMPORT_PARALLEL_MB`) is stored as one process stores
    it: once, located the same."""
    import dataclasses

    from xjip.hub.pipeline import run_import
    from xjip.hub.store import Store
    from xjip.hub.synth import iter_cnipa_xml

    docs = [doc.encode("utf-8") for _p, doc in iter_cnipa_xml(120, seed=31)]
    for i in (29, 88):
        title = re.search(rb"<(?:[\w:]+:)?(?:InventionTitle|invention-title)[^>]*>", docs[i])
        docs[i] = docs[i][:title.end()] + b"R&D " + docs[i][title.end():]
    path = tmp_path / "notes.xml"
    path.write_bytes(b"".join(docs))
    seen = []
    for parallel_mb in (-1, 0):
        mode = Store(dataclasses.replace(store.settings, import_parallel_mb=parallel_mb))
        try:
            job = run_import(mode, path)
            with mode.reading() as s:
                notes = job_notes(s, job.id)
            seen.append(((job.status, job.inserted_count, job.rejected_count),
                         [(n["record"], n["line"], n["message_en"]) for n in notes["items"]]))
            with mode.session() as s:
                for table in reversed(m.Base.metadata.sorted_tables):
                    s.execute(table.delete())
        finally:
            mode.dispose()
    assert seen[0] == seen[1]
    assert seen[0][0] == ("done", 120, 0) and [r for r, _l, _m in seen[0][1]] == [30, 89]
