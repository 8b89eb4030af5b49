#!/usr/bin/env bash
# Stability of the verdicts (not a timed test): N consecutive default runs against one Debian
# docker-registry 2.8 (the same registry, as a vendor's CI would run them, each run with its own
# seed), each compared with the pinned verdicts of tests/known/docker-registry-2.8.toml. A run
# whose failures or warnings differ from that list is a false (or lost) verdict: the script
# prints it and exits 1. Verdicts must not depend on timing or on the harness's own concurrency.
#
#   benches/repeat.sh [N]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
BIN=target/release/oci-conformance
[ -x "$BIN" ] || cargo build --release --locked
[ -x /usr/bin/docker-registry ] || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/oci-repeat.XXXXXX)
# A port the kernel says is free (a random one could be taken by another test's server).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { [ -f "$WORK/registry.pid" ] && kill "$(cat "$WORK/registry.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cat > "$WORK/config.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $WORK/storage}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$PORT}
YAML
/usr/bin/docker-registry serve "$WORK/config.yml" >"$WORK/log" 2>&1 &
echo $! > "$WORK/registry.pid"
up=0
for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
# Without a registry every run would differ: say why instead.
[ $up = 1 ] || { echo "docker-registry did not answer on 127.0.0.1:$PORT within 20 s:" >&2; cat "$WORK/log" >&2; exit 2; }

bad=0
for i in $(seq "$N"); do
  "$BIN" --quiet --registry "http://127.0.0.1:$PORT" --report-dir "$WORK/run-$i" >/dev/null 2>&1 || true
  if ! python3 - "$WORK/run-$i/results.json" tests/known/docker-registry-2.8.toml "$i" <<'PY'
import json, sys, tomllib
results, known, i = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(results))
got = {t["id"]: t["outcome"] for t in d["tests"] if t["outcome"] in ("failed", "warned", "not-run")}
want = {v["id"]: v["outcome"] for v in tomllib.load(open(known, "rb")).get("violation", [])}
diff = []
for k, o in sorted(got.items()):
    if want.get(k) != o:
        msg = next(t["message"] for t in d["tests"] if t["id"] == k)
        diff.append(f"  NEW {o} {k}: {msg[:300]}")
for k, o in sorted(want.items()):
    if k not in got:
        diff.append(f"  LOST {o} {k}")
print(f"run {i:>2} seed {d['seed']}: {len(got)} failed/warned, " + ("as pinned" if not diff else f"{len(diff)} difference(s)"))
for line in diff:
    print(line)
sys.exit(1 if diff else 0)
PY
  then bad=$((bad + 1)); fi
done
echo "runs: $N, with verdicts that differ from the pinned ones: $bad"
[ "$bad" = 0 ]
