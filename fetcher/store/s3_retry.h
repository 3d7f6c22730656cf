// When an S3 request is tried again, and how long to wait.
//
// Tuning (environment, read when the store opens):
//   VOL_S3_MAX_ATTEMPTS        attempts per request, first included   (default 6)
//   VOL_S3_TIMEOUT_MS          deadline per request, all attempts     (default 30000)
//   VOL_S3_CONNECT_TIMEOUT_MS  TCP + TLS connect, per attempt         (default 5000)
//   VOL_S3_STALL_MS            abort an attempt that moves no byte    (default 10000)
//                              for this long (rounded up to seconds)
//   VOL_S3_BACKOFF_MS          first backoff; doubles per attempt,    (default 100)
//                              capped at VOL_S3_MAX_BACKOFF_MS        (default 5000)
// Backoff is "full jitter": a uniform random wait in [0, cap) where
// cap = min(max, base * 2^(attempt-1)), so many clients retrying after the
// same fault do not stampede together.
//
// Retried: transport failures (refused, reset, timeout, truncated body), HTTP
// 5xx, 429, 408, S3's SlowDown / RequestTimeout / ConditionalRequestConflict
// (AWS's "a concurrent conditional write is in flight, retry"), and bodies
// that fail their length checks. Never retried: authentication and permission
// failures (401, 403), and other 4xx, whose answer will not change.
#ifndef VOL_FETCHER_STORE_S3_RETRY_H_
#define VOL_FETCHER_STORE_S3_RETRY_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fetcher/store/aws_config.h"

namespace vol {

struct S3RetryPolicy {
  int max_attempts = 6;
  absl::Duration deadline = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration stall_timeout = absl::Seconds(10);
  absl::Duration base_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

// Fails with a message naming the variable when one is not a positive integer.
absl::StatusOr<S3RetryPolicy> RetryPolicyFromEnv(const EnvLookup& env);

enum class S3AttemptVerdict { kDone, kRetry, kFail };

// curl_code: 0 when a response arrived. http_status and s3_code (the <Code> of
// an error body, "" when none) describe the response.
S3AttemptVerdict ClassifyAttempt(int curl_code, long http_status, std::string_view s3_code);

// The wait before attempt `next_attempt` (2 for the first retry). `random`
// is uniform in [0, 2^64).
absl::Duration BackoffDelay(const S3RetryPolicy& policy, int next_attempt, uint64_t random);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_S3_RETRY_H_
