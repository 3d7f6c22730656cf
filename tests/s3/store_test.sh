#!/usr/bin/env bash
# The S3 store against a real Ceph RGW, directly and through the fault proxy:
# starts RGW and tests/s3/fault_proxy.py, runs the live GoogleTest cases
# (S3Live.*, S3Fault.* in build/unit_tests), stops everything it started.
#   tests/s3/store_test.sh [BUILD_DIR]
# Reuses a running RGW when RGW_DIR and the AWS_* variables are already set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ -x "$build/unit_tests" ] || { echo "store_test: $build/unit_tests missing: run make $build/unit_tests" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vol-s3-store-test.XXXXXX)
proxy_pid=
own_rgw=
cleanup() {
  [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true
  [ -z "$own_rgw" ] || "$here/rgw" stop "$tmp/rgw"
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${RGW_DIR:-}" ]; then
  eval "$("$here/rgw" start "$tmp/rgw")"
  own_rgw=1
fi
python3 "$here/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" >"$tmp/proxy.port" &
proxy_pid=$!
for _ in $(seq 100); do [ -s "$tmp/proxy.port" ] && break; sleep 0.05; done
[ -s "$tmp/proxy.port" ] || { echo "store_test: fault proxy did not start" >&2; exit 1; }

VOL_S3_TEST_URL="${VOL_S3_TEST_URL:-s3://$RGW_BUCKET/store-test}" \
VOL_S3_FAULT_PROXY="http://127.0.0.1:$(cat "$tmp/proxy.port")" \
  "$build/unit_tests" --gtest_filter='S3Live.*:S3Fault.*' --gtest_brief=1
