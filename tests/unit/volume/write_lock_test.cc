// WriteLock: the lock object exists while the lock does, names its creation
// time and pins, and is gone afterwards.
#include "fetcher/volume/write_lock.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "fetcher/format/keys.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

TEST(WriteLock, LivesInTheStoreWhileHeld) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  int64_t before = absl::GetCurrentTimeNanos();
  std::string key;
  {
    auto lock = WriteLock::Acquire(*store, "test", {{"abc", 7}});
    ASSERT_TRUE(lock.ok()) << lock.status();
    key = (*lock)->key();
    EXPECT_EQ(*store->List(kLocksPrefix), std::vector<std::string>{key});
    int64_t created = std::stoll(key.substr(kLocksPrefix.size(), 20));
    EXPECT_GE(created, before);
    nlohmann::json body = nlohmann::json::parse(*store->Get(key));
    EXPECT_EQ(body["pins"], nlohmann::json::parse(R"([["abc", 7]])"));
    EXPECT_EQ(body["purpose"], "test");
    ASSERT_TRUE((*lock)->SetPins({}).ok());
    EXPECT_EQ(nlohmann::json::parse(*store->Get(key))["pins"], nlohmann::json::array());
    EXPECT_TRUE((*lock)->Check().ok());
  }
  EXPECT_TRUE(store->List(kLocksPrefix)->empty());
}

}  // namespace
}  // namespace vol
