#!/usr/bin/env bash
# vol against a real Ceph RGW, and through tests/s3/fault_proxy.py:
#   - the store's live tests (round trips, paging, the 30x8 put-if-absent race,
#     resets/503s/slow/truncated bodies through the proxy);
#   - wrong keys and a missing bucket give one clear line, fast, no secret;
#   - altered bodies are never written out as file data; truncated ones are retried;
#   - the gateway stopped in the middle of a get: a clear error after the
#     retries, and what was committed before is intact;
#   - the gateway stopped and restarted: a get that started during the outage
#     rides it out, and later commands work;
#   - four writers (separate cache directories) committing to one volume at
#     once lose no update.
# Uses the RGW the integration runner started (RGW_DIR and the AWS_* variables)
# or starts its own. Skips in the file:// pass when no RGW is at hand and
# VOL_S3_TEST_SKIP_WITHOUT_RGW=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD:-$repo/build}
vol=${VOL:-$build/vol}

tmp=$(mktemp -d /tmp/vol-s3-test.XXXXXX)
own_rgw=
proxy_pid=
cleanup() {
  [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true
  if [ -n "${RGW_DIR:-}" ] && [ ! -f "$RGW_DIR/pids/rgw" ] && [ -z "$own_rgw" ]; then
    "$repo/tests/s3/rgw" start-gateway "$RGW_DIR" 2>/dev/null || true  # leave it as we found it
  fi
  [ -z "$own_rgw" ] || "$repo/tests/s3/rgw" stop "$tmp/rgw"
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ -z "${RGW_DIR:-}" ]; then
  if [ "${VOL_S3_TEST_SKIP_WITHOUT_RGW:-0}" = 1 ]; then
    echo "SKIP: s3_test needs RGW (runs in the RGW pass)"; exit 0
  fi
  eval "$("$repo/tests/s3/rgw" start "$tmp/rgw")"
  own_rgw=1
fi
unset AWS_PROFILE
bucket=$RGW_BUCKET
export VOL_STORE="s3://$bucket/s3-test-$$-$RANDOM"
export VOL_S3_BACKOFF_MS=20 VOL_S3_MAX_BACKOFF_MS=200
# Separate caches per process, like separate machines.
export VOL_CACHE_DIR=$tmp/cache0

# --- the store's own tests: direct and through the fault proxy -------------
if [ -x "$build/unit_tests" ]; then
  if "$repo/tests/s3/store_test.sh" "$build" >"$tmp/store_test.log" 2>&1; then
    pass "store live tests (S3Live.*, S3Fault.*, incl. the 30x8 put-if-absent race)"
  else
    fail "store live tests:"; tail -30 "$tmp/store_test.log"
  fi
else
  fail "$build/unit_tests missing (make $build/unit_tests)"
fi

head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$tmp/data"
"$vol" create s3t >/dev/null
"$vol" put s3t "$tmp/data" /data >/dev/null
"$vol" get s3t /data "$tmp/back" >/dev/null
cmp -s "$tmp/data" "$tmp/back" && pass "put/get round trip through RGW" || fail "round trip differs"

# --- wrong keys --------------------------------------------------------------
start=$SECONDS
if AWS_SECRET_ACCESS_KEY=WrongSecretWrongSecretWrongSecret123456 "$vol" ls s3t / >"$tmp/out" 2>"$tmp/err"; then
  fail "wrong secret: ls succeeded"
else
  if grep -q "access denied for bucket $bucket" "$tmp/err" && grep -q "check AWS_ACCESS_KEY_ID" "$tmp/err" \
     && ! grep -q "WrongSecretWrongSecret" "$tmp/err" && ! grep -qF "$AWS_SECRET_ACCESS_KEY" "$tmp/err" \
     && [ $((SECONDS - start)) -lt 5 ]; then
    pass "wrong secret: $(head -1 "$tmp/err")"
  else
    fail "wrong secret: unclear, slow or leaking message: $(cat "$tmp/err")"
  fi
fi
if AWS_ACCESS_KEY_ID=NOSUCHACCESSKEY "$vol" ls s3t / >"$tmp/out" 2>"$tmp/err"; then
  fail "unknown key id: ls succeeded"
else
  grep -q "check AWS_ACCESS_KEY_ID" "$tmp/err" && pass "unknown key id: $(head -1 "$tmp/err")" \
    || fail "unknown key id: $(cat "$tmp/err")"
fi

# --- a missing bucket --------------------------------------------------------
if VOL_STORE=s3://vol-no-such-bucket-$$/p "$vol" list >"$tmp/out" 2>"$tmp/err"; then
  fail "missing bucket: list succeeded"
else
  grep -q "bucket vol-no-such-bucket-$$ does not exist" "$tmp/err" \
    && pass "missing bucket: $(head -1 "$tmp/err")" || fail "missing bucket: $(cat "$tmp/err")"
fi

# --- through the fault proxy --------------------------------------------------
python3 "$repo/tests/s3/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" >"$tmp/proxy.port" &
proxy_pid=$!
for _ in $(seq 100); do [ -s "$tmp/proxy.port" ] && break; sleep 0.05; done
proxy=http://127.0.0.1:$(cat "$tmp/proxy.port")
faults() { curl -sf "$proxy/__fault__/set?$1" >/dev/null; }
via_proxy() { AWS_ENDPOINT_URL=$proxy AWS_ENDPOINT_URL_S3= "$@"; }

# Every GET body altered: the object layer's checksum must refuse it.
faults "alter=1"
rm -f "$tmp/altered"
if via_proxy "$vol" get s3t /data "$tmp/altered" >"$tmp/out" 2>"$tmp/err"; then
  fail "altered bodies: get succeeded"
else
  if [ -e "$tmp/altered" ] && ! cmp -s "$tmp/altered" "$tmp/data"; then
    fail "altered bodies: wrong bytes written to $tmp/altered"
  else
    pass "altered bodies refused: $(head -1 "$tmp/err")"
  fi
fi
faults "alter=1"
if via_proxy "$vol" get s3t /data - >"$tmp/altered_stdout" 2>"$tmp/err"; then
  fail "altered bodies: get to stdout succeeded"
elif [ -s "$tmp/altered_stdout" ] && ! cmp -s "$tmp/altered_stdout" <(head -c "$(stat -c %s "$tmp/altered_stdout")" "$tmp/data"); then
  fail "altered bodies: wrong bytes written to stdout"
else
  pass "altered bodies: nothing wrong written to stdout"
fi
# Some bodies altered, some truncated, some connections reset: a get either
# fails clearly or gives exactly the right bytes.
for round in 1 2 3; do
  faults "alter=0.2&truncate=0.3&reset=0.2&seed=$round"
  rm -f "$tmp/mixed"
  if via_proxy env VOL_S3_MAX_ATTEMPTS=10 "$vol" get s3t /data "$tmp/mixed" >/dev/null 2>"$tmp/err"; then
    cmp -s "$tmp/mixed" "$tmp/data" && pass "mixed faults round $round: right bytes" \
      || fail "mixed faults round $round: get succeeded with WRONG bytes"
  else
    if [ -e "$tmp/mixed" ] && ! cmp -s "$tmp/mixed" "$tmp/data"; then
      fail "mixed faults round $round: failed and left wrong bytes"
    else
      pass "mixed faults round $round: failed cleanly: $(head -1 "$tmp/err")"
    fi
  fi
done
faults "truncate=0.5&reset=0.2&seed=9"
rm -f "$tmp/trunc"
if via_proxy env VOL_S3_MAX_ATTEMPTS=12 "$vol" get s3t /data "$tmp/trunc" >/dev/null 2>"$tmp/err" \
   && cmp -s "$tmp/trunc" "$tmp/data"; then
  pass "truncated bodies and resets retried to the right bytes"
else
  fail "truncated bodies: $(cat "$tmp/err")"
fi
faults ""

# --- the gateway stopped in the middle of a get -------------------------------
head -c $((40 * 1024 * 1024)) /dev/urandom >"$tmp/big"
"$vol" put s3t "$tmp/big" /big >/dev/null
before=$("$vol" history s3t | wc -l)
faults "slow=1&slow_ms=300"   # every request takes 0.3 s: the get lasts a while
rm -f "$tmp/big.out"
via_proxy env VOL_S3_MAX_ATTEMPTS=4 VOL_S3_TIMEOUT_MS=4000 VOL_PARALLELISM=2 \
  "$vol" get s3t /big "$tmp/big.out" >/dev/null 2>"$tmp/err" &
get_pid=$!
sleep 3
"$repo/tests/s3/rgw" stop-gateway "$RGW_DIR"
if wait "$get_pid"; then
  fail "gateway stopped mid-get: get succeeded anyway"
else
  if grep -qE "failed after [0-9]+ attempts|DEADLINE|Unavailable|cannot|failed" "$tmp/err"; then
    pass "gateway stopped mid-get: $(head -1 "$tmp/err")"
  else
    fail "gateway stopped mid-get: unclear error: $(cat "$tmp/err")"
  fi
  if [ -e "$tmp/big.out" ] && ! cmp -s "$tmp/big.out" "$tmp/big"; then
    fail "gateway stopped mid-get: a partial $tmp/big.out was left behind"
  fi
fi
faults ""
"$repo/tests/s3/rgw" start-gateway "$RGW_DIR" 2>/dev/null
"$vol" get s3t /big "$tmp/big.after" >/dev/null 2>"$tmp/err" && cmp -s "$tmp/big.after" "$tmp/big" \
  && [ "$("$vol" history s3t | wc -l)" = "$before" ] \
  && pass "after the outage: committed data and history intact" \
  || fail "after the outage: $(cat "$tmp/err")"

# --- the gateway stopped and restarted while a get waits ----------------------
"$repo/tests/s3/rgw" stop-gateway "$RGW_DIR"
rm -f "$tmp/resumed"
VOL_S3_MAX_ATTEMPTS=100 VOL_S3_TIMEOUT_MS=30000 VOL_S3_MAX_BACKOFF_MS=500 \
  "$vol" get s3t /data "$tmp/resumed" >/dev/null 2>"$tmp/err" &
get_pid=$!
sleep 2
"$repo/tests/s3/rgw" start-gateway "$RGW_DIR" 2>/dev/null
if wait "$get_pid" && cmp -s "$tmp/resumed" "$tmp/data"; then
  pass "gateway restarted during a get: the get resumed and finished"
else
  fail "gateway restarted during a get: $(cat "$tmp/err")"
fi
"$vol" put s3t "$tmp/data" /after-restart >/dev/null 2>"$tmp/err" && pass "commands work after the restart" \
  || fail "put after restart: $(cat "$tmp/err")"

# --- four writers, separate caches, one volume --------------------------------
"$vol" create shared >/dev/null
writers=()
for w in 1 2 3 4; do
  (
    export VOL_CACHE_DIR=$tmp/cache$w
    for i in 1 2 3 4 5; do
      head -c $((1000 * w + i)) /dev/urandom >"$tmp/w$w-$i"
      "$vol" put shared "$tmp/w$w-$i" "/w$w/f$i" >/dev/null 2>>"$tmp/writer$w.err" || echo "put w$w f$i failed" >>"$tmp/writer$w.err"
    done
  ) &
  writers+=($!)
done
wait "${writers[@]}"
lost=0
for w in 1 2 3 4; do
  [ ! -s "$tmp/writer$w.err" ] || { fail "writer $w: $(cat "$tmp/writer$w.err")"; lost=1; }
  for i in 1 2 3 4 5; do
    VOL_CACHE_DIR=$tmp/cache-check "$vol" get shared "/w$w/f$i" "$tmp/check" >/dev/null 2>&1 \
      && cmp -s "$tmp/check" "$tmp/w$w-$i" || { lost=1; echo "  missing or wrong: /w$w/f$i"; }
    rm -f "$tmp/check"
  done
done
commits=$("$vol" history shared | tail -n +2 | wc -l)
[ $lost = 0 ] && [ "$commits" -ge 20 ] && pass "4 concurrent writers: all 20 updates present ($commits commits)" \
  || fail "4 concurrent writers lost updates ($commits commits)"

"$vol" delete s3t --yes >/dev/null 2>&1 || true
"$vol" delete shared --yes >/dev/null 2>&1 || true
[ $failures = 0 ] || { echo "s3_test: $failures failure(s)"; exit 1; }
echo "s3_test: all passed"
