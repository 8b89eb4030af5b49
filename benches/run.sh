#!/usr/bin/env bash
# Benchmarks (not timed tests): prints figures, asserts nothing about speed.
#
#   benches/run.sh [--short]
#
# 1. full default run vs the embedded registry and vs Debian's docker-registry (loopback):
#    wall time, checks, HTTP requests
# 2. the official HEAD suite (../shared/official/run-official.sh, when present) against the same
#    docker-registry: ratio of wall times (best of N each) and both check counts
# 3. 1 GiB blob push+pull with `bench blob` vs curl doing the same monolithic PUT and GET:
#    throughput ratio and the harness's peak RSS (/usr/bin/time)
# 4. growth: blob size 1 MiB → 1 GiB, and tags listed through pagination 10 → 10,000
# --short: one repetition, small sizes, for CI (proves the script works).
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=0; [ "${1:-}" = "--short" ] && SHORT=1
REPS=3; BIG=$((1<<30)); SIZES="1MiB 16MiB 128MiB 1GiB"; TAGS="10 100 1000 10000"
if [ $SHORT = 1 ]; then REPS=1; BIG=$((16<<20)); SIZES="1MiB 16MiB"; TAGS="10 100"; fi
BIN=target/release/oci-conformance
[ -x "$BIN" ] || cargo build --release --locked
WORK=$(mktemp -d /tmp/oci-bench.XXXXXX)
# A port the kernel says is free (a random one could be taken by another test's server).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { [ -f "$WORK/dr/registry.pid" ] && kill "$(cat "$WORK/dr/registry.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
now() { python3 -c 'import time; print(time.time())'; }
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# --- docker-registry on loopback, temporary config and storage ---
start_docker_registry() {
  local dir=$WORK/dr; mkdir -p "$dir/storage"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/storage}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$PORT}
YAML
  /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! > "$dir/registry.pid"
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "docker-registry did not start" >&2; return 1
}
HAVE_DR=0
if [ -x /usr/bin/docker-registry ]; then start_docker_registry && HAVE_DR=1; else echo "note: docker-registry not installed: its rows are skipped"; fi

run_harness() { # $1 label, $2.. extra args; prints "wall checks requests"
  local label=$1; shift
  local best=""
  for i in $(seq $REPS); do
    local t0; t0=$(now)
    "$BIN" --quiet --report-dir "$WORK/h-$label" "$@" >/dev/null 2>&1 || true
    local t1; t1=$(now)
    local w; w=$(python3 -c "print('%.2f' % ($t1-$t0))")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $w < $best else 1)"; then best=$w; fi
  done
  local n r
  n=$(jget "$WORK/h-$label/results.json" "d['summary']['total']")
  r=$(jget "$WORK/h-$label/results.json" "d['summary']['http_requests']")
  echo "$best $n $r"
}

echo
echo "## 1. full default run (best of $REPS)"
printf '%-28s %10s %8s %14s\n' target wall_s checks http_requests
read -r w n r < <(run_harness embedded)
printf '%-28s %10s %8s %14s\n' "embedded registry" "$w" "$n" "$r"
if [ $HAVE_DR = 1 ]; then
  read -r DW DN DR < <(run_harness dr --registry "http://127.0.0.1:$PORT")
  printf '%-28s %10s %8s %14s\n' "docker-registry 2.8" "$DW" "$DN" "$DR"
fi

echo
echo "## 2. official HEAD suite vs this harness, same docker-registry (best of $REPS)"
OFFICIAL=${OFFICIAL_RUNNER:-../shared/official/run-official.sh}
if [ $HAVE_DR = 1 ] && [ -x "$OFFICIAL" -o -f "$OFFICIAL" ]; then
  best=""; line=""
  for i in $(seq $REPS); do
    out=$(bash "$OFFICIAL" "http://127.0.0.1:$PORT" "$WORK/official" head 2>&1 | tail -1 || true)
    w=$(echo "$out" | sed -n 's/.*wall \([0-9.]*\) s.*/\1/p')
    [ -n "$w" ] || continue
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $w < $best else 1)"; then best=$w; line=$out; fi
  done
  if [ -n "$best" ]; then
    OC=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped.*/\1+\2+\3/p' | python3 -c "import sys; print(eval(sys.stdin.read().strip() or '0'))")
    echo "official: $line"
    echo "harness:  wall $DW s, $DN checks"
    python3 -c "print('ratio harness/official wall time: %.2f  (target <= 0.30); checks: harness %s vs official %s' % ($DW/$best, $DN, $OC))"
  else
    echo "official suite gave no result"
  fi
else
  echo "skipped: needs docker-registry and $OFFICIAL"
fi

echo
echo "## 3. $(python3 -c "print('%d MiB' % ($BIG>>20))") blob: bench blob vs curl (monolithic PUT + GET)"
if [ $HAVE_DR = 1 ]; then
  REG="http://127.0.0.1:$PORT"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" bench blob --registry "$REG" --size "$BIG" --chunk-size 64MiB > "$WORK/bench.json"
  python3 - "$WORK/bench.json" "$WORK/rss" <<'PY'
