# Sourced by the scripts: make .venv (Python 3.11+) with modelref and its extras installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "modelref needs Python 3.11 or newer; none was found on PATH." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $python" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.modelref-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing modelref[service,postgres,dev] into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e ".[service,postgres,dev]" >&2
  touch "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
