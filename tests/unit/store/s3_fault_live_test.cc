// The S3 store through tests/s3/fault_proxy.py: retries ride out resets and
// 503s, slow answers are bounded by the deadline, and a truncated body is
// never returned as data. Skipped unless VOL_S3_TEST_URL and
// VOL_S3_FAULT_PROXY (the proxy's http://127.0.0.1:PORT) are set;
// tests/s3/store_test.sh sets both.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "fetcher/store/http_client.h"
#include "fetcher/store/s3_store.h"

namespace vol {
namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class S3Fault : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("VOL_S3_TEST_URL");
    const char* proxy = std::getenv("VOL_S3_FAULT_PROXY");
    if (!url || !*url || !proxy || !*proxy) {
      GTEST_SKIP() << "VOL_S3_TEST_URL / VOL_S3_FAULT_PROXY not set";
    }
    proxy_ = proxy;
    std::random_device rd;
    url_ = std::string(url) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
           std::to_string(rd());
    direct_ = Open({});
    Faults("reset=0&err503=0&slow=0&truncate=0&alter=0");
  }
  void TearDown() override {
    if (!proxy_.empty()) Faults("reset=0&err503=0&slow=0&truncate=0&alter=0");
  }

  // Through the proxy, with the process environment plus `overrides`.
  std::unique_ptr<ObjectStore> Open(std::map<std::string, std::string> overrides,
                                    bool via_proxy = false) {
    if (via_proxy) {
      overrides["AWS_ENDPOINT_URL"] = proxy_;
      overrides["AWS_ENDPOINT_URL_S3"] = "";
    }
    EnvLookup env = [overrides](std::string_view name) -> std::optional<std::string> {
      auto it = overrides.find(std::string(name));
      if (it != overrides.end()) {
        if (it->second.empty()) return std::nullopt;
        return it->second;
      }
      const char* v = std::getenv(std::string(name).c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
    auto s = NewS3Store(url_, env);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Sets the proxy's fault rates (and zeroes its counters); returns its reply.
  std::string Faults(const std::string& query) {
    HttpClient http({});
    HttpResult r = http.Perform({"GET", proxy_ + "/__fault__/set?" + query, {}, {}},
                                absl::Seconds(5));
    EXPECT_EQ(r.curl_code, 0) << r.curl_error;
    return r.response.body;
  }
  int Injected(const std::string& kind) {
    HttpClient http({});
    HttpResult r = http.Perform({"GET", proxy_ + "/__fault__/stats", {}, {}}, absl::Seconds(5));
    std::string body = r.response.body;
    size_t at = body.find("\"" + kind + "\": ");
    if (at == std::string::npos) return -1;
    return std::atoi(body.c_str() + at + kind.size() + 4);
  }

  std::string proxy_, url_;
  std::unique_ptr<ObjectStore> direct_;
};

TEST_F(S3Fault, ResetsAnd503sAreRetried) {
  auto store = Open({{"VOL_S3_MAX_ATTEMPTS", "12"}, {"VOL_S3_BACKOFF_MS", "5"},
                     {"VOL_S3_MAX_BACKOFF_MS", "50"}}, true);
  Faults("reset=0.2&err503=0.2&seed=7");
  std::map<std::string, std::string> objects;
  for (int i = 0; i < 20; ++i) {
    std::string key = "obj/" + std::to_string(i), data = RandomBytes(1000 + i * 5000, i);
    ASSERT_TRUE(store->Put(key, data).ok()) << key;
    objects[key] = data;
  }
  for (auto& [key, data] : objects) {
    auto got = store->Get(key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, data) << key;
    auto part = store->GetRange(key, 100, 700);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(*part, data.substr(100, 700)) << key;
    EXPECT_EQ(store->Head(key)->size, data.size());
  }
  auto keys = store->List("obj/");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), objects.size());
  EXPECT_GT(Injected("reset"), 5);
  EXPECT_GT(Injected("err503"), 5);
  // Put-if-absent through faults: a lost response must not turn our own
  // successful create into "someone else won".
  for (int i = 0; i < 20; ++i) {
    absl::Status s = store->PutIfAbsent("log/" + std::to_string(i), "entry");
    EXPECT_TRUE(s.ok()) << s;
  }
}

