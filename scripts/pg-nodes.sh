#!/usr/bin/env bash
# PostgreSQL one node and two nodes, for comparing builds (BENCHMARKS.md, "PostgreSQL: a
# node's counter steps batched"): for each binary given, a fresh database, one node running
# `bench run --scenario otp,check`, then a second node and `--scenario otp` against both at
# once (two bench processes). Prints one line per binary.
#
#   bash scripts/pg-nodes.sh /path/to/ringproof-before /path/to/ringproof-after
set -euo pipefail
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
N="${N:-2000}"
export RINGPROOF_LIMITS__PUMP_BLOCK_HOURS=0 RINGPROOF_LIMITS__PUMP_COUNTRY_BLOCK_HOURS=0 RUST_LOG=warn
URL="${PG_ADMIN%/*}/rppgnodes"
for B in "$@"; do
  psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS rppgnodes" -c "CREATE DATABASE rppgnodes" 2>/dev/null
  SECRET="pg-nodes-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  D=$(mktemp -d /tmp/rp-pg-nodes-XXXXXX)
  RINGPROOF_DATABASE_URL=$URL RINGPROOF_SERVER_SECRET=$SECRET "$B" serve --data-dir "$D/a" --listen 127.0.0.1:18095 >"$D/a.log" 2>&1 &
  pa=$!
  until curl -fs http://127.0.0.1:18095/readyz >/dev/null 2>&1; do sleep 0.01; done
  "$B" bench run --url http://127.0.0.1:18095 --credentials "$D/a/demo-credentials.json" \
    --scenario otp,check --requests "$N" --concurrency 16 2>/dev/null >"$D/one.json"
  RINGPROOF_DATABASE_URL=$URL RINGPROOF_SERVER_SECRET=$SECRET "$B" serve --data-dir "$D/b" --listen 127.0.0.1:18096 >"$D/b.log" 2>&1 &
  pb=$!
  until curl -fs http://127.0.0.1:18096/readyz >/dev/null 2>&1; do sleep 0.01; done
  # The second node created no demo client (the first did): both benches use its credentials.
  "$B" bench run --url http://127.0.0.1:18095 --credentials "$D/a/demo-credentials.json" \
    --scenario otp --requests "$N" --concurrency 16 2>/dev/null >"$D/two-a.json" &
  ba=$!
  "$B" bench run --url http://127.0.0.1:18096 --credentials "$D/a/demo-credentials.json" \
    --scenario otp --requests "$N" --concurrency 16 2>/dev/null >"$D/two-b.json" &
  bb=$!
  wait "$ba" "$bb"
  kill "$pa" "$pb"
  wait "$pa" "$pb" 2>/dev/null || true
  python3 - "$D" "$B" <<'PY'
import json, sys
d, b = sys.argv[1:]
def tp(f, s):
    for x in json.load(open(f"{d}/{f}.json"))["scenarios"]:
        if x["scenario"] == s:
            return x["throughput_per_s"], x["latency_ms"]["p99"], x["errors"]
one, chk, a, c = tp("one", "otp"), tp("one", "check"), tp("two-a", "otp"), tp("two-b", "otp")
print(f"{b}: one node otp {one[0]:.0f}/s (p99 {one[1]:.0f} ms), check {chk[0]:.0f}/s; "
      f"two nodes otp {a[0]:.0f} + {c[0]:.0f} = {a[0] + c[0]:.0f}/s (p99 {a[1]:.0f}/{c[1]:.0f} ms); "
      f"errors {one[2] + chk[2] + a[2] + c[2]}")
PY
  rm -rf "$D"
done
psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS rppgnodes" 2>/dev/null
