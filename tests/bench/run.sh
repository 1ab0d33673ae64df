#!/usr/bin/env bash
# Runs every benchmark in one go and writes $CARGO_TARGET_DIR/aauth-bench/report.md (+ throughput.svg).
# Not part of tests/run-all.sh (minutes of CPU); the code it runs compiles in the suite.
#   BENCH_SECONDS=5        measured seconds per end-to-end mode (and per long-run round)
#   BENCH_CONCURRENCY=16   client connections
#   BENCH_LONG_ROUNDS=6    rounds of the long bounded run
#   AAUTH_PYREF=../shared/interop/python-ref   the Python reference checkout (skipped if absent):
#                              tools/bench.py in process (step python), and peers/resource.py over
#                              HTTP under the e2e load (step pyhttp, part of e2e)
#   BENCH_SKIP="wasm python"   steps to skip (names: core mem e2e pyhttp token python wasm); the
#                              report then uses what an earlier run left for them in $OUT
#                              (pyhttp is part of e2e: skipped alone, it is reported as not run)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$CARGO_TARGET_DIR/aauth-bench"
mkdir -p "$OUT"
SECS=${BENCH_SECONDS:-5}; CONC=${BENCH_CONCURRENCY:-16}; ROUNDS=${BENCH_LONG_ROUNDS:-6}
PYREF=${AAUTH_PYREF:-$ROOT/../shared/interop/python-ref}
SKIP=" ${BENCH_SKIP:-} "
skip() { [[ "$SKIP" == *" $1 "* ]]; }
# Pin the server side to CPU 0 and the client to CPU 1 when there are two CPUs.
PIN0=(); PIN1=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN0=(taskset -c 0); PIN1=(taskset -c 1); fi
COMMANDS=()
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
run() { local c; c=$(printf '%q ' "$@"); COMMANDS+=("${c% }"); echo "+ ${c% }" >&2; "$@"; }

run cargo build --release --locked -p aauth-bench -p aauth-verify-loop
BIN="$CARGO_TARGET_DIR/release/aauth-bench"
# A step that runs first drops its earlier result (a failed step is then reported as not
# run); a skipped step's earlier result stays and is reported.
skip core || rm -f "$OUT/callgrind.json"
for s in e2e token mem python; do skip $s || rm -f "$OUT/$s.json"; done
skip wasm || rm -f "$OUT"/wasm-*.json

if ! skip core; then
  run "${PIN0[@]}" cargo bench --locked -p aauth-core --bench verify -- --warm-up-time 1 --measurement-time 4 'jwt_auth_token|jwks'
fi
if ! skip core && command -v valgrind >/dev/null; then
  # Instruction counts: reproducible on a busy machine, unlike the wall-clock numbers.
  run cargo build --release --locked -p aauth-core --example verify_cost
  VC="$CARGO_TARGET_DIR/release/examples/verify_cost"
  count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$VC" "$1" "$2" 200 2>&1 | sed -n 's/.*Collected : *//p'; }
  COMMANDS+=("valgrind --tool=callgrind --callgrind-out-file=/dev/null $VC {setup,raw,raw1,raw-decode,raw-shared,full,cached} {jwt,jwks} 200")
  {
    printf '{"n": 200'
    for s in jwt jwks; do
      printf ', "%s": {' "$s"; sep=""
      for m in setup raw raw1 raw-decode raw-shared full cached; do
        [ "$s" = jwks ] && [[ "$m" == raw1 || "$m" == cached || "$m" == raw-decode || "$m" == raw-shared ]] && continue
        printf '%s"%s": %s' "$sep" "$m" "$(count "$m" "$s")"; sep=", "
      done
      printf '}'
    done
    printf '}\n'
  } > "$OUT/callgrind.json"
fi
if ! skip mem; then
  run "$BIN" mem > "$OUT/mem.json"
fi
PY="${AAUTH_PEERS_HOME:-$HOME/.cache/aauth-python-peers}/venv/bin/python"
PY_READY=""
if ! skip python && [ -f "$PYREF/tools/bench.py" ]; then
  run bash "$PYREF/setup.sh" >&2; PY_READY=1
  # tools/bench.py imports a key loader the reference tree does not ship: tests/bench/pyref.
  COMMANDS+=("AAUTH_PYREF_KEYS=$PYREF/keys.json PYTHONPATH=tests/bench/pyref ${PIN0[*]} $PY $PYREF/tools/bench.py 3")
  AAUTH_PYREF_KEYS="$PYREF/keys.json" PYTHONPATH="$ROOT/tests/bench/pyref" "${PIN0[@]}" "$PY" "$PYREF/tools/bench.py" 3 > "$OUT/python.json"
fi
# Right after the Python reference, so both see about the same machine load.
E2E_FAILED=""
if ! skip e2e; then
  SERVER_CPU=(); [ ${#PIN1[@]} -gt 0 ] && SERVER_CPU=(--server-cpu 0)
  # The Python reference resource over HTTP, under the same load right after the axum modes
  # (apples to apples for the 15x target); e2e fails if its requests are not granted.
  PYHTTP=()
  if ! skip pyhttp && [ -f "$PYREF/peers/resource.py" ]; then
    [ -n "$PY_READY" ] || run bash "$PYREF/setup.sh" >&2
    PYHTTP=(--pyref "$PYREF" --python "$PY")
  fi
  # A failed e2e (the Python resource's requests not granted, say) still gets a report.
  run "${PIN1[@]}" "$BIN" e2e --seconds "$SECS" --concurrency "$CONC" --long-rounds "$ROUNDS" "${SERVER_CPU[@]}" "${PYHTTP[@]}" > "$OUT/e2e.json" || E2E_FAILED=1
fi
if ! skip token; then
  SERVER_CPU=(); [ ${#PIN1[@]} -gt 0 ] && SERVER_CPU=(--server-cpu 0)
  run "${PIN1[@]}" "$BIN" token --seconds "$SECS" --concurrency "$CONC" "${SERVER_CPU[@]}" > "$OUT/token.json"
fi
if ! skip wasm; then
  run bash tests/bench/wasm.sh "$OUT/wasm.json"
fi

versions="rustc $(rustc --version | cut -d' ' -f2)"
command -v node >/dev/null && versions+=", node $(node --version)"
[ -s "$OUT/python.json" ] && versions+=", python $(sed -n 's/.*"python": "\([^"]*\)".*/\1/p' "$OUT/python.json")"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
  printf '{"date": "%s", "cpu": "%s", "cpus": %s, "versions": "%s", "load": "%s at the start, %s at the end", "commands": [' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$cpu" "$(nproc)" "$versions" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
  sep=""; for c in "${COMMANDS[@]}"; do c=${c//\\/\\\\}; printf '%s"%s"' "$sep" "${c//\"/\\\"}"; sep=", "; done
  printf ']}\n'
} > "$OUT/env.json"
"$BIN" report "$OUT"
echo "report: $OUT/report.md" >&2
if [ -n "$E2E_FAILED" ]; then
  echo "run.sh: aauth-bench e2e FAILED (see its message above and the report)" >&2
  exit 1
fi