// The server creates the object but its answer is lost: the retry sees 412,
// and PutIfAbsent must still report our own write as a success, while a key
// someone else holds stays AlreadyExists.
TEST_F(S3Fault, PutIfAbsentSurvivesLostAnswers) {
  auto store = Open({{"VOL_S3_MAX_ATTEMPTS", "12"}, {"VOL_S3_BACKOFF_MS", "5"},
                     {"VOL_S3_MAX_BACKOFF_MS", "20"}}, true);
  ASSERT_TRUE(direct_->Put("taken", "someone else").ok());
  Faults("drop=0.3&seed=21");
  for (int i = 0; i < 20; ++i) {
    std::string key = "log/" + std::to_string(i), mine = "entry " + std::to_string(i);
    absl::Status s = store->PutIfAbsent(key, mine);
    ASSERT_TRUE(s.ok()) << key << ": " << s;
    EXPECT_EQ(*direct_->Get(key), mine);
    EXPECT_EQ(store->PutIfAbsent("taken", mine).code(), absl::StatusCode::kAlreadyExists);
  }
  EXPECT_GT(Injected("drop"), 5);
  EXPECT_EQ(*direct_->Get("taken"), "someone else");
}

// The proxy, like RGW's beast frontend without tcp_nodelay=1, writes a
// response's headers and body separately with Nagle on: the body waits for
// the client's ACK of the headers. The client ACKs at once (TCP_QUICKACK);
// without that, each of these GETs takes 40 ms (over 400 ms in all).
TEST_F(S3Fault, SmallGetsDoNotStallBehindNagle) {
  ASSERT_TRUE(direct_->Put("small", "tiny body").ok());
  auto store = Open({}, true);
  ASSERT_TRUE(store->Get("small").ok());  // connection up
  absl::Time start = absl::Now();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(*store->Get("small"), "tiny body");
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300));
}

TEST_F(S3Fault, TruncatedBodiesAreNeverReturned) {
  std::string data = RandomBytes(200000, 11);
  ASSERT_TRUE(direct_->Put("t", data).ok());
  auto store = Open({{"VOL_S3_MAX_ATTEMPTS", "8"}, {"VOL_S3_BACKOFF_MS", "5"},
                     {"VOL_S3_MAX_BACKOFF_MS", "20"}}, true);
  Faults("truncate=0.5&seed=3");
  int ok = 0;
  for (int i = 0; i < 40; ++i) {
    auto got = i % 2 ? store->Get("t") : store->GetRange("t", 1000, 150000);
    if (!got.ok()) continue;  // an error is allowed; wrong bytes are not
    ++ok;
    EXPECT_EQ(*got, i % 2 ? data : data.substr(1000, 150000)) << "attempt " << i;
  }
  EXPECT_GT(ok, 35);
  EXPECT_GT(Injected("truncate"), 10);

  Faults("truncate=1");
  auto always = store->Get("t");
  EXPECT_FALSE(always.ok());
  EXPECT_EQ(always.status().code(), absl::StatusCode::kUnavailable) << always.status();
  EXPECT_TRUE(absl::StrContains(always.status().message(), "after 8 attempts")) << always.status();
}

// Bytes flipped in transit: the checksum stored with every PUT catches them
// and the GET is retried; when every answer is altered, DataLoss.
TEST_F(S3Fault, AlteredBodiesAreRetriedNeverReturned) {
  std::string data = RandomBytes(300000, 12);
  ASSERT_TRUE(direct_->Put("a", data).ok());
  auto store = Open({{"VOL_S3_MAX_ATTEMPTS", "10"}, {"VOL_S3_BACKOFF_MS", "5"},
                     {"VOL_S3_MAX_BACKOFF_MS", "20"}}, true);
  Faults("alter=0.3&seed=4");
  for (int i = 0; i < 20; ++i) {
    auto got = store->Get("a");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, data) << "attempt " << i;
  }
  EXPECT_GT(Injected("alter"), 5);
  Faults("alter=1");
  auto always = store->Get("a");
  EXPECT_EQ(always.status().code(), absl::StatusCode::kDataLoss) << always.status();
  EXPECT_TRUE(absl::StrContains(always.status().message(), "checksum")) << always.status();
}

TEST_F(S3Fault, SlowAnswersAreBoundedByTheDeadline) {
  ASSERT_TRUE(direct_->Put("s", "slow").ok());
  auto store = Open({{"VOL_S3_TIMEOUT_MS", "2500"}, {"VOL_S3_STALL_MS", "1000"},
                     {"VOL_S3_BACKOFF_MS", "10"}}, true);
  Faults("slow=1&slow_ms=4000");
  absl::Time start = absl::Now();
  auto got = store->Get("s");
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  EXPECT_LT(took, absl::Seconds(4)) << "the 2.5 s deadline holds";
  Faults("slow=0.5&slow_ms=1200&seed=5");
  auto later = Open({{"VOL_S3_STALL_MS", "1000"}, {"VOL_S3_BACKOFF_MS", "10"}}, true);
  for (int i = 0; i < 3; ++i) {
    auto again = later->Get("s");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, "slow");
  }
}

}  // namespace
}  // namespace vol
