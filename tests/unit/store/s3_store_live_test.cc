// The S3 store against a real server. Skipped unless VOL_S3_TEST_URL names a
// scratch location (s3://bucket/prefix) and the AWS_* variables reach it;
// tests/s3/store_test.sh starts Ceph RGW (and the fault proxy) and runs these.
// Each test works under its own random sub-prefix, so runs never collide.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "fetcher/store/s3_store.h"

namespace vol {
namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class S3Live : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("VOL_S3_TEST_URL");
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "VOL_S3_TEST_URL not set";
    base_url_ = url;
    std::random_device rd;
    url_ = base_url_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
           "-" + std::to_string(rd());
    store_ = Open(url_, {});
  }

  // The store at `url` with the process environment overridden by `overrides`
  // (an empty value unsets a variable).
  std::unique_ptr<ObjectStore> Open(const std::string& url,
                                    std::map<std::string, std::string> overrides) {
    EnvLookup env = [overrides](std::string_view name) -> std::optional<std::string> {
      auto it = overrides.find(std::string(name));
      if (it != overrides.end()) {
        if (it->second.empty()) return std::nullopt;
        return it->second;
      }
      const char* v = std::getenv(std::string(name).c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
    auto s = NewS3Store(url, env);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::string base_url_, url_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(S3Live, PutGetHeadDelete) {
  std::string data = RandomBytes(300000, 1);
  ASSERT_TRUE(store_->Put("a/b/obj", data).ok());
  auto got = store_->Get("a/b/obj");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  auto info = store_->Head("a/b/obj");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, data.size());
  ASSERT_TRUE(store_->Put("a/b/obj", "replaced").ok());
  EXPECT_EQ(*store_->Get("a/b/obj"), "replaced");
  ASSERT_TRUE(store_->Delete("a/b/obj").ok());
  EXPECT_EQ(store_->Get("a/b/obj").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Head("a/b/obj").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("a/b/obj").ok()) << "deleting an absent key succeeds";
  auto missing = store_->Get("never/there");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "never/there")) << missing.status();
}

TEST_F(S3Live, EmptyObjectAndAwkwardKeys) {
  ASSERT_TRUE(store_->Put("empty", "").ok());
  EXPECT_EQ(*store_->Get("empty"), "");
  EXPECT_EQ(store_->Head("empty")->size, 0u);
  EXPECT_EQ(*store_->GetRange("empty", 0, 10), "");
  const std::string odd = "dir with space/a+b=c&d%e~f\xc3\xa9!'()*,;:@$";
  ASSERT_TRUE(store_->Put(odd, "odd").ok());
  EXPECT_EQ(*store_->Get(odd), "odd");
  auto keys = store_->List("dir with space/");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(*keys, std::vector<std::string>{odd});
}

TEST_F(S3Live, GetRangeClipsAtTheEnd) {
  std::string data = RandomBytes(100000, 2);
  ASSERT_TRUE(store_->Put("r", data).ok());
  EXPECT_EQ(*store_->GetRange("r", 0, 10), data.substr(0, 10));
  EXPECT_EQ(*store_->GetRange("r", 12345, 54321), data.substr(12345, 54321));
  EXPECT_EQ(*store_->GetRange("r", 99990, 100), data.substr(99990));
  EXPECT_EQ(*store_->GetRange("r", 99999, 1), data.substr(99999));
  EXPECT_EQ(*store_->GetRange("r", 100000, 5), "");
  EXPECT_EQ(*store_->GetRange("r", 200000, 5), "");
  EXPECT_EQ(*store_->GetRange("r", 5, UINT64_MAX), data.substr(5));
  EXPECT_EQ(store_->GetRange("nope", 0, 5).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3Live, ListPagesInByteOrderWithStartAfter) {
  auto paged = Open(url_, {{"VOL_S3_LIST_PAGE_SIZE", "3"}});
  std::vector<std::string> want;
  for (int i = 0; i < 11; ++i) {
    std::string k = "log/" + std::to_string(1000 + i * 7);
    ASSERT_TRUE(store_->Put(k, "x").ok());
    want.push_back(k);
  }
  ASSERT_TRUE(store_->Put("other/z", "x").ok());
  ASSERT_TRUE(store_->Put("log0", "x").ok());  // shares the "log" prefix, not "log/"
  std::sort(want.begin(), want.end());
  auto all = paged->List("log/");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, want);
  auto after = paged->List("log/", want[4]);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, std::vector<std::string>(want.begin() + 5, want.end()));
  auto everything = paged->List("");
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->size(), want.size() + 2);
  EXPECT_TRUE(std::is_sorted(everything->begin(), everything->end()));
  EXPECT_TRUE(paged->List("nothing/")->empty());
}

TEST_F(S3Live, PutIfAbsent) {
  ASSERT_TRUE(store_->PutIfAbsent("log/1", "first").ok());
  absl::Status again = store_->PutIfAbsent("log/1", "second");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(*store_->Get("log/1"), "first");
}

