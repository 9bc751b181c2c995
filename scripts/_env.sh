# Shared by scripts/start, scripts/test and scripts/lock.
# Python: 3.11 (the version the locks are compiled for and the suite runs on). $PYTHON picks one.

_python_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

_need_python() {
  local found="$1"
  cat >&2 <<MSG
错误：xjip 需要 Python 3.11（${found}）。
  Debian 12 / Ubuntu：sudo apt-get install python3.11 python3.11-venv（Ubuntu 较新版本可用 deadsnakes PPA）
  其他系统：https://www.python.org/downloads/ 下载 3.11，或 pyenv install 3.11 / uv python install 3.11
  然后重新运行，或用 PYTHON=/路径/python3.11 指定解释器。
Error: xjip needs Python 3.11 (${found}).
  Debian 12 / Ubuntu: sudo apt-get install python3.11 python3.11-venv (newer Ubuntu: the deadsnakes PPA)
  Elsewhere: get 3.11 from https://www.python.org/downloads/, or pyenv install 3.11 / uv python install 3.11
  Then run this again, or point PYTHON=/path/to/python3.11 at the interpreter.
MSG
  exit 1
}

check_python() {
  local candidate version tried=""
  if [ -n "${PYTHON:-}" ]; then  # chosen by the user: that one or nothing
    version="$(_python_minor "$PYTHON")"
    [ "$version" = "3.11" ] || _need_python "PYTHON=$PYTHON: ${version:-not runnable}"
    PYTHON="$(command -v "$PYTHON")"
  else
    for candidate in python3.11 python3; do
      command -v "$candidate" >/dev/null 2>&1 || continue
      version="$(_python_minor "$candidate")"
      tried="${tried:+$tried, }$candidate ${version:-?}"
      if [ "$version" = "3.11" ]; then
        PYTHON="$(command -v "$candidate")"
        break
      fi
    done
    [ -n "${PYTHON:-}" ] || _need_python "found: ${tried:-no python3 at all}"
  fi
  if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "错误：$PYTHON 缺少 venv 模块（Debian/Ubuntu：sudo apt-get install python3.11-venv）" >&2
    echo "Error: $PYTHON lacks the venv module (Debian/Ubuntu: sudo apt-get install python3.11-venv)" >&2
    exit 1
  fi
  if [ -x .venv/bin/python ] && [ "$(_python_minor .venv/bin/python)" != "3.11" ]; then
    echo "错误：.venv 是用 Python $(_python_minor .venv/bin/python) 建立的；删除 .venv 后重新运行。" >&2
    echo "Error: .venv was made with Python $(_python_minor .venv/bin/python); remove .venv and run this again." >&2
    exit 1
  fi
  export PYTHON
}

# Install exactly what requirements/<set>.lock pins (hash-checked), then xjip itself (editable,
# no dependency resolution). Re-run only when the lock or pyproject.toml changed. The locks are
# written by scripts/lock and never here: an install cannot move a version by accident.
ensure_venv() {
  local set="${1:-runtime}"
  local lock="requirements/${set}.lock"
  check_python
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  local stamp=".venv/.installed-${set}"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing the pinned packages of $lock …" >&2
    # pip first, at the lock's version and hashes (see requirements/build.in); every step must
    # succeed before the stamp is written, also when the caller did not `set -e`.
    awk '/^pip==/{p=1} p{print; if ($0 !~ /\\$/) exit}' "$lock" > .venv/pip.lock
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r .venv/pip.lock || exit 1
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock" || exit 1
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . || exit 1
    if ! .venv/bin/python -m pip check >&2; then
      echo "错误：$lock 与 pyproject.toml 的依赖不一致：运行 scripts/lock 重新生成锁文件。" >&2
      echo "Error: $lock does not match the dependencies in pyproject.toml: run scripts/lock to regenerate it." >&2
      exit 1
    fi
    touch "$stamp"
  fi
}

ensure_chromium() {
  # Page tests drive Debian's chromium (no browser download). Installed when missing and we are root.
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing Debian chromium + CJK fonts for page tests…" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    else
      echo "chromium not found and not root: browser tests will be skipped (apt-get install chromium)" >&2
    fi
  fi
}
