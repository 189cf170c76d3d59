#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (also what CI runs):
#   1. a .venv with the project installed (extras: dev for tests, bench for benchmarks);
#   2. with --test: the system tools the tests drive (Debian chromium, gdal-bin);
#   3. `gridmap db up`: PostgreSQL + PostGIS ready, databases created, migrations run.
# Usage: scripts/bootstrap.sh [--test] [--bench]
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    *) echo "bootstrap: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done

say() { printf '[setup] %s\n' "$*" >&2; }

apt_updated=0
apt_install() {
  # Install Debian packages that are missing; needs root.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]} — install them as root (apt-get install ${missing[*]})"
    return 1
  fi
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. Python environment -------------------------------------------------------------
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python 3.11 or later is needed (found: $("$PY" --version 2>&1))"; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv || { apt_install python3-venv && "$PY" -m venv .venv; }
fi
extras=dev
[ $want_bench -eq 1 ] && extras="dev,bench"
stamp=".venv/.installed-$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing gridmap[$extras] into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# 2. Tools the tests drive ----------------------------------------------------------
if [ $want_test -eq 1 ]; then
  # A CJK font, so screenshots of the Chinese interface show characters, not boxes.
  apt_install chromium gdal-bin fonts-wqy-microhei
fi

if [ $want_bench -eq 1 ]; then
  apt_install wrk
fi

# 3. Database -----------------------------------------------------------------------
.venv/bin/gridmap db up
