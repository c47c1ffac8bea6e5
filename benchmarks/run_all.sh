#!/usr/bin/env bash
# Every headline benchmark figure of one syncd checkout, measured from a plain install.
#
#   benchmarks/run_all.sh [--replicas] [--repeat N] [--nochange-runs N] [--pg URL] CHECKOUT
#
# CHECKOUT is a directory holding a syncd source tree, or a git revision of this repository
# (exported with `git archive`). It is installed with `pip install -c constraints.txt` (not
# editable, no test extras: they make the libraries import more) into a fresh venv, and both
# benchmarks of THIS checkout's benchmarks/ folder run under that venv's Python, so the
# harness (fast hub, baseline, wrapper) is the same whatever is measured:
#
#   sync_bench.py   (c) baseline, (a) 1 SQLite, (b) 2 SQLite + 1 PostgreSQL, no-change, peak RSS
#   scale_bench.py  1, 10 and 50 SQLite instances in one process; with --replicas also
#                   2 replicas x 20 PostgreSQL databases and failover
#
# To compare two revisions, run it for each, back to back, on a quiet machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
replicas=0
repeat=3
nochange=5
pg="postgresql://postgres@127.0.0.1:5432/postgres"
while [[ $# -gt 1 ]]; do
  case "$1" in
    --replicas) replicas=1; shift ;;
    --repeat) repeat="$2"; shift 2 ;;
    --nochange-runs) nochange="$2"; shift 2 ;;
    --pg) pg="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ $# -ne 1 ]]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
checkout="$1"

work="$(mktemp -d "${TMPDIR:-/tmp}/syncd-run-all.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [[ -d "$checkout" ]]; then
  source_dir="$(cd "$checkout" && pwd)"
  label="$source_dir"
else
  rev="$(git -C "$repo" rev-parse --verify "$checkout^{commit}")"
  source_dir="$work/src"
  mkdir "$source_dir"
  git -C "$repo" archive "$rev" | tar -x -C "$source_dir"
  label="$checkout ($rev)"
fi

echo "== syncd from $label"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -c "$source_dir/constraints.txt" "$source_dir" 2>&1 | grep -v '^WARNING: Location' || true
python="$work/venv/bin/python"
"$python" -c 'import syncd, sys; print("installed syncd", syncd.__version__, "for Python", sys.version.split()[0])'
echo "== machine: $(nproc) cores; $(uptime)"

echo
echo "== sync_bench.py --repeat $repeat --nochange-runs $nochange"
"$python" "$here/sync_bench.py" --repeat "$repeat" --nochange-runs "$nochange" --pg "$pg" \
  --syncd "$work/venv/bin/syncd" | tee "$work/sync.txt" | grep -v '^{'

echo
scale_args=(--counts 1,10,50)
if [[ $replicas -eq 1 ]]; then
  scale_args+=(--pg "${pg/postgresql:/postgresql+psycopg:}")
else
  scale_args+=(--no-replicas)
fi
echo "== scale_bench.py ${scale_args[*]}"
"$python" "$here/scale_bench.py" "${scale_args[@]}" | tee "$work/scale.txt"

echo
echo "== headline figures for $label"
"$python" - "$work/sync.txt" "$work/scale.txt" <<'EOF'
import sys

sync, scale = (open(p, encoding="utf-8").read().splitlines() for p in sys.argv[1:3])
print(" ", next((line for line in sync if line.startswith("CPU-time ratios")), "no CPU-time ratios"))
targets = sync[sync.index("== targets") + 1 :]
for line in targets:
    if not line.strip():
        break
    print(" ", line)
for line in scale:
    if line.startswith("| ") and not line.startswith("| N ") and not line.startswith("| ---"):
        print("  scale", line)
    if "replicas x" in line or "failover:" in line:
        print(" ", line.strip())
EOF
echo "== machine at the end: $(uptime)"
