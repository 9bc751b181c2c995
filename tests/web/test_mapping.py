"""Staff map the columns of a layout nobody knew on the job page: the unmapped columns listed,
a field chosen for each, 20 rows previewed as mapped, the file imported again; the mapping is
saved and the next file with the same header is imported with it by itself (both databases)."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from sqlalchemy import func, select

from xjip.hub import models as m

from .conftest import client_as

HEADER = ["Patent No.", "Invention Title", "Filing Date", "Owner", "Region", "Notes"]
ROWS = [["CN202223220665.2", "一种无人机机载多功能盒", "2022-12-02", "中科大数据研究院", "新疆;65", "a"],
        ["CN202122975192.6", "一种可拍照便携式实时语音播报端测摄像头", "2021-11-30", "中科大数据研究院", "41", "b"],
        ["CN202121635235.X", "一种数据采集装置", "2021-07-16", "新疆大学", "65", "c"]]


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _wait(client, job_id: int) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["finished"]:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _upload(client, token: str, name: str, data: bytes) -> dict:  # noqa: ANN001
    response = client.post("/api/import", files={"file": (name, data, "text/csv")}, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.text
    return _wait(client, response.json()["job_id"])


def test_unknown_columns_mapped_on_the_job_page_saved_and_reused(app, store, users) -> None:  # noqa: ANN001
    staff, token = client_as(app, "staff1")
    job = _upload(staff, token, "owners.csv", _csv([HEADER, *ROWS]))
    # no importer knows these headers: the error names the file's columns, to be mapped
    assert job["status"] == "failed" and job["error"]["code"] == "unknown_format"
    assert "Patent No.、Invention Title、Filing Date、Owner、Region、Notes" in job["error"]["message_en"]

    page = staff.get(f"/jobs/{job['id']}")
    assert page.status_code == 200 and 'id="mapping-form"' in page.text
    view = staff.get(f"/api/jobs/{job['id']}/mapping").json()
    assert [c["header"] for c in view["columns"]] == HEADER
    assert [c["field"] for c in view["columns"]] == [None, None, "app_date", None, None, None]
    assert view["columns"][0]["samples"] == [r[0] for r in ROWS]
    assert view["preview"]["code"] == "unmapped_columns"  # as it stands the file is still refused

    form = {"csrf_token": token, "col_0": "app_number", "col_1": "title", "col_2": "app_date",
            "col_3": "applicants", "col_4": "province", "col_5": "-"}
    preview = staff.post(f"/jobs/{job['id']}/mapping/preview", data=form)
    assert preview.status_code == 200 and 'id="mapping-preview-rows"' in preview.text
    assert preview.text.count('class="preview-ok"') == 3 and "一种数据采集装置" in preview.text
    bad = staff.post(f"/jobs/{job['id']}/mapping/preview", data={**form, "col_1": "no_such_field"})
    assert bad.status_code == 400  # a located, bilingual refusal, never a 500

    applied = staff.post(f"/jobs/{job['id']}/mapping", data=form, follow_redirects=False)
    assert applied.status_code == 303 and applied.headers["location"] == f"/jobs/{job['id']}"
    again = _wait(staff, job["id"])
    assert again["status"] == "done" and again["counts"]["inserted"] == 3 and again["counts"]["rejected"] == 0
    with store.session() as s:
        saved = s.scalars(select(m.ColumnMapping)).one()
        assert saved.mapping == {"Patent No.": "app_number", "Invention Title": "title", "Filing Date": "app_date",
                                 "Owner": "applicants", "Region": "province", "Notes": "-"}
        assert saved.created_by == "staff1" and saved.header == HEADER
        assert s.scalar(select(m.Patent.province_code).where(m.Patent.app_number == "CN202121635235.X")) == "65"

    # the next file with the same header (spelt with other spaces and brackets) needs no mapping
    other = [" patent no. ", "Invention  Title", "Filing Date", "Owner", "Region", "Notes"]
    nxt = _upload(staff, token, "owners_2024.csv", _csv([other, ["CN202211740332.4", "一种新的装置", "2022-12-30",
                                                                  "石河子大学", "65", "d"]]))
    assert nxt["status"] == "done" and nxt["counts"]["inserted"] == 1, nxt
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == 4
        events = {e.tag for e in s.scalars(select(m.AuditEvent))}
    assert {"web:import:mapping", "hub:mapping:save"} <= events


def test_a_file_without_header_is_mapped_by_position(app, store, users) -> None:  # noqa: ANN001
    staff, token = client_as(app, "staff1")
    job = _upload(staff, token, "bare.csv", _csv(ROWS))
    assert job["status"] == "failed"
    page = staff.get(f"/jobs/{job['id']}?map=1&headerless=1")
    assert page.status_code == 200 and "第 1 列" in page.text
    form = {"csrf_token": token, "headerless": "1", "col_0": "app_number", "col_1": "title", "col_3": "applicants"}
    applied = staff.post(f"/jobs/{job['id']}/mapping", data=form, follow_redirects=False)
    assert applied.status_code == 303
    done = _wait(staff, job["id"])
    assert done["status"] == "done" and done["counts"]["inserted"] == 3  # the first row is data too
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.ColumnMapping)) == 0  # no header to know it by


def test_mapping_routes_need_staff_and_csrf(app, store, users) -> None:  # noqa: ANN001
    staff, token = client_as(app, "staff1")
    job = _upload(staff, token, "owners.csv", _csv([HEADER, *ROWS]))
    viewer, vtoken = client_as(app, "viewer1")
    assert viewer.get(f"/api/jobs/{job['id']}/mapping").status_code == 403
    assert staff.post(f"/api/jobs/{job['id']}/mapping", json={"mapping": {"Patent No.": "app_number"}}
                      ).status_code == 403  # no CSRF token
    assert staff.get("/api/jobs/999999/mapping").status_code == 404
    empty = staff.post(f"/api/jobs/{job['id']}/mapping", json={"mapping": {"Patent No.": "-"}},
                       headers={"X-CSRF-Token": token})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "mapping_empty"
    api = staff.post(f"/api/jobs/{job['id']}/mapping/preview", headers={"X-CSRF-Token": token},
                     json={"mapping": {"Patent No.": "app_number", "Invention Title": "title"}})
    assert api.status_code == 200 and len(api.json()["preview"]["rows"]) == 3
    assert api.json()["preview"]["rows"][2]["app_number"] == "CN202121635235.X"


def test_saved_mapping_is_used_by_the_command_line_import_too(store, tmp_path: Path) -> None:
    """The same hub function serves both: a header saved on the web is known to `xjip import`."""
    from xjip.hub.pipeline import run_import

    path = tmp_path / "owners.csv"
    path.write_bytes(_csv([HEADER, *ROWS]))
    first = run_import(store, path)
    assert first.status == "failed" and first.error["code"] == "unknown_format"
    from xjip.hub import mappings

    result = mappings.apply(store, first.id, {"Patent No.": "app_number", "Invention Title": "title"}, "staff1")
    assert result == {"job_id": first.id, "mapping_id": result["mapping_id"], "new_job": False}
    from xjip.hub.pipeline import run_job

    assert run_job(store, first.id).inserted_count == 3
    copy = tmp_path / "owners_copy.csv"
    copy.write_bytes(_csv([HEADER, *ROWS[:2], ["CN202211740332.4", "一种新的装置", "", "", "", ""]]))
    assert run_import(store, copy).inserted_count == 1  # two unchanged, one new: the saved mapping applied
