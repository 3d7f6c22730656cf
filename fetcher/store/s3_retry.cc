// Retry classification and backoff. Invariant: pure functions.
#include "fetcher/store/s3_retry.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"

namespace vol {

absl::StatusOr<S3RetryPolicy> RetryPolicyFromEnv(const EnvLookup& env) {
  S3RetryPolicy p;
  auto read = [&](std::string_view name, int64_t* out) -> absl::Status {
    auto v = env(name);
    if (!v || v->empty()) return absl::OkStatus();
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || ptr != v->data() + v->size() || n <= 0) {
      return absl::InvalidArgumentError(std::string(name) + "=" + *v +
                                        ": expected a positive integer");
    }
    *out = n;
    return absl::OkStatus();
  };
  int64_t attempts = p.max_attempts;
  int64_t deadline = absl::ToInt64Milliseconds(p.deadline);
  int64_t connect = absl::ToInt64Milliseconds(p.connect_timeout);
  int64_t stall = absl::ToInt64Milliseconds(p.stall_timeout);
  int64_t base = absl::ToInt64Milliseconds(p.base_backoff);
  int64_t max = absl::ToInt64Milliseconds(p.max_backoff);
  for (auto [name, out] : {std::pair{"VOL_S3_MAX_ATTEMPTS", &attempts},
                           std::pair{"VOL_S3_TIMEOUT_MS", &deadline},
                           std::pair{"VOL_S3_CONNECT_TIMEOUT_MS", &connect},
                           std::pair{"VOL_S3_STALL_MS", &stall},
                           std::pair{"VOL_S3_BACKOFF_MS", &base},
                           std::pair{"VOL_S3_MAX_BACKOFF_MS", &max}}) {
    if (absl::Status s = read(name, out); !s.ok()) return s;
  }
  p.max_attempts = static_cast<int>(std::min<int64_t>(attempts, 1000));
  p.deadline = absl::Milliseconds(deadline);
  p.connect_timeout = absl::Milliseconds(connect);
  p.stall_timeout = absl::Milliseconds(stall);
  p.base_backoff = absl::Milliseconds(base);
  p.max_backoff = absl::Milliseconds(std::max(max, base));
  return p;
}

S3AttemptVerdict ClassifyAttempt(int curl_code, long http_status, std::string_view s3_code) {
  if (curl_code != CURLE_OK) {
    switch (curl_code) {
      // Configuration errors: the next attempt would fail the same way.
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_OUT_OF_MEMORY:
        return S3AttemptVerdict::kFail;
      default:  // refused, reset, timeout, partial body, DNS hiccup...
        return S3AttemptVerdict::kRetry;
    }
  }
  if (http_status >= 200 && http_status < 300) return S3AttemptVerdict::kDone;
  if (http_status >= 500 || http_status == 429 || http_status == 408) {
    return S3AttemptVerdict::kRetry;
  }
  if (s3_code == "SlowDown" || s3_code == "RequestTimeout" ||
      s3_code == "ConditionalRequestConflict" || s3_code == "OperationAborted") {
    return S3AttemptVerdict::kRetry;
  }
  return S3AttemptVerdict::kFail;
}

absl::Duration BackoffDelay(const S3RetryPolicy& policy, int next_attempt, uint64_t random) {
  absl::Duration cap = policy.base_backoff;
  for (int i = 2; i < next_attempt && cap < policy.max_backoff; ++i) cap *= 2;
  cap = std::min(cap, policy.max_backoff);
  // random / 2^64 * cap, in microseconds.
  int64_t cap_us = absl::ToInt64Microseconds(cap);
  if (cap_us <= 0) return absl::ZeroDuration();
  unsigned __int128 us = static_cast<unsigned __int128>(random) * static_cast<uint64_t>(cap_us);
  return absl::Microseconds(static_cast<int64_t>(us >> 64));
}

}  // namespace vol
