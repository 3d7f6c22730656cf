#include "fetcher/store/s3_retry.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <map>

namespace vol {
namespace {

EnvLookup Env(std::map<std::string, std::string> m) {
  return [m](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(std::string(name));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(S3Retry, Classification) {
  using V = S3AttemptVerdict;
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 200, ""), V::kDone);
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 206, ""), V::kDone);
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 204, ""), V::kDone);
  for (long s : {500L, 502L, 503L, 504L, 429L, 408L}) {
    EXPECT_EQ(ClassifyAttempt(CURLE_OK, s, ""), V::kRetry) << s;
  }
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 503, "SlowDown"), V::kRetry);
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 400, "RequestTimeout"), V::kRetry);
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 409, "ConditionalRequestConflict"), V::kRetry);
  for (long s : {400L, 401L, 403L, 404L, 412L, 416L}) {
    EXPECT_EQ(ClassifyAttempt(CURLE_OK, s, ""), V::kFail) << s;
  }
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 403, "AccessDenied"), V::kFail);
  EXPECT_EQ(ClassifyAttempt(CURLE_OK, 403, "SignatureDoesNotMatch"), V::kFail);
  for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR,
                     CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING}) {
    EXPECT_EQ(ClassifyAttempt(c, 0, ""), V::kRetry) << c;
  }
  EXPECT_EQ(ClassifyAttempt(CURLE_PEER_FAILED_VERIFICATION, 0, ""), V::kFail);
  EXPECT_EQ(ClassifyAttempt(CURLE_URL_MALFORMAT, 0, ""), V::kFail);
}

TEST(S3Retry, BackoffIsJitteredAndCapped) {
  S3RetryPolicy p;  // 100 ms base, 5 s cap
  EXPECT_EQ(BackoffDelay(p, 2, 0), absl::ZeroDuration());
  EXPECT_LT(BackoffDelay(p, 2, UINT64_MAX), absl::Milliseconds(100));
  EXPECT_GT(BackoffDelay(p, 2, UINT64_MAX), absl::Milliseconds(99));
  EXPECT_GT(BackoffDelay(p, 4, UINT64_MAX), absl::Milliseconds(399));
  EXPECT_LT(BackoffDelay(p, 4, UINT64_MAX), absl::Milliseconds(400));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(BackoffDelay(p, 3, UINT64_MAX / 2)), 100, 1);
  EXPECT_LE(BackoffDelay(p, 40, UINT64_MAX), absl::Seconds(5));
}

TEST(S3Retry, PolicyFromEnv) {
  auto d = RetryPolicyFromEnv(Env({}));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_attempts, 6);
  EXPECT_EQ(d->deadline, absl::Seconds(30));
  auto p = RetryPolicyFromEnv(Env({{"VOL_S3_MAX_ATTEMPTS", "2"}, {"VOL_S3_TIMEOUT_MS", "1500"},
                                   {"VOL_S3_BACKOFF_MS", "7"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->max_attempts, 2);
  EXPECT_EQ(p->deadline, absl::Milliseconds(1500));
  EXPECT_EQ(p->base_backoff, absl::Milliseconds(7));
  auto bad = RetryPolicyFromEnv(Env({{"VOL_S3_MAX_ATTEMPTS", "many"}}));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("VOL_S3_MAX_ATTEMPTS"), std::string::npos);
  EXPECT_FALSE(RetryPolicyFromEnv(Env({{"VOL_S3_TIMEOUT_MS", "0"}})).ok());
}

}  // namespace
}  // namespace vol
