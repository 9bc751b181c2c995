"""Issue 10 §3: archives and files built to hurt an import. A zip or gzip bomb is refused with a
located message in both languages (job page and CLI, no traceback); a file of junk rows stops at
`import_max_rejections` and keeps a sample of each reason with exact counts, not every row.
On SQLite and PostgreSQL."""
from __future__ import annotations

import gzip
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from xjip.cli import main
from xjip.hub import models as m
from xjip.hub import pipeline
from xjip.hub.importers.base import MAX_ZIP_RATIO, RATIO_FLOOR
from xjip.hub.synth import write_cn_biblio_csv

from .conftest import client_as
from .test_actions import _wait_for


def _header(tmp_path: Path) -> str:
    write_cn_biblio_csv(tmp_path / "one.csv", 2, seed=5)
    with open(tmp_path / "one.csv", encoding="utf-8") as fh:
        return fh.readline()


def _junk_rows(tmp_path: Path, n: int, *, good: int = 0, name: str = "rows.csv.gz") -> Path:
    """A valid header (and `good` real rows), then `n` rows of junk: the shape of the rows bomb
    (3.1 MB of gzip, 30 million junk rows) at a size a test can afford."""
    write_cn_biblio_csv(tmp_path / "good.csv", max(good, 1), seed=9)
    lines = (tmp_path / "good.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    rnd = random.Random(7)
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(lines[:1 + good])
        for _ in range(n):
            fh.write(f"{rnd.randrange(16**8):x},{rnd.random()}\n")
    return path


def _zip_bomb(tmp_path: Path) -> Path:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a_good.csv", _header(tmp_path))
        zf.writestr("data.csv", "申请号,名称\n" + "0" * (20 << 20))  # 20 MiB of zeros: ~1,000:1
    return path


def _rejections(store) -> int:  # noqa: ANN001
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(m.ImportRejection)) or 0


def test_a_refused_zip_bomb_reads_as_a_message_on_the_job_page(app, store, users, tmp_path) -> None:  # noqa: ANN001
    """Found: the job page showed a raw `zip_unsafe {'detail': …}`."""
    staff, token = client_as(app, "staff1")
    path = _zip_bomb(tmp_path)
    upload = staff.post("/api/import", files={"file": ("bomb.zip", path.read_bytes(), "application/zip")},
                        headers={"X-CSRF-Token": token})
    job = _wait_for(staff, upload.json()["job_id"])
    assert job["status"] == "failed" and job["counts"]["read"] == 0 and job["counts"]["inserted"] == 0
    assert job["error"]["code"] == "archive_ratio" and job["error"]["locator"] == "bomb.zip!/data.csv"
    assert "压缩炸弹" in job["error"]["message_zh"] and "decompression bomb" in job["error"]["message_en"]
    page = staff.get(f"/jobs/{job['id']}").text
    assert "疑似“压缩炸弹”" in page and "bomb.zip!/data.csv" in page
    assert "zip_unsafe" not in page and "{'detail'" not in page and "{ratio}" not in page
    assert "decompression bomb" in staff.get(f"/jobs/{job['id']}", params={"lang": "en"}).text
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == 0  # the good member was not read either


