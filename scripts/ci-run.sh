#!/usr/bin/env bash
# The one script the CI templates run (action.yml for GitHub Actions, docs/ci/gitlab-template.yml
# for GitLab): builds the harness from this checkout unless OCI_CONFORMANCE_BIN names one, runs
# it with the OCI_* environment the official suite's action uses, and leaves the report dir
# behind whatever happens. Exit status: the harness's (README, "Exit codes").
#
# Environment (all optional):
#   OCI_ROOT_URL, OCI_NAMESPACE, OCI_CROSSMOUNT_NAMESPACE, OCI_USERNAME, OCI_PASSWORD, OCI_DEBUG,
#   OCI_VERSION, OCI_TEST_* ...   read by the harness itself (README, "Configuration")
#   OCI_REPORT_DIR                where the reports go (default: oci-conformance-report)
#   OCI_CONFORMANCE_BIN           a built harness to use instead of building one
#   OCI_CONFORMANCE_EXPECT        an expectations file (known failures)
#   OCI_CONFORMANCE_ARGS          more flags, split on spaces (never credentials: use the env)
#   GITHUB_STEP_SUMMARY           when set, the verdict line and counts are appended there
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
report_dir=${OCI_REPORT_DIR:-oci-conformance-report}
bin=${OCI_CONFORMANCE_BIN:-}
if [ -z "$bin" ]; then
  echo "building oci-conformance from $here"
  cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml" || exit 4
  bin="$here/target/release/oci-conformance"
fi
args=(--report-dir "$report_dir")
if [ -n "${OCI_CONFORMANCE_EXPECT:-}" ]; then args+=(--expect "$OCI_CONFORMANCE_EXPECT"); fi
# shellcheck disable=SC2206 # split on spaces on purpose
if [ -n "${OCI_CONFORMANCE_ARGS:-}" ]; then args+=(${OCI_CONFORMANCE_ARGS}); fi
"$bin" "${args[@]}" </dev/null
status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$report_dir/results.json" ]; then
  python3 - "$report_dir/results.json" "$status" >>"$GITHUB_STEP_SUMMARY" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
print(f"### oci-conformance {r.get('version', '')}: spec {r.get('spec_version', '')}, exit {sys.argv[2]}")
print()
print("| outcome | count |\n| --- | ---: |")
for k in ["passed", "failed", "warned", "unsupported", "skipped", "expected_failure", "not_run"]:
    print(f"| {k.replace('_', ' ')} | {s.get(k, 0)} |")
for t in r["tests"]:
    if t["outcome"] == "failed":
        print(f"- **{t['id']}**: {t['message'][:300]}")
PY
fi
echo "oci-conformance exit status $status; reports in $report_dir"
exit "$status"
