"""`xjip report annual YEAR --pdf FILE [--html FILE] [--xlsx FILE]`."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from xjip.i18n import both


@click.group("report")
def report() -> None:
    """Reports / 报告."""


@report.command("annual")
@click.argument("year", type=click.IntRange(1985, 2100))
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False), help="Write the PDF here")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML here")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False), help="Write the XLSX annex here")
@click.pass_obj
def annual(obj: Any, year: int, pdf: str | None, html_path: str | None, xlsx: str | None) -> None:
    """知识产权保护与发展状况报告 / The annual IP report, from the records."""
    from xjip.indicators import aggregates, entries
    from xjip.reports import annual as rep

    store = obj.store
    started = time.perf_counter()
    with store.reading() as s:
        settings = entries.load_settings(s)
    aggregates.ensure(store, settings)
    with store.reading() as s:
        data = rep.build(s, year)
    text = rep.render_html(data)
    if not (pdf or html_path or xlsx):
        click.echo(text)
        return
    written = []
    for target, write in ((html_path, lambda fh: fh.write(text.encode("utf-8"))), (pdf, lambda fh: rep.render_pdf(text, fh)),
                          (xlsx, lambda fh: rep.write_xlsx(data, fh))):
        if not target:
            continue
        path = Path(target)
        tmp = path.with_name(path.name + ".part")  # nothing half-written under the final name
        try:
            with open(tmp, "wb") as fh:
                write(fh)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            zh, en = both("indicators.report.write_failed", path=str(path), error=exc.strerror or str(exc))
            click.echo(f"错误：{zh}\nError: {en}", err=True)
            sys.exit(2)
        written.append(str(path))
    click.echo(f"{', '.join(written)} ({time.perf_counter() - started:.1f} s)")


commands = [report]
