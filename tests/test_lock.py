"""What is installed is pinned: scripts/start, scripts/test and CI install from requirements/*.lock
(written by scripts/lock only), which must hold every dependency pyproject.toml declares; and the
scripts say clearly which Python they need."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{name}.lock").read_text(encoding="utf-8")
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = PIN.match(block)
        if m:
            assert "--hash=sha256:" in block, f"{m.group(1)} has no hash in {name}.lock"
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def _missing(requirements: list[str], locked: dict[str, str]) -> list[str]:
    bad = []
    for text in requirements:
        req = Requirement(text)
        version = locked.get(canonicalize_name(req.name))
        if version is None or version not in req.specifier:
            bad.append(f"{text} (lock: {version})")
    return bad


def test_every_dependency_is_pinned_and_fits() -> None:
    runtime, test = pins("runtime"), pins("test")
    deps = PYPROJECT["project"]["dependencies"]
    extras = PYPROJECT["project"]["optional-dependencies"]["test"]
    build = PYPROJECT["build-system"]["requires"]
    hint = "run scripts/lock and commit requirements/"
    assert _missing(deps + build, runtime) == [], hint
    assert _missing(deps + extras + build, test) == [], hint
    # one set of versions: the runtime lock is the test lock less the test tools
    assert {n: test[n] for n in runtime} == runtime


def test_the_build_backend_is_the_one_pyproject_asks_for() -> None:
    lines = [ln.strip() for ln in (ROOT / "requirements" / "build.in").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert [ln for ln in lines if not ln.startswith("pip")] == PYPROJECT["build-system"]["requires"]


def test_a_new_environment_gets_the_locks_pip_first() -> None:
    """Python 3.11's own pip (23.2) refused the hash-checked runtime lock on a fresh clone."""
    env = (ROOT / "scripts" / "_env.sh").read_text()
    assert env.index("-r .venv/pip.lock") < env.index('-r "$lock"')
    for name in ("runtime", "test"):
        assert re.search(r"^pip==\S+ \\\n\s+--hash=sha256:", (ROOT / "requirements" / f"{name}.lock").read_text(), re.M)


def test_the_scripts_and_ci_install_from_the_locks() -> None:
    env = (ROOT / "scripts" / "_env.sh").read_text()
    assert '--require-hashes -r "$lock"' in env and "--no-deps --no-build-isolation -e ." in env
    assert "ensure_venv runtime" in (ROOT / "scripts" / "start").read_text()
    assert "ensure_venv test" in (ROOT / "scripts" / "test").read_text()
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def _check_python(tmp_path: Path, python: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "source scripts/_env.sh && check_python && echo OK $PYTHON"],
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHON": python, "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)


def test_a_wrong_python_is_refused_with_what_to_do(tmp_path: Path) -> None:
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3.12\n")
    fake.chmod(0o755)
    done = _check_python(tmp_path, str(fake))
    assert done.returncode == 1
    assert "xjip 需要 Python 3.11" in done.stderr and "xjip needs Python 3.11" in done.stderr
    assert "python3.11-venv" in done.stderr and "PYTHON=" in done.stderr
    missing = _check_python(tmp_path, str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "not runnable" in missing.stderr


def test_python_3_11_is_accepted(tmp_path: Path) -> None:
    import sys

    done = _check_python(tmp_path, sys.executable)
    assert done.returncode == 0 and done.stdout.startswith("OK "), done.stderr
