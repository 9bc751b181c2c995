"""`xjip indicators`: the plan's indicators for a year (and a prefecture), plus the upkeep of the
per-patent facts (`rebuild`, `check`) and staff entries (`enter`)."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from xjip.cli import emit, format_option
from xjip.i18n import both, t


def _fail(zh: str, en: str, code: int = 2) -> None:
    click.echo(f"错误：{zh}\nError: {en}", err=True)
    sys.exit(code)


def _text(data: dict[str, Any]) -> None:
    click.echo(f"{data['region_name'] or data['region_code']} {data['year']}")
    for ind in data["indicators"]:
        value = "—" if ind["value"] is None else f"{ind['value']:,.4g}"
        gap = f"  ({t('indicators.gap.' + ind['gap'])})" if ind["value"] is None and ind["gap"] else ""
        click.echo(f"{ind['seq']}. {ind['name_zh']}: {value} {ind['unit']}{gap}  "
                   f"[{ind['numerator']} / {ind['denominator']}]  2025 {ind['baseline_2025']} → 2030 "
                   f"{ind['target_2030']}  {t('indicators.status.' + ind['status'])}")


@click.group("indicators", invoke_without_command=True)
@click.option("--year", type=click.IntRange(1985, 2100), help="Year / 年份")
@click.option("--prefecture", help="Prefecture or XPCC city code (6 digits) / 地州或兵团城市代码")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@format_option
@click.pass_context
def indicators(ctx: click.Context, year: int | None, prefecture: str | None, lang: str, fmt: str) -> None:
    """规划主要指标 / The plan's 7 indicators: value, numerator, denominator, baseline, target,
    status and the record query behind each."""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        _fail(*both("indicators.cli.year_required"))
    from xjip.indicators import compute, entries, report

    from xjip.indicators import rebuild as job

    store = ctx.obj.store
    with store.reading() as s:
        settings = entries.load_settings(s)
        need = job.needed(s, settings)
    if need is not None:  # after an upgrade: the rebuild, here, its progress on stderr (resumable)
        _run_rebuild(store, full=False, restart=False, quiet=not sys.stderr.isatty())
    with store.reading() as s:
        if prefecture and prefecture not in {u["code"] for u in compute.units(s)}:
            _fail(*both("indicators.cli.bad_prefecture", value=prefecture[:20]))
        data = report.build(s, year, prefecture, lang)
    emit(data, fmt, _text)


def _run_rebuild(store: Any, *, full: bool, restart: bool, quiet: bool) -> dict[str, Any]:
    """The rebuild job in the foreground, one progress bar per phase on stderr; refused when
    another process runs it, exit 130 on Ctrl-C (the committed chunks stay; a rerun continues)."""
    from xjip.indicators import rebuild as job

    bars: dict[str, Any] = {}

    def progress(state: dict[str, Any]) -> None:
        phase = state.get("phase")
        if quiet or not phase:
            return
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.render_finish()
            bar = bars[phase] = click.progressbar(length=max(state["total"], 1), file=sys.stderr, show_pos=True,
                                                  label="{} / {}".format(*both(f"indicators.rebuild.phase.{phase}")))
        bar.update(max(state["done"] - bar.pos, 0))

    try:
        return job.run(store, full=full, restart=restart, progress=progress, actor="cli")
    except job.RebuildRunning as exc:
        _fail(*both("indicators.cli.rebuild_running", pid=exc.pid, host=exc.host), code=1)
    except job.RebuildInterrupted:
        click.echo("", err=True)
        _fail(*both("indicators.cli.rebuild_interrupted"), code=130)
    finally:
        for bar in bars.values():
            bar.render_finish()
    raise AssertionError  # _fail exits


@indicators.command("rebuild")
@click.option("--restart", is_flag=True, help="Start again from nothing, even when an earlier rebuild was cut off / 从头重算")
@click.option("--missing-only", is_flag=True, help="Only what is missing (as the dashboard does) / 只补缺失部分")
@click.option("--quiet", is_flag=True, help="No progress bar / 不显示进度条")
@click.pass_obj
def rebuild(obj: Any, restart: bool, missing_only: bool, quiet: bool) -> None:
    """Recompute the indicator facts and series whole, with a progress bar; Ctrl-C stops after
    the last committed chunk and running it again continues there / 全量重算指标数据（可中断、可续算）."""
    from sqlalchemy import func, select

    from xjip.hub import models as m

    state = _run_rebuild(obj.store, full=not missing_only, restart=restart, quiet=quiet)
    with obj.store.reading() as s:
        rows = s.scalar(select(func.count()).select_from(m.IndicatorPatent))
    click.echo(t("indicators.cli.rebuilt", rows=rows) if state["status"] == "done" else state["status"])


@indicators.command("check")
@format_option
@click.pass_obj
def check(obj: Any, fmt: str) -> None:
    """Compare the incrementally kept facts with a full recount / 与全量重算比对."""
    from xjip.indicators import facts

    with obj.store.reading() as s:
        result = facts.recount(s)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    elif result["equal"]:
        click.echo(t("indicators.cli.check_equal", rows=result["rows"]))
    else:
        click.echo(t("indicators.cli.check_differ", count=result["difference_count"] + result["trademark_difference_count"]))
        stale = [k for k, v in result["series"].items() if v is not True]
        if stale:
            click.echo(f"series: {', '.join(stale)}")
    if not result["equal"]:
        sys.exit(1)


@indicators.command("enter")
@click.option("--kind", type=click.Choice(["reported", "population", "setting", "award"]), required=True)
@click.option("--key", required=True, help="Indicator id, setting name, population indicator or patent number")
@click.option("--year", type=int)
@click.option("--region", "region_code", help="Division code (reported values, population)")
@click.option("--value", help="The value (number, or the setting's value)")
@click.option("--award", help="china_patent_award | national_st_award (kind award)")
@click.option("--source", "source_document", required=True, help="Source document / 来源文件")
@click.option("--by", "entered_by", required=True, help="Who enters it / 填报人")
@click.option("--note")
@click.option("--corrects", type=int, help="Id of the entry this corrects / 更正的记录编号")
@click.pass_obj
def enter(obj: Any, kind: str, key: str, year: int | None, region_code: str | None, value: str | None,
          award: str | None, source_document: str, entered_by: str, note: str | None, corrects: int | None) -> None:
    """Enter a reported value, population, setting or award; never overwrites / 人工填报（保留修改记录）."""
    from xjip.indicators import entries

    e = entries.EntryInput(kind=kind, key=key, year=year, region_code=region_code, value=value,
                           value_json={"award": award} if kind == "award" else None,
                           source_document=source_document, entered_by=entered_by, note=note)
    try:
        with obj.store.session() as s:
            row = entries.add(s, e, supersedes=corrects)
            new_id = row.id
    except entries.EntryError as exc:
        _fail(exc.zh, exc.en)
    click.echo(t("indicators.cli.entered", id=new_id))


@indicators.command("value")
@click.option("--patent", "number", required=True, help="Application, publication or grant number / 专利号")
@click.option("--year", type=click.IntRange(1985, 2100), required=True)
@click.option("--scenario", type=click.Choice(["licensing", "financing", "management"]), default="licensing",
              show_default=True)
@click.pass_obj
def value_cmd(obj: Any, number: str, year: int, scenario: str) -> None:
    """Patent value score by GB/T 42748-2023 dimensions (JSON) / 专利价值评分."""
    from sqlalchemy import or_, select

    from xjip.hub import models as m
    from xjip.indicators import facts, value

    with obj.store.reading() as s:
        forms = sorted(facts.number_forms(facts.number_key(number) or "")) + [number]
        pid = s.scalar(select(m.Patent.id).where(or_(m.Patent.app_number.in_(forms), m.Patent.pub_number.in_(forms),
                                                     m.Patent.grant_number.in_(forms))).limit(1))
        if pid is None:
            _fail(*both("indicators.entry.not_found", field="--patent", value=number[:40]))
        result = value.score(s, [pid], year, scenario)[pid]
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


@indicators.command("agreement")
@click.option("--cutoff", "cutoff_year", type=click.IntRange(1985, 2100), required=True)
@click.option("--scenario", type=click.Choice(["licensing", "financing", "management"]), default="licensing")
@click.pass_obj
def agreement_cmd(obj: Any, cutoff_year: int, scenario: str) -> None:
    """Score at the cutoff vs later transfers/licences/pledges (AUC) / 评分与后续交易的一致性."""
    from xjip.indicators import value

    with obj.store.reading() as s:
        click.echo(json.dumps(value.agreement(s, cutoff_year, scenario), ensure_ascii=False, indent=2))


commands = [indicators]


@click.group("plan")
def plan_group() -> None:
    """规划任务与专栏 / The plan's main tasks and special projects as trackable items."""


