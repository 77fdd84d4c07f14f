#!/usr/bin/env bash
# The shop's feed, measured through PHP (issue 28): the same N records (default 200,000) through
#   - `mcsync push` of an NDJSON file (the Rust-side baseline),
#   - the PHP client's object path (pushRecords) over gRPC-Web and over h2c,
#   - the PHP client's JSON path (pushRecordsJson, always HTTP/1.1),
# each into a fresh mcsync (release build), with records/s, PHP's peak memory and mcsync's peak
# RSS; then PHP's memory with BIG records (default 1,000,000) through the JSON path, and the
# latency of UPSERTS live upsertJson calls (default 2,000), on one connection and one each.
#
#   bash clients/php/bench/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-200000}
BIG=${BIG:-1000000}
UPSERTS=${UPSERTS:-2000}
TOKEN=bench-token
cargo build --release --locked --quiet
bin=$PWD/target/release/mcsync
php_bench="php clients/php/bench/feed.php"
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

start() {
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data-$1" --token "$TOKEN" \
    --log-format json 2>"$work/$1.log" &
  pid=$!
  for _ in $(seq 200); do
    addr=$(grep -o '"addr":"[^"]*"' "$work/$1.log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$addr" ] && break
    sleep 0.05
  done
  url="http://$addr"
}
stop() {
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}
field() { php -r '$j = json_decode(stream_get_contents(STDIN), true); echo $j[$argv[1]] ?? "";' "$1"; }

echo "records: $N (products with 1-3 variants, customers, orders and carts of 1-4 lines)"
$php_bench ndjson "$N" "$work/feed.ndjson" >/dev/null
printf '| path | records/s | PHP peak | mcsync peak RSS |\n|---|---|---|---|\n'

start push
t0=$(date +%s.%N)
MCSYNC_SERVER=$url MCSYNC_TOKEN=$TOKEN "$bin" push "$work/feed.ndjson" >"$work/push.out"
t1=$(date +%s.%N)
stop
push_rate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d", n / (b - a)}')
printf '| `mcsync push` (NDJSON file) | %s | - | %s MiB |\n' "$push_rate" "$rss"

run() { # label, then feed.php's arguments after N URL TOKEN
  local label=$1 mode=$2 how=$3
  start "$mode-$how"
  out=$($php_bench "$mode" "$N" "$url" "$TOKEN" "$how")
  stop
  rate=$(echo "$out" | field records_per_s)
  printf '| %s | %s | %s MiB | %s MiB |\n' "$label" "$rate" "$(echo "$out" | field php_peak_mib)" "$rss"
  echo "$rate" >"$work/rate-$mode-$how"
}
run 'PHP objects, `pushRecords` over gRPC-Web' objects grpc-web
run 'PHP objects, `pushRecords` over h2c' objects h2c
run 'PHP arrays, `pushRecordsJson` (HTTP/1.1)' json http1
awk -v j="$(cat "$work/rate-json-http1")" -v p="$push_rate" \
  'BEGIN {printf "pushRecordsJson / mcsync push: %.2f (target: at least 0.8)\n", j / p}'

start big
out=$($php_bench json "$BIG" "$url" "$TOKEN")
stop
echo "pushRecordsJson of $BIG records: $(echo "$out" | field records_per_s) records/s, PHP peak $(echo "$out" | field php_peak_mib) MiB, mcsync peak RSS $rss MiB"

start upsert
for how in reuse fresh; do
  out=$($php_bench upsert "$UPSERTS" "$url" "$TOKEN" "$how")
  echo "upsertJson x $UPSERTS ($how connection): p50 $(echo "$out" | field p50_ms) ms, p99 $(echo "$out" | field p99_ms) ms, max $(echo "$out" | field max_ms) ms"
done
stop