// 30 rounds of 8 writers racing to create one key: exactly one wins each
// round, and the object holds the winner's bytes.
TEST_F(S3Live, PutIfAbsentRaceHasOneWinner) {
  constexpr int kRounds = 30, kWriters = 8;
  for (int round = 0; round < kRounds; ++round) {
    std::string key = "race/" + std::to_string(round);
    std::atomic<int> winners{0}, losers{0};
    std::atomic<int> winner_id{-1};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        absl::Status s = store_->PutIfAbsent(key, "writer " + std::to_string(w));
        if (s.ok()) {
          ++winners;
          winner_id = w;
        } else if (s.code() == absl::StatusCode::kAlreadyExists) {
          ++losers;
        } else {
          ADD_FAILURE() << s;
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    ASSERT_EQ(losers.load(), kWriters - 1) << "round " << round;
    EXPECT_EQ(*store_->Get(key), "writer " + std::to_string(winner_id.load()));
  }
}

TEST_F(S3Live, ConcurrentRangedReads) {
  std::string data = RandomBytes(4 << 20, 3);
  ASSERT_TRUE(store_->Put("big", data).ok());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 20; ++i) {
        uint64_t off = rng() % data.size(), len = 1 + rng() % (256 << 10);
        auto got = store_->GetRange("big", off, len);
        if (!got.ok() || *got != data.substr(off, len)) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// Small objects come back in milliseconds, not after a 40 ms Nagle /
// delayed-ACK stall (S3Fault.SmallGetsDoNotStallBehindNagle checks the
// client's side against a server that has Nagle on; tests/s3/rgw turns it off
// in RGW too). With the stall, 10 GETs take over 400 ms.
TEST_F(S3Live, SmallGetsDoNotStallOnDelayedAcks) {
  ASSERT_TRUE(store_->Put("small", "tiny body").ok());
  ASSERT_TRUE(store_->Get("small").ok());  // connection up
  absl::Time start = absl::Now();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(*store_->Get("small"), "tiny body");
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300));
}

TEST_F(S3Live, WrongSecretIsAClearErrorWithoutRetriesOrSecrets) {
  const std::string secret = "not-the-secret-0123456789abcdefghijklmn";
  auto bad = Open(url_, {{"AWS_SECRET_ACCESS_KEY", secret}, {"VOL_S3_TIMEOUT_MS", "60000"}});
  absl::Time start = absl::Now();
  auto got = bad->Get("anything");
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "auth failures are not retried";
  EXPECT_TRUE(got.status().code() == absl::StatusCode::kUnauthenticated ||
              got.status().code() == absl::StatusCode::kPermissionDenied)
      << got.status();
  std::string msg(got.status().message());
  EXPECT_TRUE(absl::StrContains(msg, "access denied for bucket")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")) << msg;
  EXPECT_FALSE(absl::StrContains(msg, secret)) << msg;
  EXPECT_FALSE(absl::StrContains(msg, std::getenv("AWS_SECRET_ACCESS_KEY"))) << msg;
  auto unknown = Open(url_, {{"AWS_ACCESS_KEY_ID", "NOSUCHKEY"}});
  absl::Status put = unknown->Put("x", "y");
  EXPECT_TRUE(absl::StrContains(put.message(), "check AWS_ACCESS_KEY_ID")) << put;
}

// Virtual-hosted addressing (bucket in the host name) signs and routes right:
// RGW serves "BUCKET.localhost" (rgw dns name = localhost in tests/s3/rgw),
// and curl resolves *.localhost to the loopback address.
TEST_F(S3Live, VirtualHostedAddressing) {
  std::string endpoint = std::getenv("AWS_ENDPOINT_URL") ? std::getenv("AWS_ENDPOINT_URL") : "";
  const std::string loopback = "http://127.0.0.1:";
  if (endpoint.rfind(loopback, 0) != 0) GTEST_SKIP() << "needs an RGW on 127.0.0.1";
  auto vhost = Open(url_, {{"AWS_ENDPOINT_URL", "http://localhost:" + endpoint.substr(loopback.size())},
                           {"AWS_ENDPOINT_URL_S3", ""},
                           {"VOL_S3_ADDRESSING", "virtual"}});
  ASSERT_TRUE(vhost->Put("v/key one", "virtual").ok());
  EXPECT_EQ(*store_->Get("v/key one"), "virtual") << "the same object, path style";
  EXPECT_EQ(*vhost->GetRange("v/key one", 1, 3), "irt");
  EXPECT_EQ(*vhost->List("v/"), std::vector<std::string>{"v/key one"});
  EXPECT_EQ(vhost->PutIfAbsent("v/key one", "x").code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(S3Live, MissingBucketNamesTheBucket) {
  auto nobucket = Open("s3://vol-no-such-bucket-4711/p", {});
  for (absl::Status s : {nobucket->Get("k").status(), nobucket->List("").status(),
                         nobucket->Head("k").status(),
                         nobucket->Put("k", "v")}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "bucket vol-no-such-bucket-4711 does not exist"))
        << s;
  }
}

TEST_F(S3Live, UnreachableServerFailsAfterRetries) {
  // A port nobody listens on (bound, never accepted, then closed).
  auto down = Open(url_, {{"AWS_ENDPOINT_URL", "http://127.0.0.1:1"},
                          {"AWS_ENDPOINT_URL_S3", ""},
                          {"VOL_S3_MAX_ATTEMPTS", "3"},
                          {"VOL_S3_BACKOFF_MS", "10"}});
  auto got = down->Get("k");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "after 3 attempts")) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "127.0.0.1:1")) << got.status();
}

}  // namespace
}  // namespace vol
