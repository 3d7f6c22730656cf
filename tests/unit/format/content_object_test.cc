// StoreContentObject: absent → stored; intact and recent → reused untouched;
// intact and old → touched; damaged or truncated → stored again.
#include "fetcher/format/content_object.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "fetcher/format/gc_protocol.h"
#include "fetcher/util/fs.h"
#include "tests/unit/gc/gc_testing.h"

namespace vol {
namespace {

using testing::Age;
using testing::FileStoreIn;
using testing::RandomBytes;
using testing::TempDir;

TEST(ContentObject, StoresReusesTouchesAndRepairs) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  EncodedObject obj = EncodeObject(ObjectKind::kChunk, RandomBytes(10000, 7));
  std::string key = "chunks/xx/test";
  absl::StatusOr<ContentOutcome> o = StoreContentObject(*store, key, obj);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->uploaded, obj.bytes.size());

  o = StoreContentObject(*store, key, obj);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->uploaded, 0u);
  EXPECT_FALSE(o->touched);
  EXPECT_FALSE(o->repaired);

  Age(dir, key, gc_protocol::ReuseRefreshAge() + absl::Minutes(1));
  o = StoreContentObject(*store, key, obj);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->touched);
  EXPECT_EQ(o->uploaded, 0u);
  EXPECT_LT(absl::Now() - absl::FromUnixNanos(store->Head(key)->mtime_ns), absl::Minutes(1));

  std::string path = dir / ("store/" + key);
  std::string damaged = obj.bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomic(path, damaged).ok());
  o = StoreContentObject(*store, key, obj);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->repaired);
  EXPECT_EQ(*store->Get(key), obj.bytes);

  ASSERT_TRUE(WriteFileAtomic(path, obj.bytes.substr(0, 100)).ok());
  o = StoreContentObject(*store, key, obj);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->repaired);
  EXPECT_EQ(*store->Get(key), obj.bytes);
}

}  // namespace
}  // namespace vol