def test_a_refused_zip_bomb_is_a_message_on_the_command_line(store, tmp_path) -> None:  # noqa: ANN001
    """Found: `xjip import bomb.zip` printed a traceback ("crashed") and exited 2."""
    import os

    path = _zip_bomb(tmp_path)
    env = {**os.environ, "XJIP_DATABASE_URL": store.settings.database_url, "XJIP_DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run([sys.executable, "-m", "xjip.cli", "import", str(path), "--quiet"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "crashed" not in done.stderr
    assert "错误 bomb.zip!/data.csv: 解压后的大小是压缩大小的" in done.stdout
    assert "error bomb.zip!/data.csv: Decompresses to" in done.stdout


def test_a_gzip_bomb_is_refused_by_its_ratio(store, tmp_path) -> None:  # noqa: ANN001
    """The zip ratio limit holds for gzip: by the size its trailer states, and, as the trailer can
    lie, while the stream is read."""
    body = (_header(tmp_path) + "0" * (8 << 20)).encode("utf-8")
    honest = tmp_path / "honest.csv.gz"
    honest.write_bytes(gzip.compress(body))
    assert len(body) > MAX_ZIP_RATIO * honest.stat().st_size
    job = pipeline.run_import(store, honest)
    assert (job.status, job.read_count, job.error["code"]) == ("failed", 0, "archive_ratio")
    lying = tmp_path / "lying.csv.gz"
    data = bytearray(gzip.compress(body))
    data[-4:] = (2 * len(data)).to_bytes(4, "little")  # ISIZE: "twice my size", a ratio of 2
    lying.write_bytes(bytes(data))
    job = pipeline.run_import(store, lying)
    assert job.status == "failed" and job.error["code"] == "archive_ratio" and job.error["locator"] == "lying.csv.gz"
    assert "压缩炸弹" in job.error["message_zh"]
    small = tmp_path / "small.csv.gz"  # a small file that compresses well is no bomb: read, not refused
    small.write_bytes(gzip.compress((_header(tmp_path) + "CN1," + " " * (RATIO_FLOOR - 5000) + "\n").encode()))
    assert small.stat().st_size * MAX_ZIP_RATIO < RATIO_FLOOR
    job = pipeline.run_import(store, small)
    assert job.read_count == 1 and (job.error or {}).get("code") != "archive_ratio"


@pytest.mark.parametrize("parallel_mb", [-1, 0], ids=["in-process", "parse-process"])
def test_a_rows_bomb_stops_at_the_bound_and_keeps_a_sample_per_reason(store, tmp_path, monkeypatch, parallel_mb) -> None:  # noqa: ANN001
    """Found: a .gz of a valid header and 30 million junk rows stored 421,999 rejection rows and
    220 MB in 66 s. Now the job stops past `import_max_rejections`, with a message that says
    what to do; each reason keeps its first REJECTION_SAMPLES records, and counts all."""
    monkeypatch.setattr(pipeline, "REJECTION_SAMPLES", 40)
    store.settings.import_max_rejections = 1500
    store.settings.import_parallel_mb = parallel_mb
    path = _junk_rows(tmp_path, 6000, good=30)
    job = pipeline.run_import(store, path, options={"batch_size": 500})
    assert job.status == "failed" and job.error["code"] == "too_many_rejections"
    assert 1500 < job.rejected_count <= 2000 and job.read_count < 6030  # stopped at the batch that passed it
    assert job.inserted_count == 30  # the good rows before the junk are kept
    assert "1,500" in job.error["message_zh"] and "XJIP_IMPORT_MAX_REJECTIONS" in job.error["message_en"]
    assert job.error["locator"].startswith("rows.csv.gz:#")
    counts = job.rejection_counts
    assert sum(counts.values()) == job.rejected_count
    with store.session() as s:
        kept = dict(s.execute(select(m.ImportRejection.code, func.count()).group_by(m.ImportRejection.code)).all())
    assert kept and all(n <= 40 for n in kept.values()) and _rejections(store) == sum(kept.values())
    from xjip.hub.queries import rejection_summary

    with store.reading() as s:
        summary = rejection_summary(s, job.id)
    assert sum(g["count"] for g in summary) == job.rejected_count
    assert all(g["kept"] == min(g["count"], 40) for g in summary)
    # resumed with the bound raised, it reads on to the end; the counts stay exact
    store.settings.import_max_rejections = 0
    job = pipeline.run_job(store, job.id)
    assert (job.status, job.read_count, job.rejected_count, job.inserted_count) == ("done", 6030, 6000, 30)
    assert sum(job.rejection_counts.values()) == 6000 and _rejections(store) <= 40 * len(job.rejection_counts)


def test_the_job_page_and_the_cli_count_every_rejection_and_say_how_many_are_kept(app, store, users, tmp_path,
                                                                                 monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(pipeline, "REJECTION_SAMPLES", 25)
    path = _junk_rows(tmp_path, 600)
    job = pipeline.run_import(store, path)
    assert job.status == "done" and job.rejected_count == 600
    staff, _ = client_as(app, "staff1")
    data = staff.get(f"/api/jobs/{job.id}").json()
    assert sum(g["count"] for g in data["rejection_summary"]) == 600
    top = data["rejection_summary"][0]
    assert top["count"] > 25 and top["kept"] == 25
    page = staff.get(f"/jobs/{job.id}").text
    assert f"{top['count']:,}" in page and "保留前 25 条示例" in page
    only = staff.get(f"/api/jobs/{job.id}", params={"code": top["code"], "page_size": 200}).json()
    assert len(only["rejections"]) == 25
    report = tmp_path / "report.csv"
    result = CliRunner().invoke(main, ["--database-url", store.settings.database_url, "--data-dir", str(tmp_path),
                                       "jobs", "show", str(job.id)])
    assert result.exit_code == 0 and f"{top['count']:,} × {top['code']}" in result.output
    result = CliRunner().invoke(main, ["--database-url", store.settings.database_url, "--data-dir", str(tmp_path),
                                       "jobs", "report", str(job.id), str(report)])
    assert result.exit_code == 0 and report.read_text(encoding="utf-8-sig").count("\n") - 1 == _rejections(store)
