#!/usr/bin/env bash
# vol on a real Ceph RGW, directly and through tests/s3/fault_proxy.py. Runs in
# the runner's RGW pass (VOL_STORE=s3://…, RGW_DIR set by tests/s3/rgw);
# skipped on file:// stores.
#   - the store's live tests: round trips, paging, the 30x8 put-if-absent race,
#     resets/503s/slow/truncated bodies at the store level;
#   - wrong keys and a missing bucket: one clear line, fast, no secret;
#   - altered and truncated bodies are retried, never written out as file data;
#   - the gateway killed in the middle of a get: a clear error after the
#     retries, and what was committed is intact;
#   - the gateway restarted while a get or a mounted read waits: they ride the
#     outage out;
#   - four writers with separate cache directories lose no update, and a
#     concurrent reader only ever sees whole commits.
source "$(dirname "$0")/lib.sh"

RGW=$ROOT/tests/s3/rgw
# Short backoff: faults here are injected on purpose, waiting proves nothing.
export VOL_S3_BACKOFF_MS=20 VOL_S3_MAX_BACKOFF_MS=200

need_rgw() {
  on_s3 && [[ -n "${RGW_DIR:-}" ]] || skip "needs the Ceph RGW pass of tests/integration/run"
  [[ -f "$RGW_DIR/pids/rgw" ]] || "$RGW" start-gateway "$RGW_DIR" 2>/dev/null
  unset AWS_PROFILE
}

# Starts the fault proxy in front of RGW; sets PROXY (its URL).
start_proxy() {
  python3 "$ROOT/tests/s3/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" >"$T/proxy.port" &
  local _
  for _ in $(seq 100); do [[ -s "$T/proxy.port" ]] && break; sleep 0.05; done
  [[ -s "$T/proxy.port" ]] || fail "the fault proxy did not start"
  PROXY=http://127.0.0.1:$(cat "$T/proxy.port")
}
# faults "alter=1&seed=3": sets the proxy's fault rates (rates not named are 0).
faults() { curl -sf "$PROXY/__fault__/set?$1" >/dev/null || fail "cannot reach the fault proxy"; }
via_proxy() { AWS_ENDPOINT_URL=$PROXY AWS_ENDPOINT_URL_S3= "$@"; }

# A volume "v" holding /data (5 MiB + a bit, random); the original in $T/data.
make_volume() {
  head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$T/data"
  $VOL create v >/dev/null
  $VOL put v "$T/data" /data >/dev/null
}

test_store_live_tests() {
  need_rgw
  [[ -x "$ROOT/build/unit_tests" ]] || skip "build/unit_tests not built (make build/unit_tests)"
  VOL_S3_TEST_URL=$VOL_STORE/store-tests "$ROOT/tests/s3/store_test.sh" "$ROOT/build" >"$T/log" 2>&1 \
    || fail "S3Live.* / S3Fault.* failed:
$(grep -E 'FAILED|Failure|error' -A3 "$T/log" | head -40)"
  grep -E '^\[  PASSED  \] 18 tests' "$T/log" >/dev/null || fail "not all 18 live tests ran: $(tail -5 "$T/log")"
}

test_round_trip_on_rgw() {
  need_rgw
  make_volume
  $VOL get v /data "$T/back" >/dev/null
  assert_file_eq "$T/data" "$T/back"
}

test_wrong_keys_fail_fast_and_clearly() {
  need_rgw
  make_volume
  local start=$SECONDS secret=WrongSecretWrongSecretWrongSecret123456
  AWS_SECRET_ACCESS_KEY=$secret assert_fails_with \
    "access denied for bucket $RGW_BUCKET at .*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" \
    $VOL ls v /
  [[ "$ERR" != *"$secret"* && "$ERR" != *"$AWS_SECRET_ACCESS_KEY"* ]] || fail "a secret leaked: $ERR"
  AWS_ACCESS_KEY_ID=NOSUCHACCESSKEY assert_fails_with "InvalidAccessKeyId.*check AWS_ACCESS_KEY_ID" \
    $VOL get v /data "$T/x"
  [[ ! -e "$T/x" ]] || fail "a failed get left $T/x"
  (( SECONDS - start < 5 )) || fail "authentication failures took $((SECONDS - start)) s: retried?"
}

test_missing_bucket_is_named() {
  need_rgw
  VOL_STORE=s3://vol-no-such-bucket-$$/p assert_fails_with \
    "bucket vol-no-such-bucket-$$ does not exist at .*create it" $VOL list
}