import json,sys
d=json.load(open(sys.argv[1])); rss=int(open(sys.argv[2]).read().split()[-1])
for p in d['phases']: print("harness %-16s %8.1f MB/s  %7.2f s" % (p['phase'], p['mb_per_s'], p['seconds']))
print("harness peak RSS: %.1f MiB (target <= 64 MiB)" % (rss/1024))
PY
  # curl: the same bytes from a file, monolithic PUT then GET
  "$BIN" bench blob --registry "$REG" --size 0 >/dev/null 2>&1 || true
  head -c "$BIG" /dev/urandom > "$WORK/blob.bin"
  DIG=sha256:$(sha256sum "$WORK/blob.bin" | cut -d' ' -f1)
  LOC=$(curl -fsS -X POST -D - -o /dev/null "$REG/v2/bench/curl/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case "$LOC" in http*) ;; *) LOC="$REG$LOC";; esac
  SEP='?'; case "$LOC" in *\?*) SEP='&';; esac
  t0=$(now); curl -fsS -T "$WORK/blob.bin" -H 'Content-Type: application/octet-stream' "$LOC${SEP}digest=$DIG" -o /dev/null; t1=$(now)
  curl -fsS "$REG/v2/bench/curl/blobs/$DIG" -o /dev/null; t2=$(now)
  curl -fsS -X DELETE "$REG/v2/bench/curl/blobs/$DIG" -o /dev/null || true
  python3 - "$WORK/bench.json" "$BIG" "$t0" "$t1" "$t2" <<'PY'
import json,sys
d=json.load(open(sys.argv[1])); big=int(sys.argv[2]); t0,t1,t2=map(float,sys.argv[3:6])
cp=big/1e6/(t1-t0); cg=big/1e6/(t2-t1)
ph={p['phase']:p for p in d['phases']}
hp=ph['push-monolithic']['mb_per_s']; hg=ph['pull']['mb_per_s']
print("curl    push             %8.1f MB/s\ncurl    pull             %8.1f MB/s" % (cp, cg))
h=2*big/1e6/(big/1e6/hp+big/1e6/hg); c=2*big/1e6/(big/1e6/cp+big/1e6/cg)
print("push+pull throughput: harness %.1f MB/s, curl %.1f MB/s, ratio %.2f (target >= 0.80)" % (h, c, h/c))
PY
  rm -f "$WORK/blob.bin"
else
  echo "skipped: needs docker-registry"
fi

echo
echo "## 4a. wall time vs blob size (embedded registry, bench blob)"
for s in $SIZES; do
  "$BIN" bench blob --size "$s" --chunk-size 16MiB > "$WORK/b.json"
  python3 -c "
import json; d=json.load(open('$WORK/b.json')); ph={p['phase']:p for p in d['phases']}
print('%-8s push-mono %6.2f s  push-chunked %6.2f s  pull %6.2f s  peak RSS (incl. the in-process registry holding the blob) %.0f MiB' % ('$s', ph['push-monolithic']['seconds'], ph['push-chunked']['seconds'], ph['pull']['seconds'], (d['peak_rss_bytes'] or 0)/1048576))"
done

echo
echo "## 4b. wall time vs number of tags listed through pagination (embedded registry)"
for n in $TAGS; do
  "$BIN" bench tags --count "$n" > "$WORK/t.json"
  python3 -c "
import json; d=json.load(open('$WORK/t.json'))
print('%6d tags: push %6.2f s, list %6.2f s in %d pages' % (d['count'], d['push_seconds'], d['list_seconds'], d['pages']))"
done

echo
echo "## 5. stress bucket: request rate it sustains (--stress-concurrency 8, $([ $SHORT = 1 ] && echo 1 || echo 20) rounds per check)"
stress_rate() { # $1 label, $2.. extra args
  local label=$1; shift
  "$BIN" --quiet --bucket stress --repeat "$([ $SHORT = 1 ] && echo 1 || echo 20)" --report-dir "$WORK/s-$label" "$@" >/dev/null 2>&1 || true
  python3 - "$WORK/s-$label/results.json" "$label" <<'PY'
import json,sys
d=json.load(open(sys.argv[1])); loads=[t['load'] for t in d['tests'] if t.get('load')]
req=sum(l['requests'] for l in loads); ms=sum(l['duration_ms'] for l in loads)
found=[f"{t['id']} ({t['load']['violating_rounds']}/{t['load']['rounds']})" for t in d['tests'] if t['outcome'] in ('failed','warned') and t.get('load')]
print("%-20s %7d requests in %6.2f s: %8.0f req/s; races found: %s" % (sys.argv[2], req, ms/1000, req/(ms/1000) if ms else 0, ', '.join(found) or 'none'))
PY
}
stress_rate "embedded"
if [ $HAVE_DR = 1 ]; then stress_rate "docker-registry 2.8" --registry "http://127.0.0.1:$PORT"; fi
