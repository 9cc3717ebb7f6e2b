#!/usr/bin/env bash
# The figures of BENCHMARKS.md "Issue 14: the figures", measured with `ringproof bench` on
# release builds: SQLite (start to ready, idle RSS, every scenario, a concurrency sweep, at
# 1 000 000 stored verifications), PostgreSQL one node and two nodes combined. Servers,
# database and load share the machine. Reports go to $OUT (default /tmp/rp-figures), one
# JSON file per run, and a summary table is printed at the end.
#
#   bash scripts/figures.sh            # everything (about 15 minutes on 2 cores)
#   SKIP_MILLION=1 bash scripts/figures.sh
#
# Needs PostgreSQL at $PG_ADMIN (default postgres://postgres@127.0.0.1:5432/test) for the
# PostgreSQL half; it creates and drops the database rpfigures.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ringproof-target}"
OUT="${OUT:-/tmp/rp-figures}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
N="${N:-3000}"
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p ringproof
B="$CARGO_TARGET_DIR/release/ringproof"
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done' EXIT

# The limits across verifications would (rightly) stop thousands of unconverted sends to a
# few ranges from one address: off on these throw-away servers only.
export RINGPROOF_LIMITS__PUMP_BLOCK_HOURS=0 RINGPROOF_LIMITS__PUMP_COUNTRY_BLOCK_HOURS=0
export RUST_LOG=warn

# start NAME PORT [env...]: starts a server on a fresh data directory; READY_MS is the
# time from exec to its first 200 from /readyz.
start() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$OUT/$name"
  local t0
  t0=$(date +%s%N)
  env "$@" "$B" serve --data-dir "$OUT/$name/data" --listen "127.0.0.1:$port" >"$OUT/$name/serve.log" 2>&1 &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.005; done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop_all() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
bench() { # bench NAME PORT DATA ARGS...
  local name=$1 port=$2 data=$3
  shift 3
  "$B" bench run --url "http://127.0.0.1:$port" --credentials "$data/demo-credentials.json" "$@" >"$OUT/$name.json"
}

echo "== SQLite: start to ready, idle RSS"
start sqlite 18080
sleep 2
idle=$(rss_kib "${PIDS[0]}")
echo "{\"start_to_ready_ms\": $READY_MS, \"idle_rss_kib\": $idle}" >"$OUT/sqlite-start.json"
D="$OUT/sqlite/data"
ID=$(python3 -c "import json;print(json.load(open('$D/demo-credentials.json'))['client_id'])")
"$B" --data-dir "$D" client twilio-credentials "$ID" --json >"$OUT/twilio.json"

echo "== SQLite: every scenario, 16 concurrent"
bench sqlite-all 18080 "$D" --twilio "$OUT/twilio.json" --requests "$N" --concurrency 16
echo "== SQLite: otp concurrency sweep"
for c in 4 8 32 64; do
  bench "sqlite-otp-c$c" 18080 "$D" --scenario otp --requests "$N" --concurrency "$c"
done
stop_all

if [ -z "${SKIP_MILLION:-}" ]; then
  echo "== SQLite at 1 000 000 stored verifications"
  rm -rf "$OUT/million" && mkdir -p "$OUT/million"
  # A first start creates the data directory, the demo client and the secret.
  start million 18082
  stop_all
  t0=$(date +%s)
  "$B" --data-dir "$OUT/million/data" bench seed --verifications 1000000
  echo "{\"seed_s\": $(( $(date +%s) - t0 ))}" >"$OUT/million-seed.json"
  start million 18082
  bench million 18082 "$OUT/million/data" --scenario otp,check,status --requests "$N" --concurrency 16
  stop_all
  # The same server, same data directory layout, empty, right after: the comparison.
  rm -rf "$OUT/empty" && start empty 18083
  bench empty 18083 "$OUT/empty/data" --scenario otp,check,status --requests "$N" --concurrency 16
  stop_all
fi

echo "== PostgreSQL: one node, then two nodes combined"
psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS rpfigures" -c "CREATE DATABASE rpfigures"
PG_URL="${PG_ADMIN%/*}/rpfigures"
SECRET="figures-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start pg1 18084 RINGPROOF_DATABASE_URL="$PG_URL" RINGPROOF_SERVER_SECRET="$SECRET"
bench pg-one 18084 "$OUT/pg1/data" --scenario otp,check --requests "$N" --concurrency 16
start pg2 18085 RINGPROOF_DATABASE_URL="$PG_URL" RINGPROOF_SERVER_SECRET="$SECRET"
# The second node created no demo client (the first did): it takes the same credentials.
bench pg-two-a 18084 "$OUT/pg1/data" --scenario otp --requests "$N" --concurrency 16 &
a=$!
bench pg-two-b 18085 "$OUT/pg1/data" --scenario otp --requests "$N" --concurrency 16 &
b=$!
wait "$a" "$b"
stop_all
psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS rpfigures"

python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".json")
    return json.load(open(p)) if os.path.exists(p) else None
def scen(r, name):
    for s in r["scenarios"]:
        if s["scenario"] == name:
            return s
print(json.dumps(load("sqlite-start")))
r = load("sqlite-all")
for s in r["scenarios"]:
    print(f'sqlite c=16 {s["scenario"]:<12} {s["throughput_per_s"]:>9.0f}/s p50 {s["latency_ms"]["p50"]:.1f} p99 {s["latency_ms"]["p99"]:.1f} ms ratio {s.get("ratio_to_baseline")} errors {s["errors"]} rss {s.get("server_rss_kib")}')
for c in (4, 8, 32, 64):
    s = scen(load(f"sqlite-otp-c{c}"), "otp")
    print(f'sqlite otp c={c:<3} {s["throughput_per_s"]:>9.0f}/s p99 {s["latency_ms"]["p99"]:.1f} ms errors {s["errors"]}')
for n in ("empty", "million"):
    r = load(n)
    if r:
        for s in r["scenarios"]:
            print(f'{n:<8} {s["scenario"]:<8} {s["throughput_per_s"]:>9.0f}/s p99 {s["latency_ms"]["p99"]:.1f} ms errors {s["errors"]}')
print(json.dumps(load("million-seed")))
for n in ("pg-one", "pg-two-a", "pg-two-b"):
    r = load(n)
    for s in r["scenarios"]:
        print(f'{n:<9} {s["scenario"]:<8} {s["throughput_per_s"]:>9.0f}/s p99 {s["latency_ms"]["p99"]:.1f} ms errors {s["errors"]}')
EOF