test_altered_bodies_are_never_written() {
  need_rgw
  make_volume
  start_proxy
  faults "alter=1"
  via_proxy assert_fails_with "corrupt|checksum" $VOL get v /data "$T/out"
  [[ ! -e "$T/out" ]] || cmp -s "$T/out" "$T/data" || fail "altered bytes were written to $T/out"
  local rc=0
  via_proxy $VOL get v /data - >"$T/stdout" 2>/dev/null || rc=$?
  [[ $rc -ne 0 ]] || fail "get to stdout succeeded with every body altered"
  cmp -s "$T/stdout" <(head -c "$(stat -c %s "$T/stdout")" "$T/data") \
    || fail "altered bytes were written to stdout"
  # Some bodies altered: the store's own checksum sends the GET again.
  faults "alter=0.3&seed=11"
  via_proxy env VOL_S3_MAX_ATTEMPTS=12 $VOL get v /data "$T/retried" >/dev/null
  assert_file_eq "$T/data" "$T/retried"
  # Some bodies altered, some truncated, some connections reset: each get
  # gives exactly the right bytes or fails leaving nothing wrong behind.
  local round
  for round in 1 2 3 4; do
    faults "alter=0.2&truncate=0.3&reset=0.2&seed=$round"
    rm -f "$T/mixed"
    if via_proxy env VOL_S3_MAX_ATTEMPTS=10 $VOL get v /data "$T/mixed" >/dev/null 2>"$T/err"; then
      assert_file_eq "$T/data" "$T/mixed"
    elif [[ -e "$T/mixed" ]]; then
      cmp -s "$T/mixed" "$T/data" || fail "round $round failed and left wrong bytes: $(cat "$T/err")"
    fi
  done
}

test_truncated_bodies_and_resets_are_retried() {
  need_rgw
  make_volume
  start_proxy
  faults "truncate=0.3&reset=0.1&err503=0.1&seed=9"
  via_proxy env VOL_S3_MAX_ATTEMPTS=12 $VOL get v /data "$T/out" >/dev/null
  assert_file_eq "$T/data" "$T/out"
  local injected
  injected=$(curl -sf "$PROXY/__fault__/stats")
  assert_match '"truncate": [1-9]' "$injected" "truncations injected"
}

test_gateway_killed_mid_get_fails_clearly_and_damages_nothing() {
  need_rgw
  head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/big"
  $VOL create v >/dev/null
  $VOL put v "$T/big" /big >/dev/null
  local before rc=0
  before=$($VOL history v)
  start_proxy
  faults "slow=1&slow_ms=300"  # every request takes 0.3 s: the get lasts a while
  via_proxy env VOL_S3_MAX_ATTEMPTS=4 VOL_S3_TIMEOUT_MS=4000 VOL_PARALLELISM=2 \
    $VOL get v /big "$T/out" >/dev/null 2>"$T/err" &
  local get_pid=$!
  sleep 3
  "$RGW" stop-gateway "$RGW_DIR"
  wait "$get_pid" || rc=$?
  faults ""
  "$RGW" start-gateway "$RGW_DIR" 2>/dev/null
  [[ $rc -ne 0 ]] || fail "the get succeeded although the gateway was killed"
  assert_eq 1 "$(grep -c '' "$T/err")" "lines on stderr"
  assert_match "failed after [0-9]+ attempts" "$(cat "$T/err")" "the error"
  [[ ! -e "$T/out" ]] || cmp -s "$T/out" "$T/big" || fail "a partial $T/out was left behind"
  assert_eq "$before" "$($VOL history v)" "history after the outage"
  $VOL get v /big "$T/after" >/dev/null
  assert_file_eq "$T/big" "$T/after"
}

test_gateway_restart_during_get_resumes() {
  need_rgw
  make_volume
  "$RGW" stop-gateway "$RGW_DIR"
  VOL_S3_MAX_ATTEMPTS=100 VOL_S3_TIMEOUT_MS=30000 VOL_S3_MAX_BACKOFF_MS=500 \
    $VOL get v /data "$T/out" >/dev/null 2>"$T/err" &
  local get_pid=$! rc=0
  sleep 2
  "$RGW" start-gateway "$RGW_DIR" 2>/dev/null
  wait "$get_pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "the get did not survive the restart: $(cat "$T/err")"
  assert_file_eq "$T/data" "$T/out"
  $VOL put v "$T/data" /after-restart >/dev/null
  $VOL get v /after-restart "$T/out2" >/dev/null
  assert_file_eq "$T/data" "$T/out2"
}

