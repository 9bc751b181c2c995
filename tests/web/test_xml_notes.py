"""The job page, its JSON twin and its report show a repaired document's note (issue 9 §7) apart
from the rejections, in Chinese and English; on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from xjip.hub.pipeline import run_import

from .conftest import client_as

US_APP = "patents/real_exports/uspto/us_application_v4-4-A1.xml"


def test_job_page_shows_the_note_apart_from_rejections(app, users, store, shared_data: Path,  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    data = (shared_data / US_APP).read_bytes()
    at = data.index(b">", data.index(b"<invention-title")) + 1
    line = data.count(b"\n", 0, at) + 1
    path = tmp_path / "us_with_amp.xml"
    path.write_bytes(data[:at] + b"R&D x < 5 " + data[at:])
    job = run_import(store, path)
    assert (job.status, job.inserted_count, job.rejected_count) == ("done", 1, 0)

    staff, _ = client_as(app, "staff1")
    page = staff.get(f"/jobs/{job.id}").text
    notes = page[page.index('id="job-notes"'):]
    assert "注意事项（记录已导入）" in notes and "(1)" in notes
    assert f"XML 文档中有 2 个未转义的“&amp;”或“&lt;”（第 {line} 行“&amp;”；第 {line} 行“&lt;”）" in notes
    rejections = page[page.index('id="rejections"'):page.index('id="job-notes"')]
    assert "xml_repaired" not in rejections  # not listed as a rejection
    english = staff.get(f"/jobs/{job.id}?lang=en").text
    assert "Notes (records imported)" in english and "were read as text and the record was imported" in english

    api = staff.get(f"/api/jobs/{job.id}").json()
    assert api["counts"]["rejected"] == 0 and api["rejections"] == [] and api["rejection_summary"] == []
    assert api["notes"]["total"] == 1 and api["notes"]["items"][0]["line"] == line

    report = staff.get(f"/jobs/{job.id}/rejections.csv")
    assert report.status_code == 200
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [r[5] for r in rows[1:]] == ["xml_repaired"] and "was imported" in rows[1][7]
    assert f'href="/jobs/{job.id}/rejections.csv"' in page  # offered although nothing was rejected
