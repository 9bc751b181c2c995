"""`xjip stats` and `xjip user …` through click's CliRunner, on both databases."""
from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from xjip.cli import main
from xjip.hub import models as m
from xjip.hub import queries
from xjip.web.auth import authenticate

from .conftest import Loaded


def run(settings, *args: str, stdin: str | None = None):  # noqa: ANN001, ANN201
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir, *args],
                                input=stdin, catch_exceptions=False)
    return result


def test_stats_json_is_the_overview(settings, store, loaded: Loaded) -> None:
    result = run(settings, "stats", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    with store.session() as s:
        direct = queries.overview(s)
    assert data["total"] == direct["total"] == 152
    assert {t["record_type"]: t["total"] for t in data["by_type"]}["gi"] == 93
    assert {r["code"]: r["counts"] for r in data["by_prefecture"]}["652900"] == {"gi": 14}


def test_stats_text(settings, loaded: Loaded) -> None:
    result = run(settings, "stats")
    assert result.exit_code == 0, result.output
    assert "数据中心统计 — 合计: 152" in result.output
    assert "地理标志" in result.output and "652900  阿克苏地区" in result.output


def test_user_add_list_passwd(settings, store) -> None:
    added = run(settings, "user", "add", "clerk", "--role", "staff", "--password-stdin", stdin="clerk-password-1\n")
    assert added.exit_code == 0, added.output
    assert "用户 clerk（staff）已创建。" in added.output
    listed = json.loads(run(settings, "user", "list", "--format", "json").output)
    assert [(u["username"], u["role"]) for u in listed] == [("clerk", "staff")]
    changed = run(settings, "user", "passwd", "clerk", "--password-stdin", stdin="clerk-password-2\n")
    assert changed.exit_code == 0 and "clerk" in changed.output
    with store.session() as s:
        assert authenticate(s, "clerk", "clerk-password-2") is not None
        assert authenticate(s, "clerk", "clerk-password-1") is None
        tags = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    assert tags == ["web:user:create", "web:user:passwd"]
    text = run(settings, "user", "list").output
    assert text.startswith("clerk") and "staff" in text


def test_user_errors_in_both_languages(settings) -> None:
    short = run(settings, "user", "add", "clerk", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert "密码至少需要 8 个字符。" in short.output and "The password needs at least 8 characters." in short.output
    run(settings, "user", "add", "clerk", "--password-stdin", stdin="long-enough-1\n")
    twice = run(settings, "user", "add", "CLERK", "--password-stdin", stdin="long-enough-1\n")
    assert twice.exit_code == 1 and "already exists" in twice.output
    missing = run(settings, "user", "passwd", "nobody", "--password-stdin", stdin="long-enough-1\n")
    assert missing.exit_code == 1 and "用户 nobody 不存在。" in missing.output


def test_serve_is_registered() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output


def test_a_setting_that_cannot_be_used_is_named_without_a_traceback(settings, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("XJIP_DISPLAY_TIMEZONE", "Mars/Olympus")
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir,
                                       "stats"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "XJIP_DISPLAY_TIMEZONE: unknown time zone 'Mars/Olympus'" in result.output and "未知时区" in result.output


def test_export_writes_the_filtered_records_unmasked(settings, loaded: Loaded, tmp_path) -> None:  # noqa: ANN001
    """`xjip export`: the list page's download for an operator (every record, no bound, nothing
    masked), in either format, and a refused file type says which ones it takes."""
    import csv
    import io

    import openpyxl

    out = tmp_path / "aksu.xlsx"
    result = run(settings, "export", "gi", "--prefecture", "652900", "-o", str(out))
    assert result.exit_code == 0 and "已导出 14 条记录" in result.output, result.output
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert len(rows) == 15 and rows[0][rows[0].index("地州市")] == "地州市"
    # a GI is in a prefecture by its protected area: one spanning several has no single code of its own
    assert {r[rows[0].index("地州市代码")] for r in rows[1:]} <= {"652900", None}
    institution = tmp_path / "inst.csv"
    assert run(settings, "export", "institution", "-o", str(institution), "--lang", "en").exit_code == 0
    table = list(csv.DictReader(io.StringIO(institution.read_text(encoding="utf-8-sig"))))
    assert len(table) == 1 and table[0]["Phone"], table  # an operator's file keeps the contact details
    bad = run(settings, "export", "gi", "-o", str(tmp_path / "x.txt"))
    assert bad.exit_code == 2 and ".csv" in bad.output and ".xlsx" in bad.output
    unknown = run(settings, "export", "patents", "-o", str(tmp_path / "x.csv"))
    assert unknown.exit_code == 2 and "unknown record type" in unknown.output and "institution" in unknown.output
    left = {p.name for p in tmp_path.iterdir()}
    assert {"aksu.xlsx", "inst.csv"} <= left and not left & {"x.txt", "x.csv", "aksu.xlsx.part", "inst.csv.part"}
