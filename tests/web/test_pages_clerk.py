"""Pages and commands a clerk can read (issue 10 §4), each tested the way it was found: the jobs
list shows what a re-import did and says when more jobs exist; a failed job never shows
`[None]`; an unknown region code is refused with a located, bilingual error; an unrecognised
file points to the formats, templates and column mapping. On SQLite and PostgreSQL."""
from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from xjip.cli import main
from xjip.hub.pipeline import run_import

from .conftest import client_as


def cli(settings, *args: str):  # noqa: ANN001, ANN201
    return CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir, *args],
                              catch_exceptions=False)


def _gi_csv(shared_data: Path, tmp_path: Path, rows: int = 5) -> Path:
    lines = (shared_data / "gi" / "xinjiang_gi_records.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "gi_five.csv"
    path.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    return path


def test_a_reimport_shows_as_unchanged_in_the_jobs_list(app, store, users, settings, shared_data, tmp_path):  # noqa: ANN001
    path = _gi_csv(shared_data, tmp_path)
    first = run_import(store, path)
    again = run_import(store, path)
    assert (first.inserted_count, again.inserted_count, again.unchanged_count) == (5, 0, 5)

    staff, _ = client_as(app, "staff1")
    html = staff.get("/jobs").text
    assert "未变" in html
    row = re.search(rf'<tr><td><a href="/jobs/{again.id}">.*?</tr>', html, re.S).group(0)
    assert re.findall(r'class="num count-unchanged">([^<]*)<', row) == ["5"]
    assert "Unchanged" in staff.get("/jobs?lang=en").text

    listed = cli(settings, "jobs", "list")
    assert listed.exit_code == 0, listed.output
    head_zh, head_en, *rows = listed.output.splitlines()
    assert head_zh.split() == ["作业", "读取", "新增", "更新", "未变", "拒绝", "状态", "文件"]
    assert head_en.split() == ["job", "read", "inserted", "updated", "unchanged", "rejected", "status", "file"]
    assert rows[0].split()[:6] == [str(again.id), "5", "0", "0", "5", "0"]
    assert "已完成 / Done" in rows[0]
    assert "仅显示" not in listed.output  # all jobs shown: nothing said


def test_jobs_list_says_when_more_jobs_exist(store, settings, shared_data, tmp_path):  # noqa: ANN001
    path = _gi_csv(shared_data, tmp_path, rows=1)
    jobs = [run_import(store, path) for _ in range(3)]
    shown = cli(settings, "jobs", "list", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert [line.split()[0] for line in lines[2:4]] == [str(jobs[2].id), str(jobs[1].id)]
    assert "仅显示最新的 2 个作业（共 3 个）" in shown.output and "Showing the newest 2 of 3 jobs" in shown.output
    data = json.loads(cli(settings, "jobs", "list", "--limit", "2", "--format", "json").output)
    assert (data["total"], data["shown"], len(data["items"])) == (3, 2, 2)
    assert cli(settings, "jobs", "list", "--limit", "0").exit_code == 2


def test_a_failed_job_never_shows_none_and_points_to_the_formats(app, store, users, settings, tmp_path):  # noqa: ANN001
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello\x00world")
    result = cli(settings, "import", str(junk), "--quiet")
    assert result.exit_code != 0
    job_id = int(re.search(r"作业/job (\d+)", result.output).group(1))
    for output in (result.output, cli(settings, "jobs", "show", str(job_id)).output,
                   cli(settings, "jobs", "list").output):
        assert "None" not in output, output
    shown = cli(settings, "jobs", "show", str(job_id)).output
    assert f"作业/job {job_id}: 失败 / Failed  junk.bin [格式未识别 / format not recognised]" in shown
    # the next step: the formats table, the templates, the column mapping, in both languages
    assert "/templates#formats" in shown and "xjip import-formats" in shown and "--mapping" in shown
    assert "Next: check the supported formats" in shown and "import template" in shown

    job_page = client_as(app, "staff1")[0].get(f"/jobs/{job_id}").text
    assert 'id="job-format">格式未识别</td>' in job_page and "None" not in job_page
    page = client_as(app, "staff1")[0].get("/templates")
    assert page.status_code == 200 and 'id="formats"' in page.text and "<code>gi_list</code>" in page.text
    api = client_as(app, "staff1")[0].get("/api/templates").json()
    assert {"gi_list", "cn_biblio", "trademark_xml"} <= {f["name"] for f in api["importers"]}


def test_an_unknown_prefecture_is_an_error_not_zero_records(ro, tmp_path) -> None:  # noqa: ANN001
    settings = ro.settings
    out = tmp_path / "none.csv"
    result = cli(settings, "export", "patent", "--prefecture", "999999", "-o", str(out))
    assert result.exit_code == 2 and not out.exists()
    assert "--prefecture: 地州市代码 999999 不存在" in result.output
    assert "There is no prefecture with code 999999" in result.output
    county = cli(settings, "export", "gi", "--county", "659999", "-o", str(out))
    assert county.exit_code == 2 and "县市区代码 659999 不存在" in county.output and not out.exists()
    # a known code still exports (and the special values none / other)
    for code in ("652900", "none", "other"):
        ok = cli(settings, "export", "gi", "--prefecture", code, "-o", str(out))
        assert ok.exit_code == 0, ok.output

    for url in ("/api/records/patent?prefecture=999999", "/records/patent/export?prefecture=999999",
                "/api/records/gi?county=659999"):
        answer = ro.client.get(url, headers={"Accept": "application/json"})
        assert answer.status_code == 400, url
        body = answer.json()["error"]
        assert body["code"] == "bad_filter" and body["detail"]["field"] in ("prefecture", "county")
        assert "不存在" in body["message_zh"] and "There is no" in body["message_en"]
    page = ro.client.get("/records/patent?prefecture=999999")
    assert page.status_code == 400 and "地州市代码 999999 不存在" in page.text
    assert ro.client.get("/api/records/gi?prefecture=652900").json()["total"] == 14


def test_stats_in_english_names_places_in_english(ro) -> None:  # noqa: ANN001
    settings = ro.settings
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir, "stats"],
                                env={"XJIP_DEFAULT_LANGUAGE": "en"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"652900\s+Aksu Prefecture\s+14\b", result.output), result.output
    assert "阿克苏地区" not in result.output
