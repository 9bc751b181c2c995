"""`xjip gi …`: the GI library, e-commerce monitoring, coverage, the province annual report."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from xjip.cli import emit, format_option
from xjip.gi import GIError
from xjip.i18n import both


def _fail(err: GIError, code: int = 2) -> None:
    zh, en = err.messages()
    click.echo(f"错误：{zh}\nError: {en}", err=True)
    sys.exit(code)


@click.group("gi")
def gi() -> None:
    """地理标志管理 / GI management."""


@gi.command("list")
@click.option("--tier", type=click.Choice(["region", "prefecture", "county"]), default="region", show_default=True)
@click.option("--code", help="Prefecture or county code / 地州市或县市代码")
@click.option("--q", help="Text contained / 检索词")
@click.option("--gaps", is_flag=True, help="Only GIs with missing facts / 仅列缺项")
@format_option
@click.pass_obj
def gi_list(obj: Any, tier: str, code: str | None, q: str | None, gaps: bool, fmt: str) -> None:
    """Every GI of the library (全区 / 地州市 / 县市) with its gaps. / 地理标志名录。"""
    from xjip.gi.library import list_gis

    try:
        with obj.store.reading() as s:
            data = list_gis(s, tier=tier, code=code, q=q, gaps_only=gaps)
    except GIError as err:
        _fail(err)

    def text(d: dict[str, Any]) -> None:
        click.echo(f"{d['place']['name']}：{d['total']} 条 / records, {d['products']} 个产品 / products")
        for r in d["items"]:
            gaps_text = ",".join(r["gaps"]) or "-"
            click.echo(f"{r['id']:>4}  {r['name']}  {r['gi_system']}  {r['category_zh'] or '-'}  "
                       f"{r['announcement_no'] or '-'}  gaps={gaps_text}")

    emit(data, fmt, text)


@gi.command("monitor")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--store", "batch", help="Also store the listings and clues under this batch name / 同时入库")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Scan processes for large files / 并行进程数")
@format_option
@click.pass_obj
def gi_monitor(obj: Any, path: str, batch: str | None, processes: int, fmt: str) -> None:
    """Scan a listings file (CSV/XLSX/JSON) for GI infringement clues. / 电商侵权线索监测。"""
    from xjip.gi.listings import read_listings
    from xjip.gi.monitor import from_session, scan_many

    try:
        listing_file = read_listings(path, Path(path).read_bytes())
    except GIError as err:
        err.params.setdefault("value", Path(path).name)
        _fail(err)
    with obj.store.reading() as s:
        monitor = from_session(s)
    clues = scan_many(monitor, listing_file.rows, processes)
    data = {"file": listing_file.name, "read": listing_file.read, "scanned": len(listing_file.rows),
            "rejected": listing_file.rejections, "clues": clues}
    if batch:
        from xjip.gi.clues import import_listings

        with obj.store.session() as s:
            data["stored"] = import_listings(s, listing_file, batch, "cli", from_session(s))

    def text(d: dict[str, Any]) -> None:
        for c in d["clues"]:
            click.echo(f"{c['listing_id']}\t{c['rule']}\t{c['gi_name']}\t{c['evidence'].get('match', '')}")
        for r in d["rejected"]:
            click.echo(f"{r['file']}: {r['message_zh']} / {r['message_en']}", err=True)
        zh, en = both("gi.cli.monitor_summary", read=d["read"], scanned=d["scanned"], clues=len(d["clues"]),
                      rejected=len(d["rejected"]))
        click.echo(f"{zh}\n{en}")

    emit(data, fmt, text)


@gi.command("coverage")
@click.option("--level", type=click.Choice(["gi", "prefecture", "region"]), default="region", show_default=True)
@click.option("--definition", default=None,
              help="gi_with_users | products_with_users (default: the indicator setting gi_coverage; "
                   "see xjip.hub.gi_coverage)")
@click.option("--year", type=int)
@format_option
@click.pass_obj
def gi_coverage(obj: Any, level: str, definition: str | None, year: int | None, fmt: str) -> None:
    """地理标志专用标志使用覆盖率 with numerator and denominator."""
    from xjip.gi.coverage import coverage

    try:
        with obj.store.reading() as s:
            data = coverage(s, level=level, definition=definition, year=year)
    except GIError as err:
        _fail(err)

    def text(d: dict[str, Any]) -> None:
        for r in d["rows"]:
            rate = "—" if r["rate"] is None else f"{r['rate']:.1%}"
            click.echo(f"{r['name']}\t{r['numerator']}/{r['denominator']}\t{rate}")

    emit(data, fmt, text)


@gi.command("annual-report")
@click.argument("year", type=int)
@click.argument("out", type=click.Path(dir_okay=False))
@click.pass_obj
def gi_annual_report(obj: Any, year: int, out: str) -> None:
    """Province-level annual GI report (XLSX). / 省级地理标志年度报告。"""
    from xjip.gi.marks import annual_report_xlsx

    try:
        with obj.store.reading() as s:
            data = annual_report_xlsx(s, year)
    except GIError as err:
        _fail(err)
    Path(out).write_bytes(data)
    click.echo(out)


commands = [gi]
