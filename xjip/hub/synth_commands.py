"""`xjip synth`: write synthetic patent files for scale tests, and optionally the other rights
as template files (and import them)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from xjip.i18n import both, t


def _default_out(fmt: str, n: int, seed: int, data_dir: str) -> Path:
    suffix = "csv" if fmt == "csv" else "xml"
    return Path(data_dir) / "synthetic" / f"synth_cn_{fmt}_{n}_seed{seed}.{suffix}"


@click.command("synth")
@click.option("--patents", "n", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of synthetic patents / 合成专利条数")
@click.option("--format", "fmt", type=click.Choice(["csv", "xml"]), default="csv", show_default=True,
              help="csv: incoPat-style bibliographic export; xml: concatenated CNIPA full-text XML")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same records / 随机种子")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Output file (.gz compresses; .zip for XML members). Default: <data_dir>/synthetic/…")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8", "gb18030"]), default="utf-8-sig",
              show_default=True, help="CSV encoding")
@click.option("--rights", "rights", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also N synthetic trademarks, copyrights and transfers/licences, fewer GI special-mark users, "
                   "pledges, cases and plant varieties, and the agencies, as template CSVs naming these patents / "
                   "同时生成其他权利类型（模板格式）")
@click.option("--import", "do_import", is_flag=True, help="Import the file afterwards, marked synthetic / 生成后导入")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text / 输出 JSON")
@click.pass_obj
def synth(obj: Any, n: int, fmt: str, seed: int, out: str | None, encoding: str, rights: int, do_import: bool,
          as_json: bool) -> None:
    """Generate synthetic patents from real vocabularies (every record marked 合成/synthetic) / 生成合成测试数据.

    Titles, IPC codes, Xinjiang places and CNIPA XML layouts are real; numbers, applicants and
    dates are not. Never present figures computed on these records as Xinjiang facts."""
    from xjip.hub import synth as gen

    settings = obj.settings
    path = Path(out) if out else _default_out(fmt, n, seed, settings.data_dir)
    shared = settings.shared_data_dir or None
    started = time.perf_counter()
    if fmt == "csv":
        count = gen.write_cn_biblio_csv(path, n, seed, encoding=encoding, shared=shared)
    else:
        try:
            gen.xml_templates(shared)  # before a file is opened: nothing half-written when samples are missing
        except gen.SamplesMissing as exc:
            zh, en = both("fresh.synth.samples_missing", path=str(exc.path))
            click.echo(f"错误：{zh}\nError: {en}", err=True)
            sys.exit(2)
        count = gen.write(path, n, seed, "xml", shared=shared)
    seconds = time.perf_counter() - started
    lang = settings.default_language
    if not as_json:
        click.echo(t("synth.written", lang, n=count, path=str(path), seconds=f"{seconds:.1f}"))
    result: dict[str, Any] = {"path": str(path), "records": count, "format": fmt, "seed": seed,
                              "seconds": round(seconds, 2)}
    folder = None
    if rights:
        from xjip.hub.synth_rights import write_rights

        folder = path.parent / f"synth_rights_{rights}_seed{seed}"
        counts = write_rights(folder, rights, seed, patents=n, patent_seed=seed, shared=shared)
        result["rights"] = {"path": str(folder), "records": counts}
        if not as_json:
            click.echo(t("synth.rights_written", lang, n=sum(counts.values()), path=str(folder),
                         kinds=", ".join(f"{kind} {c}" for kind, c in counts.items())))
    if do_import:
        for key, source in (("import", path), ("rights_import", folder)):
            if source is not None:
                result[key] = _import(obj, source, lang, as_json)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str, indent=2))
    if do_import and any(result[k]["status"] != "done" for k in ("import", "rights_import") if k in result):
        sys.exit(1)


def _import(obj: Any, source: Path, lang: str, quiet: bool) -> dict[str, Any]:
    from xjip.hub.commands import job_summary
    from xjip.hub.pipeline import run_import

    started = time.perf_counter()
    job = run_import(obj.store, source, options={"synthetic": True}, display_name=f"[合成] {source.name}")
    summary = job_summary(job)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if not quiet:
        click.echo(t("synth.imported", lang, job=job.id, status=job.status, read=job.read_count,
                     inserted=job.inserted_count, unchanged=job.unchanged_count, rejected=job.rejected_count,
                     seconds=summary["seconds"]))
    return summary


commands = [synth]
