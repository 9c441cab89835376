#!/usr/bin/env bash
# Compatibility matrix.
#
#   bash scripts/matrix.sh            (npm run matrix)
#
# 1. The whole test suite (`npm test`: types, build, vitest — end-to-end tests
#    included, against the pinned opencode) on Node 20, 22 and 24. Node releases
#    come from the npm registry as the `node` package, installed once into
#    .cache/node/<major>; the machine's own node is used for its own major.
# 2. The end-to-end tests (`npx vitest run test/e2e`) against opencode 1.18.33,
#    the newer 1.19.5 (published only as its platform package, opencode-<os>-<arch>)
#    and older 1.x releases, through OPENCODE_E2E_VERSION (each installed once
#    into the per-user cache, <cache>/opencode/<version>, by the tests' global setup).
#    OpenCode 2.1.2 is in every cell: test/e2e/v2-*.e2e.test.ts run against it.
#
# Everything goes to bench/results/matrix.log (override: MATRIX_LOG); a summary
# closes it. Choose cells with MATRIX_NODES="20 22 24" and
# MATRIX_OPENCODE="1.18.33 1.19.5 1.15.13 1.2.27". Exit status: 0 when every cell
# passed, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LOG=${MATRIX_LOG:-bench/results/matrix.log}
NODES=${MATRIX_NODES:-20 22 24}
OPENCODES=${MATRIX_OPENCODE:-1.18.33 1.19.5 1.15.13 1.2.27}
CELL_TIMEOUT=${MATRIX_CELL_TIMEOUT:-45m}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
export NO_COLOR=1 FORCE_COLOR=0 CI=${CI:-true}

log() { printf '%s\n' "$*" | tee -a "$LOG"; }

# The directory holding a node binary of the given major version (installing it if needed).
node_dir() {
  local major=$1 own
  own=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)
  if [ "$own" = "$major" ]; then
    dirname "$(command -v node)"
    return 0
  fi
  local dir="$ROOT/.cache/node/$major"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund "node@$major" >>"$LOG" 2>&1 || return 1
  fi
  [ -x "$dir/node_modules/.bin/node" ] || return 1
  echo "$dir/node_modules/.bin"
}

SUMMARY=()
FAILED=0

# run_cell NAME SHOWN COMMAND… : runs one cell with output into the log, records its outcome.
run_cell() {
  local name=$1 shown=$2
  shift 2
  local out start end rc tests files fails
  out=$(mktemp)
  log ""
  log "=== $name: $shown ($(date -u +%H:%M:%S))"
  start=$(date +%s)
  timeout "$CELL_TIMEOUT" "$@" >"$out" 2>&1
  rc=$?
  end=$(date +%s)
  cat "$out" >>"$LOG"
  files=$(grep -E '^ *Test Files ' "$out" | tail -1 | sed -E 's/^ *Test Files +//')
  tests=$(grep -E '^ *Tests ' "$out" | tail -1 | sed -E 's/^ *Tests +//')
  fails=$(grep -E '^ *(FAIL|×|✗) ' "$out" | sed -E 's/^ *//' | sort -u | head -40)
  local status=PASS
  if [ "$rc" -ne 0 ]; then
    status=FAIL
    FAILED=1
  fi
  [ "$rc" -eq 124 ] && status="FAIL (timeout $CELL_TIMEOUT)"
  SUMMARY+=("$(printf '%-34s %-5s %4ss  files: %s; tests: %s' "$name" "$status" "$((end - start))" "${files:-?}" "${tests:-?}")")
  if [ -n "$fails" ]; then
    while IFS= read -r f; do SUMMARY+=("      $f"); done <<<"$fails"
  fi
  log "=== $name: exit $rc after $((end - start)) s"
  rm -f "$out"
}

log "opencode-bridge compatibility matrix, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"

for major in $NODES; do
  if ! dir=$(node_dir "$major"); then
    SUMMARY+=("$(printf '%-34s %-5s' "npm test on node $major" "FAIL (could not install node@$major)")")
    FAILED=1
    continue
  fi
  version=$("$dir/node" --version)
  run_cell "npm test on node $version" "PATH=$dir:\$PATH npm test" env PATH="$dir:$PATH" npm test
done

for v in $OPENCODES; do
  run_cell "e2e against opencode $v" "OPENCODE_E2E_VERSION=$v npx vitest run test/e2e" env OPENCODE_E2E_VERSION="$v" npx vitest run test/e2e
done

log ""
log "=== summary"
for line in "${SUMMARY[@]}"; do log "$line"; done
exit "$FAILED"
