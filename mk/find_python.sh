#!/usr/bin/env bash
# Prints the first Python on PATH whose minor version is in [$1, $2) (e.g. 3.11 3.14), preferring $PY if set.
# Exits 1 with one line saying what is needed when none is found: make setup shows that line and stops.
lo=$1 hi=$2 what=$3
for p in ${PY:-} python3.13 python3.12 python3.11 python3.10 python3; do
  command -v "$p" >/dev/null 2>&1 || continue
  if "$p" -c "import sys; lo=tuple(map(int,'$lo'.split('.'))); hi=tuple(map(int,'$hi'.split('.'))); sys.exit(not lo <= sys.version_info[:2] < hi)" 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
found=$(python3 --version 2>&1 || echo "no python3")
echo "$what needs Python >= $lo and < $hi (found: $found). Install one, e.g. 'sudo apt-get install python3.12-venv' or 'uv python install 3.12', then rerun make (or pass PY=/path/to/python)." >&2
exit 1
