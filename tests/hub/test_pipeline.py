"""The import pipeline on real databases: idempotent upserts, located rejections, resume,
locks. A tiny line importer (registered here, recognised only by its marker line) keeps
these tests about the pipeline itself; real formats are tested in tests/hub/importers."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from xjip.hub import models as m
from xjip.hub.importers.base import register
from xjip.hub.numbers import canonical_cn_app, cn_check_digit
from xjip.hub.pipeline import (ImportAlreadyRunning, ImportInterrupted, create_job, run_import, run_job,
                                 write_rejection_report)
from xjip.hub.records import Locator, Party, PatentRecord, RecordError, Rejection, SourceError

MARKER = b"#xjip-pipeline-test\n"


class LineImporter:
    """One JSON object per line after a marker line; {"stop": true} raises a SourceError."""

    name = "pipeline_test_lines"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        return 100 if head.startswith(MARKER) else 0

    def parse(self, source, options):  # noqa: ANN001, ANN201
        with source.open() as fh:
            fh.readline()
            for index, line in enumerate(fh, start=1):
                loc = Locator(source.name, index, index + 1)
                obj = json.loads(line)
                if obj.get("stop"):
                    raise SourceError(loc, "xml_truncated", detail="test")
                try:
                    yield PatentRecord(app_number=canonical_cn_app(obj["app"], "申请号"), title=obj["title"],
                                       applicants=[Party(obj["applicant"], obj.get("address"))],
                                       locator=loc, raw=obj)
                except RecordError as exc:
                    yield Rejection(loc, exc.code, exc.field, exc.params, raw=obj)


register(LineImporter())


def app_number(i: int) -> str:
    body = f"2023{1:01d}{i:07d}"
    return f"CN{body}.{cn_check_digit(body)}"


def write_lines(path: Path, rows: list[dict]) -> Path:
    with open(path, "wb") as fh:
        fh.write(MARKER)
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return path


def sample_rows(n: int) -> list[dict]:
    return [{"app": app_number(i), "title": f"一种节水灌溉装置 {i}", "applicant": "石河子大学",
             "address": "832003 新疆石河子市北四路221号"} for i in range(n)]


def count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_import_is_idempotent_and_places_records(store, tmp_path):
    src = write_lines(tmp_path / "p.jsonl", sample_rows(120))
    job = run_import(store, src)
    assert (job.status, job.read_count, job.inserted_count, job.rejected_count) == ("done", 120, 120, 0)
    assert count(store, m.Patent) == 120 and count(store, m.SourceRecord) == 120
    with store.session() as s:
        p = s.scalars(select(m.Patent).where(m.Patent.key == app_number(7))).one()
        assert p.county_code == "659001" or p.region_code == "659001"  # 石河子 (XPCC city)
        assert p.first_applicant == "石河子大学" and p.first_applicant_entity_id is not None
        assert p.source == "p.jsonl" and p.import_job_id == job.id
    again = run_import(store, src)
    assert again.id != job.id
    assert (again.inserted_count, again.updated_count, again.unchanged_count) == (0, 0, 120)
    # the place figures describe what was read: the same as the first time
    assert (again.addressed_count, again.placed_count) == (job.addressed_count, job.placed_count)
    assert job.placed_count > 0
    assert count(store, m.Patent) == 120
    rows = sample_rows(120)
    rows[3]["title"] = "一种改进的节水灌溉装置"
    changed = run_import(store, write_lines(tmp_path / "p.jsonl", rows))
    assert (changed.updated_count, changed.unchanged_count) == (1, 119)
    with store.session() as s:
        assert s.scalar(select(m.Patent.title).where(m.Patent.key == app_number(3))) == "一种改进的节水灌溉装置"


def test_rejections_are_located_and_bilingual(store, tmp_path):
    rows = sample_rows(5)
    rows[2]["app"] = rows[2]["app"][:-1] + ("0" if rows[2]["app"][-1] != "0" else "1")
    rows.append(dict(rows[0]))  # duplicate key within the file
    job = run_import(store, write_lines(tmp_path / "bad.jsonl", rows))
    assert (job.status, job.inserted_count, job.rejected_count) == ("done", 4, 2)
    with store.session() as s:
        rej = {r.code: r for r in s.scalars(select(m.ImportRejection))}
    assert rej["check_digit"].record == 3 and rej["check_digit"].field == "申请号"
    assert "校验位" in rej["check_digit"].message_zh and "check digit" in rej["check_digit"].message_en
    assert rej["duplicate_key"].record == 6 and rej["duplicate_key"].message_en.endswith("first seen at record 1")
    out = tmp_path / "report.csv"
    assert write_rejection_report(store, job.id, out) == 2
    assert "校验位" in out.read_text(encoding="utf-8-sig")


def test_source_error_keeps_earlier_records(store, tmp_path):
    rows = sample_rows(10) + [{"stop": True}] + sample_rows(20)[10:]
    job = run_import(store, write_lines(tmp_path / "cut.jsonl", rows))
    assert job.status == "failed" and job.inserted_count == 10
    assert job.error["code"] == "xml_truncated" and job.error["locator"] == "cut.jsonl:#11:line 12"
    assert count(store, m.Patent) == 10


def test_interrupted_job_resumes_without_duplicates(store, tmp_path):
    src = write_lines(tmp_path / "big.jsonl", sample_rows(230))
    batches = []

    def stop_after_two(job):
        batches.append(job.read_count)
        if len(batches) == 2:
            raise KeyboardInterrupt

    job_id = create_job(store, src, options={"batch_size": 50})
    with pytest.raises(ImportInterrupted) as stopped:  # a KeyboardInterrupt that names the job
        run_job(store, job_id, progress=stop_after_two)
    assert isinstance(stopped.value, KeyboardInterrupt) and stopped.value.job_id == job_id
    with store.session() as s:
        assert s.get(m.ImportJob, job_id).status == "interrupted"
    assert count(store, m.Patent) == 100
    assert create_job(store, src) == job_id  # the same source resumes the unfinished job
    job = run_job(store, job_id)
    assert (job.status, job.read_count, job.inserted_count, job.unchanged_count) == ("done", 230, 230, 0)
    assert count(store, m.Patent) == 230 and count(store, m.SourceRecord) == 230


def test_second_concurrent_start_is_refused_and_dead_lock_taken_over(store, tmp_path):
    src = write_lines(tmp_path / "l.jsonl", sample_rows(3))
    job_id = create_job(store, src)
    with store.session() as s:
        fp = s.get(m.ImportJob, job_id).fingerprint
        s.add(m.ImportLock(fingerprint=fp, job_id=job_id, pid=os.getppid(), host=os.uname().nodename))
        s.get(m.ImportJob, job_id).heartbeat_at = m.utcnow()
    with pytest.raises(ImportAlreadyRunning) as err:
        run_job(store, job_id)
    assert "正在导入" in str(err.value) and "already being imported" in str(err.value)
    with store.session() as s:
        s.get(m.ImportLock, fp).pid = 2**22 + 12345  # a pid that does not exist: the holder died
    assert run_job(store, job_id).status == "done"
    assert count(store, m.ImportLock) == 0


# --- one patent, met by its application number and by its publication number alone ----------

def _biblio_csv(path: Path, rows: list[list[str]]) -> Path:
    import csv

    from xjip.hub import synth

    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(synth.CSV_COLUMNS)
        out.writerows(rows)
    return path


def _synth_row(seed: int) -> list[str]:
    from xjip.hub import synth

    return synth.csv_row(next(synth.iter_patents(1, seed)))


@pytest.mark.parametrize("order", ["publication-first", "application-first"])
def test_a_patent_met_by_publication_number_alone_is_stored_once(store, tmp_path, order):
    full = _synth_row(31)
    app, pub = full[0], full[2]
    lone = [""] * len(full)
    lone[2], lone[5], lone[6] = pub, full[5], full[6]  # publication number, title, abstract only (a CNKI-like row)
    files = [_biblio_csv(tmp_path / "pub.csv", [lone]), _biblio_csv(tmp_path / "app.csv", [full])]
    if order == "application-first":
        files.reverse()
    for path in files:
        assert run_import(store, path).rejected_count == 0
    with store.session() as s:
        patents = s.scalars(select(m.Patent)).all()
        assert len(patents) == 1
        p = patents[0]
        assert (p.key, p.app_number, p.pub_number, p.title) == (canonical_cn_app(app), canonical_cn_app(app), pub,
                                                                 full[5])
        assert p.first_applicant == full[8]  # what only the full row had is there
        # each source keeps its own record of what it said
        assert sorted(s.scalars(select(m.SourceRecord.record_key))) == sorted([canonical_cn_app(app), pub])
    again = run_import(store, files[1])  # and re-importing changes nothing
    assert (again.inserted_count, again.updated_count, again.unchanged_count) == (0, 0, 1)


def test_json_columns_keep_chinese_as_utf8_text(store, tmp_path):
    """Inventors, agents (and a full text's claims) are stored as JSON text in UTF-8, not as
    \\uXXXX escapes (half the bytes for Chinese), and read back as the same lists."""
    full = _synth_row(41)
    path = _biblio_csv(tmp_path / "one.csv", [full])
    assert run_import(store, path).inserted_count == 1
    cast = "CAST({} AS TEXT)" if store.dialect == "postgresql" else "{}"
    with store.session() as s:
        inventors, agents = s.execute(text(
            f"SELECT {cast.format('inventors')}, {cast.format('agents')} FROM patent")).one()
        patent = s.scalars(select(m.Patent)).one()
        stored = (patent.inventors, patent.agents)
    assert "\\u" not in inventors + agents
    assert (json.loads(inventors), json.loads(agents)) == stored
    assert any("\u4e00" <= ch <= "\u9fff" for ch in inventors + agents)


def test_a_bibliographic_row_keeps_the_full_claims_a_full_text_gave(store, tmp_path):
    """主权项 in a bibliographic export is the first claim only: imported after the full text
    of the same patent, it neither cuts the claims down to one nor sets their count to 1.
    (Alone, the record page shows it as the claims: tests/web/test_actions.py.)"""
    from xjip.hub import synth

    p, doc = next(synth.iter_cnipa_xml(1, seed=43))
    xml = tmp_path / "full.xml"
    xml.write_text(doc, encoding="utf-8")
    csv_path = _biblio_csv(tmp_path / "biblio.csv", [synth.csv_row(p)])
    assert run_import(store, xml).inserted_count == 1
    with store.session() as s:
        full = s.scalars(select(m.PatentText.claims)).one()
        count = s.scalar(select(m.Patent.claims_count))
    assert len(full) == count > 1
    run_import(store, csv_path)
    with store.session() as s:
        assert s.scalars(select(m.PatentText.claims)).one() == full
        assert s.scalar(select(m.Patent.claims_count)) == count


def test_spreadsheet_damage_to_application_numbers(store, tmp_path):
    """An export that went through Excel: a number turned into scientific notation is rejected
    with what happened and what to do; the apostrophe Excel uses to keep text is dropped."""
    body = "202310012345"
    good = f"{body}.{cn_check_digit(body)}"
    path = tmp_path / "via_excel.csv"
    path.write_text("申请号,申请日,公开（公告）号,名称,申请（专利权）人,申请人地址\n"
                    "2.02310E+11,2023-02-03,CN115000001A,一种棉花采摘装置,新疆农业大学,新疆乌鲁木齐市沙依巴克区农大东路311号\n"
                    f"'CN{good},2023-02-03,CN115000002A,一种葡萄干制装置,新疆农业大学,新疆乌鲁木齐市沙依巴克区农大东路311号\n",
                    encoding="utf-8")
    job = run_import(store, path)
    assert (job.inserted_count, job.rejected_count) == (1, 1)
    with store.session() as s:
        assert s.scalar(select(m.Patent.key)) == f"CN{good}"
        rejection = s.scalars(select(m.ImportRejection)).one()
    assert (rejection.line, rejection.field, rejection.code) == (2, "申请号", "spreadsheet_number")
    assert rejection.message_zh.startswith("号码被电子表格改成了科学计数法（2.02310E+11）")
    assert "set the column to Text" in rejection.message_en
