# Shared by scripts/start and scripts/test.
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

ensure_venv() {
  local extra="${1:-}"
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  local stamp=".venv/.installed-${extra:-base}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    if [ -n "$extra" ]; then
      .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extra}]"
    else
      .venv/bin/python -m pip install -q --disable-pip-version-check -e .
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
