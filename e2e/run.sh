#!/usr/bin/env bash
# The end-to-end suite in one command: build any missing tool, make sure the
# project's .venv exists, start the kwok cluster, run tests/e2e against it,
# always tear the cluster down, then print the wall time of each step.
#
# Usage: e2e/run.sh [pytest arguments]
#
# Environment: those of build-tools.sh and cluster.sh, and
#   VAPORA_E2E_OUT   where the timing table and logs go (default: a temp dir)
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$E2E_DIR")
OUT=${VAPORA_E2E_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vapora-e2e.XXXXXX")}
TIMINGS="$OUT/timings.tsv"
mkdir -p "$OUT"
: >"$TIMINGS"

log() { printf '[e2e] %s\n' "$*" >&2; }

# record STEP SECONDS: one row of the table, beside the suite's own rows.
record() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/harness.tsv"; }
: >"$OUT/harness.tsv"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

start=$(now)
"$E2E_DIR/build-tools.sh"
BIN_DIR=$("$E2E_DIR/build-tools.sh" --print-bin)
record "build-tools.sh (warm: nothing to build)" "$(since "$start")"

if [[ ! -x "$REPO/.venv/bin/vapora-infra" ]]; then
    log "creating $REPO/.venv"
    make -C "$REPO" .venv/bin/vapora-infra
fi

teardown() {
    local status=$?
    local started
    started=$(now)
    "$E2E_DIR/cluster.sh" down 2>"$OUT/cluster-down.log" || true
    record "cluster.sh down" "$(since "$started")"
    print_table
    log "logs and timings: $OUT"
    exit "$status"
}

print_table() {
    python3 - "$OUT/harness.tsv" "$TIMINGS" <<'PY'
import sys

rows = []
for path in sys.argv[1:]:
    with open(path) as handle:
        rows += [line.rstrip("\n").split("\t") for line in handle if line.strip()]
width = max((len(name) for name, _ in rows), default=4)
print()
print(f"{'step'.ljust(width)}  wall time (s)")
print(f"{'-' * width}  -------------")
for name, seconds in rows:
    print(f"{name.ljust(width)}  {float(seconds):>13.1f}")
PY
}

# A cluster left over from an interrupted run holds objects of a stack whose
# state is gone; start from an empty one.
"$E2E_DIR/cluster.sh" down >/dev/null 2>&1 || true
trap teardown EXIT
start=$(now)
"$E2E_DIR/cluster.sh" up 2>"$OUT/cluster-up.log"
record "cluster.sh up" "$(since "$start")"

eval "$("$E2E_DIR/cluster.sh" env)"
export VAPORA_E2E_BIN="$BIN_DIR" VAPORA_E2E_TIMINGS="$TIMINGS"
export VAPORA_E2E_KUBECONFIG="$KUBECONFIG"

start=$(now)
cd "$REPO"
.venv/bin/pytest -m e2e tests/e2e -p no:cacheprovider -v \
    --basetemp="$OUT/pytest" "$@"
record "pytest tests/e2e (total)" "$(since "$start")"