# A mounted session outlives a gateway restart: a read that starts while the
# gateway is down waits in the fetcher's retries and finishes once it is back.
test_session_reads_resume_after_gateway_restart() {
  need_rgw
  head -c $((9 * 1024 * 1024)) /dev/urandom >"$T/a"
  head -c $((9 * 1024 * 1024)) /dev/urandom >"$T/b"
  $VOL create v >/dev/null
  $VOL put v "$T/a" /a >/dev/null
  $VOL put v "$T/b" /b >/dev/null
  VOL_S3_MAX_ATTEMPTS=100 VOL_S3_TIMEOUT_MS=30000 VOL_S3_MAX_BACKOFF_MS=500 \
    $VOL run -v v -- python3 -c '
import hashlib, os, time
T = os.environ["T"]
a = open("/mnt/v/a", "rb").read()
open(T + "/read-a", "w").write(hashlib.sha256(a).hexdigest())
while not os.path.exists(T + "/gateway-down"):
    time.sleep(0.05)
b = open("/mnt/v/b", "rb").read()  # starts while the gateway is down
open(T + "/read-b", "w").write(hashlib.sha256(b).hexdigest())
' >"$T/session.out" 2>&1 &
  local pid=$! rc=0 _
  for _ in $(seq 600); do [[ -s "$T/read-a" ]] && break; sleep 0.05; done
  "$RGW" stop-gateway "$RGW_DIR"
  touch "$T/gateway-down"
  sleep 2
  "$RGW" start-gateway "$RGW_DIR" 2>/dev/null
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "the session failed across the restart (exit $rc): $(cat "$T/session.out")"
  assert_eq "$(sha256sum <"$T/a" | cut -d' ' -f1)" "$(cat "$T/read-a")" "/a read before the outage"
  assert_eq "$(sha256sum <"$T/b" | cut -d' ' -f1)" "$(cat "$T/read-b" 2>/dev/null)" "/b read across the restart"
}

# HTTPS verifies the server's certificate: a self-signed one is refused at
# once with a hint, and accepted once AWS_CA_BUNDLE names it.
test_https_verifies_certificates() {
  need_rgw
  make_volume
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || skip "openssl cannot make a certificate"
  python3 "$ROOT/tests/s3/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" >"$T/proxy.port" &
  local _
  for _ in $(seq 100); do [[ -s "$T/proxy.port" ]] && break; sleep 0.05; done
  local https=https://127.0.0.1:$(cat "$T/proxy.port")
  AWS_ENDPOINT_URL=$https AWS_CA_BUNDLE= assert_fails_with "certificate.*set AWS_CA_BUNDLE" \
    $VOL get v /data "$T/out"
  AWS_ENDPOINT_URL=$https AWS_CA_BUNDLE=$T/cert.pem $VOL get v /data "$T/out" >/dev/null
  assert_file_eq "$T/data" "$T/out"
}

test_four_writers_separate_caches_lose_nothing() {
  need_rgw
  $VOL create v >/dev/null
  local w i pids=() failed=0
  for w in 1 2 3 4; do
    (
      export VOL_CACHE_DIR=$T/cache$w
      for i in 1 2 3 4 5; do
        head -c $((1000 * w + i)) /dev/urandom >"$T/w$w-$i"
        $VOL put v "$T/w$w-$i" "/w$w/f$i" >/dev/null || exit 1
        $VOL get v "/w$w/f$i" "$T/r$w-$i" >/dev/null || exit 1
      done
    ) &
    pids+=($!)
  done
  # Meanwhile a reader takes whole snapshots: each must be a state some
  # commit made, so per writer the files present are f1..fk (a writer commits
  # them in order), each with the writer's bytes.
  (
    export VOL_CACHE_DIR=$T/cache-reader
    local n=0 alive=1 k
    while [[ $alive = 1 ]]; do
      alive=0
      for w in "${pids[@]}"; do kill -0 "$w" 2>/dev/null && alive=1; done
      n=$((n + 1))
      $VOL get v / "$T/snap$n" >/dev/null 2>&1 || continue  # an empty volume has nothing yet
      for w in 1 2 3 4; do
        k=$(ls "$T/snap$n/w$w" 2>/dev/null | wc -l)
        for i in $(seq 1 "$k"); do
          cmp -s "$T/snap$n/w$w/f$i" "$T/w$w-$i" || { echo "snapshot $n: w$w has $k files but f$i is missing or wrong"; exit 1; }
        done
      done
      rm -rf "$T/snap$n"
    done
    echo "$n snapshots checked" >"$T/reader.out"
  ) &
  local reader=$!
  for w in "${pids[@]}"; do wait "$w" || failed=1; done
  [[ $failed -eq 0 ]] || fail "a writer failed"
  wait "$reader" || fail "the reader saw an inconsistent snapshot"
  echo "reader: $(cat "$T/reader.out")"
  VOL_CACHE_DIR=$T/cache-check $VOL get v / "$T/all" >/dev/null
  for w in 1 2 3 4; do
    for i in 1 2 3 4 5; do
      assert_file_eq "$T/w$w-$i" "$T/all/w$w/f$i"
      assert_file_eq "$T/w$w-$i" "$T/r$w-$i"
    done
  done
  assert_eq 20 "$($VOL history v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "commits"
}

run_tests "$@"