@plan_group.command("load")
@click.pass_obj
def plan_load(obj: Any) -> None:
    """Read the tasks and 专栏1–8 from the plan text (shared/plan) / 载入规划任务."""
    from xjip.indicators import plan

    shared = obj.settings.shared_data_dir
    path = plan.plan_file(shared) if shared else None
    if path is None or not path.is_file():
        _fail(*both("indicators.plan.missing", path=str(path)))
    with obj.store.session() as s:
        result = plan.load(s, shared)
    click.echo(t("indicators.plan.loaded", **result))


@plan_group.command("list")
@format_option
@click.pass_obj
def plan_list(obj: Any, fmt: str) -> None:
    """List the tracked items / 列出规划任务."""
    from xjip.indicators import plan

    with obj.store.reading() as s:
        items = plan.listing(s)
    emit(items, fmt, lambda rows: [click.echo(f"{r['code']:8} {t('indicators.plan.status.' + r['status']):6} "
                                              f"{r['department'] or '—'}  {r['title']}") for r in rows])


@plan_group.command("update")
@click.argument("code")
@click.option("--by", "actor", required=True, help="Who / 填报人")
@click.option("--department", help="Responsible department / 责任部门")
@click.option("--status", type=click.Choice(["not_started", "in_progress", "done", "at_risk", "adjusted"]))
@click.option("--milestone", help="A milestone to add / 新增里程碑")
@click.option("--due", help="Its due date (YYYY-MM)")
@click.option("--evidence", help="Evidence to add / 新增佐证材料")
@click.option("--link", help="Link or document number of the evidence")
@click.pass_obj
def plan_update(obj: Any, code: str, actor: str, department: str | None, status: str | None, milestone: str | None,
                due: str | None, evidence: str | None, link: str | None) -> None:
    """Record department, status, milestones, evidence; the change is kept in the audit trail."""
    from xjip.indicators import entries, plan

    try:
        with obj.store.session() as s:
            out = plan.update(s, code, actor, department=department, status=status,
                              milestone={"what": milestone, "due": due, "done": False} if milestone else None,
                              evidence={"what": evidence, "link": link} if evidence else None)
    except entries.EntryError as exc:
        _fail(exc.zh, exc.en)
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


commands.append(plan_group)
