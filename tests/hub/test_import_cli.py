"""`xjip import` as a person runs it, in real processes: kill -9 in the middle and restart,
two imports of the same file at once, and the bad inputs the issue lists."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from sqlalchemy import func, select

from xjip.hub import models as m
from xjip.hub.parallel import MAX_SHARDS
from xjip.hub.synth import write_cn_biblio_csv

XJIP = [sys.executable, "-m", "xjip.cli"]


def run_cli(settings, *args: str, check: bool = False,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir, **(env_extra or {})}
    proc = subprocess.run([*XJIP, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


def start_cli(settings, *args: str, env_extra: dict[str, str] | None = None,
              own_group: bool = False) -> subprocess.Popen:
    """`own_group`: in a process group of its own, as a shell runs a command (Ctrl-C signals the group)."""
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir, **(env_extra or {})}
    # In its own group it is a shell's foreground command: Ctrl-C is not ignored there, even when
    # the test runner itself runs where it is (a background job of a non-interactive shell).
    return subprocess.Popen([*XJIP, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            process_group=0 if own_group else None,
                            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if own_group else None)


def child_pids(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def counts(store) -> tuple[int, int, int]:
    with store.session() as s:
        patents = s.scalar(select(func.count()).select_from(m.Patent))
        distinct = s.scalar(select(func.count(func.distinct(m.Patent.key))))
        sources = s.scalar(select(func.count()).select_from(m.SourceRecord))
    return patents, distinct, sources


def wait_for_committed_batches(store, minimum: int, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with store.session() as s:
            done = s.scalar(select(func.max(m.ImportJob.read_count))) or 0
        if done >= minimum:
            return done
        time.sleep(0.05)
    raise AssertionError("the import made no progress")


@pytest.mark.slow
@pytest.mark.parametrize("parallel_mb", ["-1", "0"], ids=["one-process", "parse-processes"])
def test_kill_9_then_restart_resumes_with_no_duplicates(store, settings, tmp_path, parallel_mb):
    """Killed in the middle, whether it parses in its own process or in parse processes (whose
    pipe then breaks: they end too), then run again: it resumes, nothing doubled or lost."""
    src = tmp_path / "synthetic.csv"
    write_cn_biblio_csv(src, 20000, seed=7)
    store.upgrade()
    env = {"XJIP_IMPORT_PARALLEL_MB": parallel_mb}
    proc = start_cli(settings, "import", str(src), "--batch-size", "200", "--quiet", env_extra=env)
    committed = wait_for_committed_batches(store, 600)
    helpers = child_pids(proc.pid)
    cores = os.cpu_count() or 1
    assert len(helpers) == (min(cores, MAX_SHARDS) if parallel_mb == "0" and cores > 1 else 0)  # one per core
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    while any(alive(p) for p in helpers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in helpers), "parse processes outlived the killed import"
    patents, distinct, sources = counts(store)
    assert patents == distinct == sources and committed <= patents < 20000  # only whole batches, nothing half-written
    # resumed, it parses in one parse process (the keys committed before are handed to the writer)
    again = run_cli(settings, "import", str(src), "--importer", "cn_biblio", "--quiet", "--format", "json",
                    env_extra=env)
    assert again.returncode == 0, again.stderr
    assert counts(store) == (20000, 20000, 20000)
    with store.session() as s:
        jobs = s.scalars(select(m.ImportJob)).all()
        assert len(jobs) == 1 and jobs[0].status == "done" and jobs[0].read_count == 20000
        assert s.scalar(select(func.count()).select_from(m.ImportLock)) == 0
        assert s.scalar(select(func.count()).select_from(m.Patent).where(m.Patent.is_synthetic.is_(False))) == 0


@pytest.mark.slow
def test_ctrl_c_stops_the_import_says_how_to_resume_and_it_resumes(store, settings, tmp_path):
    """Ctrl-C (SIGINT to the command's process group, parse processes included) in the middle:
    the job is marked interrupted, the person is told in both languages how to continue, and
    the same command then finishes it with nothing doubled or lost. (One process alone:
    tests/hub/test_pipeline.py, the same handling.)"""
    src = tmp_path / "synthetic.csv"
    write_cn_biblio_csv(src, 20000, seed=9)
    store.upgrade()
    env = {"XJIP_IMPORT_PARALLEL_MB": "0"}  # parse processes, which get the SIGINT too
    proc = start_cli(settings, "import", str(src), "--batch-size", "200", "--quiet", env_extra=env, own_group=True)
    wait_for_committed_batches(store, 600)
    helpers = child_pids(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    with store.session() as s:
        job = s.scalars(select(m.ImportJob)).one()
    assert job.status == "interrupted" and 600 <= job.read_count < 20000
    assert f"导入已中断（作业 {job.id}）" in err and f"Import interrupted (job {job.id})" in err, err
    assert f"xjip jobs resume {job.id}" in err and "Traceback" not in err and "parse process" not in err
    assert "当前这批记录提交后即停止" in err and "Stopping once the current batch is committed" in err
    deadline = time.time() + 20
    while any(alive(p) for p in helpers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in helpers), "parse processes outlived the interrupted import"
    patents, distinct, sources = counts(store)
    assert patents == distinct == sources == job.inserted_count  # whole batches only
    again = run_cli(settings, "import", str(src), "--quiet", "--format", "json", env_extra=env)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["id"], summary["status"], summary["read"]) == (job.id, "done", 20000)
    assert counts(store) == (20000, 20000, 20000)


@pytest.mark.slow
def test_jobs_stop_reaches_an_import_running_in_another_process(store, settings, tmp_path):
    """`xjip jobs stop N` from a second terminal: the import ends as after Ctrl-C; a job not
    running is refused with its status, an unknown one named."""
    src = tmp_path / "synthetic.csv"
    write_cn_biblio_csv(src, 20000, seed=10)
    store.upgrade()
    proc = start_cli(settings, "import", str(src), "--batch-size", "200", "--quiet")
    wait_for_committed_batches(store, 400)
    with store.session() as s:
        job_id = s.scalar(select(m.ImportJob.id))
    asked = run_cli(settings, "jobs", "stop", str(job_id))
    assert asked.returncode == 0 and f"已请求停止作业 {job_id}" in asked.stdout, asked.stderr
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and f"Import interrupted (job {job_id})" in err, err
    again = run_cli(settings, "jobs", "stop", str(job_id))
    assert again.returncode == 3 and "this job is interrupted" in again.stderr
    assert run_cli(settings, "jobs", "stop", "999").returncode == 2
    resumed = run_cli(settings, "jobs", "resume", str(job_id), "--format", "json")
    assert resumed.returncode == 0 and json.loads(resumed.stdout)["read"] == 20000
    assert counts(store) == (20000, 20000, 20000)


@pytest.mark.slow
def test_same_import_started_twice_at_once_is_refused(store, settings, tmp_path):
    # long enough (several seconds) that the first is still running when the second has started
    src = tmp_path / "synthetic.csv"
    write_cn_biblio_csv(src, 20000, seed=8)
    store.upgrade()
    first = start_cli(settings, "import", str(src), "--batch-size", "100", "--quiet")
    wait_for_committed_batches(store, 100)
    second = run_cli(settings, "import", str(src), "--quiet")
    assert first.wait(timeout=300) == 0
    assert second.returncode == 3, second.stdout
    assert "正在导入" in second.stderr and "already being imported" in second.stderr
    assert counts(store) == (20000, 20000, 20000)


@pytest.mark.parametrize("parallel_mb", ["-1", "0"], ids=["one-process", "parse-processes"])
def test_first_import_into_a_database_not_created_yet(tmp_path, shared_data, parallel_mb):
    """`xjip import` on a fresh machine creates the SQLite file and its schema, then imports in
    the same process (the connection that migrated is reused for the batches)."""
    src = tmp_path / "first.csv"
    write_cn_biblio_csv(src, 300, seed=9)
    env = {**os.environ, "XJIP_DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'xjip.db'}",
           "XJIP_DATA_DIR": str(tmp_path / "new"), "XJIP_SHARED_DATA_DIR": str(shared_data),
           "XJIP_IMPORT_PARALLEL_MB": parallel_mb}
    proc = subprocess.run([*XJIP, "import", str(src), "--quiet", "--format", "json"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert (summary["status"], summary["inserted"], summary["rejected"]) == ("done", 300, 0)


def test_reimport_changes_nothing_and_reports_json(store, settings, shared_data):
    path = shared_data / "gi/xinjiang_gi_records.csv"
    first = json.loads(run_cli(settings, "import", str(path), "--format", "json", check=True).stdout)
    second = json.loads(run_cli(settings, "import", str(path), "--format", "json", check=True).stdout)
    assert (first["inserted"], first["rejected"], first["place_resolved_share"]) == (93, 0, 1.0)
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 93)
    # the place figures describe the records read, written or not
    assert (second["addressed"], second["placed"], second["place_resolved_share"]) == (93, 93, 1.0)
    with store.session() as s:  # statuses are codes the pages label; a remark beside one goes to the notes
        statuses = dict(s.execute(select(m.GeographicalIndication.status, func.count())
                                  .group_by(m.GeographicalIndication.status)).all())
        assert statuses == {"approved_or_registered": 84, "application_submitted": 3, "applied_or_registered": 4,
                            "application_accepted": 1, "planned_application": 1}, statuses
        planned = s.scalars(select(m.GeographicalIndication.notes)
                            .where(m.GeographicalIndication.status == "planned_application")).one()
        assert planned.startswith("状态说明 / status remark: 2009")


# --- bad input: each gives a clear located error and leaves what was stored intact --------

@pytest.fixture
def seeded(store, settings, shared_data):
    """A store that already holds the 93 real GI records: bad imports must not disturb them."""
    run_cli(settings, "import", str(shared_data / "gi/xinjiang_gi_records.csv"), "--quiet", check=True)
    return store


def gi_count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(m.GeographicalIndication))


def test_bad_inputs_are_located_and_harmless(seeded, settings, tmp_path, shared_data):
    cases = {}
    (tmp_path / "empty.csv").write_bytes(b"")
    cases["empty.csv"] = "文件为空"
    (tmp_path / "trunc.xml").write_bytes(
        gzip.decompress((shared_data / "patents/cn_cnipa_xml/xml/examples/cn_old1.xml.gz").read_bytes())[:3000])
    cases["trunc.xml"] = "XML"
    (tmp_path / "laughs.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<cn-patent-document><x>&lol2;</x></cn-patent-document>')
    cases["laughs.xml"] = "实体"
    (tmp_path / "xxe.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<cn-patent-document><x>&x;</x></cn-patent-document>')
    cases["xxe.xml"] = "实体"
    good = "申请号,申请日,名称,申请（专利权）人\nCN202310000001.5,2023-01-05,一种葡萄采摘装置,新疆农业大学\n"
    (tmp_path / "latin1.csv").write_bytes(good.encode("utf-8") + bytes(range(0x80, 0xff)) * 50)
    cases["latin1.csv"] = "编码"
    for name, expected in cases.items():
        proc = run_cli(settings, "import", str(tmp_path / name), "--quiet")
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, name
        assert name in output and expected in output, (name, output)
        assert "Error" in output or "error" in output, (name, output)
    assert gi_count(seeded) == 93


def test_rejected_rows_do_not_stop_good_ones(seeded, settings, tmp_path):
    header = "申请号,申请日,名称,申请（专利权）人,申请人地址\n"
    rows = [
        "CN202310000001.5,2023-01-05,一种葡萄采摘装置,新疆农业大学,830052 新疆乌鲁木齐市沙依巴克区农大东路311号",
        "CN202310000002.0,2023-01-06,一种错误校验位装置,新疆大学,新疆乌鲁木齐市",  # wrong check digit (X)
        "CN202310000003.4,2023-02-30,一种日期错误装置,塔里木大学,新疆阿拉尔市",  # no such date
        # the same row again: a duplicate (a row that adds to or differs from the first is merged)
        "CN202310000001.5,2023-01-05,一种葡萄采摘装置,新疆农业大学,830052 新疆乌鲁木齐市沙依巴克区农大东路311号",
        "CN202310000004.9,2023-03-01,一种棉花打顶机,石河子大学,新疆石河子市北四路221号",
    ]
    src = tmp_path / "mixed.csv"
    src.write_text(header + "\n".join(rows) + "\n", encoding="gbk")
    report = tmp_path / "rejected.csv"
    proc = run_cli(settings, "import", str(src), "--format", "json", "--report", str(report))
    data = json.loads(proc.stdout)
    assert (data["inserted"], data["rejected"]) == (2, 3)
    assert data["run"]["started_at"] and data["run"]["eta_seconds"] is None  # done: nothing left to estimate
    text = report.read_text(encoding="utf-8-sig")
    assert "check_digit" in text and "invalid_date" in text and "duplicate_key" in text
    assert "申请日" in text and "2023-02-30" in text and "mixed.csv" in text
    assert sorted((g["code"], g["field"], g["count"]) for g in data["rejection_summary"]) == [
        ("check_digit", "申请号", 1), ("duplicate_key", "申请号", 1), ("invalid_date", "申请日", 1)]
    shown = run_cli(settings, "jobs", "show", str(data["id"])).stdout  # the same, for a person
    assert "1 × invalid_date [申请日]: 日期无效：2023-02-30" in shown and "e.g. Invalid date: 2023-02-30" in shown
    assert gi_count(seeded) == 93


def test_zip_of_formats_and_path_outside(seeded, settings, tmp_path, shared_data):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escape/cn_new1.xml",
                    gzip.decompress((shared_data / "patents/cn_cnipa_xml/xml/examples/cn_new1.xml.gz").read_bytes()))
        zf.write(shared_data / "patents/xinjiang_google_patents_facts/records.jsonl.gz", "xj/records.jsonl.gz")
    data = json.loads(run_cli(settings, "import", str(archive), "--format", "json", check=True).stdout)
    assert (data["status"], data["inserted"]) == ("done", 7)
    assert not (tmp_path.parent / "escape").exists()  # archives are read in place, never extracted


def test_a_200_mb_single_document_is_refused_with_flat_memory(store, settings, tmp_path):
    """A 200 MB file holding one XML document: refused at the document-size limit (located, both
    languages), read in bounded chunks — the importing process never holds the file."""
    big = tmp_path / "huge.xml"
    with open(big, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<cn-patent-document lang="ZH" country="CN">\n<description>')
        line = ("一种节水灌溉装置，" * 40 + "\n").encode("utf-8")
        while fh.tell() < 200 * 1024 * 1024:
            fh.write(line * 1000)
        fh.write(b"</description></cn-patent-document>\n")
    # wait4: the peak of this child and its own children only (RUSAGE_CHILDREN would count every
    # process this test worker ever ran, e.g. an earlier test's encoder)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir}
    with open(out, "w") as fo, open(err, "w") as fe:
        child = subprocess.Popen([*XJIP, "import", str(big), "--quiet"], env=env, stdout=fo, stderr=fe)
        _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    said = out.read_text(encoding="utf-8") + err.read_text(encoding="utf-8")
    peak_mb = usage.ru_maxrss / 1024
    assert child.returncode == 1
    assert "huge.xml" in said
    assert "超过上限 64 MB" in said and "64 MB limit" in said
    assert peak_mb < 500, peak_mb


def test_demo_loads_every_kind_of_right(store, settings):
    """The quick start's data: the real public data and a synthetic sample in which every kind of
    right the hub keeps has records, so that every page shows something; run again, it adds
    nothing."""
    run_cli(settings, "demo", "--synthetic-patents", "60", "--synthetic-rights", "12", check=True)
    models = (m.Patent, m.Trademark, m.GeographicalIndication, m.GIMarkUser, m.Copyright, m.PlantVariety,
              m.RightTransaction, m.Pledge, m.EnforcementCase, m.Institution)

    def counts() -> dict[str, int]:
        with store.session() as s:
            return {model.__tablename__: s.scalar(select(func.count()).select_from(model)) for model in models}

    first = counts()
    assert all(first.values()), first
    with store.session() as s:  # the synthetic sample's other rights were all taken in
        job = s.scalars(select(m.ImportJob).where(m.ImportJob.display_name.like("synthetic sample of the other%"))).one()
        assert (job.status, job.rejected_count) == ("done", 0) and job.inserted_count == job.read_count > 0
    run_cli(settings, "demo", "--synthetic-patents", "60", "--synthetic-rights", "12", check=True)
    assert counts() == first
