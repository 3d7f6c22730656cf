// Volumes: name rules, create / lookup / rename / delete, and racing creates.
#include "fetcher/volume/volumes.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

TEST(VolumeName, ModalsRule) {
  for (const char* ok : {"a", "A", "weights", "my-vol_1.2", "-", "_", "a.b.c", "...x"}) {
    EXPECT_TRUE(ValidateVolumeName(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateVolumeName(std::string(64, 'x')).ok());
  for (std::string bad : {std::string(), std::string(65, 'x'), std::string("a/b"), std::string("a b"),
                          std::string("é"), std::string("a:b"), std::string("."), std::string(".."),
                          std::string("a\0b", 3), std::string("x\n"), std::string("a*")}) {
    absl::Status s = ValidateVolumeName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << "'" << bad << "' accepted";
    EXPECT_NE(s.message().find("1-64 characters"), std::string::npos) << s;
  }
  EXPECT_NE(ValidateVolumeName("a/b", "environment name").message().find("environment name"),
            std::string::npos);
}

TEST(Volumes, CreateLookupRenameDelete) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  bool created = false;
  absl::StatusOr<VolumeInfo> v = CreateVolume(*store, "main", "v", false, &created);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(created);
  EXPECT_EQ(v->id.size(), 32u);
  EXPECT_TRUE(absl::IsAlreadyExists(CreateVolume(*store, "main", "v", false).status()));
  absl::StatusOr<VolumeInfo> again = CreateVolume(*store, "main", "v", true, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->id, v->id) << "--allow-existing returns the existing volume";
  // Another environment is another namespace.
  absl::StatusOr<VolumeInfo> other = CreateVolume(*store, "dev", "v", false);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, v->id);

  EXPECT_EQ(LookupVolume(*store, "main", "v")->id, v->id);
  absl::Status missing = LookupVolume(*store, "main", "nope").status();
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_NE(missing.message().find("vol create nope"), std::string::npos) << missing;

  ASSERT_TRUE(RenameVolume(*store, "main", "v", "w").ok());
  EXPECT_EQ(LookupVolume(*store, "main", "w")->id, v->id) << "the id survives a rename";
  EXPECT_TRUE(absl::IsNotFound(LookupVolume(*store, "main", "v").status()));
  ASSERT_TRUE(CreateVolume(*store, "main", "x", false).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(RenameVolume(*store, "main", "w", "x")));
  EXPECT_EQ(LookupVolume(*store, "main", "w")->id, v->id);

  std::vector<std::string> names;
  absl::StatusOr<std::vector<VolumeInfo>> listed = ListVolumes(*store, "main");
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const VolumeInfo& i : *listed) names.push_back(i.name);
  EXPECT_EQ(names, (std::vector<std::string>{"w", "x"}));

  ASSERT_TRUE(DeleteVolume(*store, "main", "w").ok());
  EXPECT_TRUE(absl::IsNotFound(LookupVolume(*store, "main", "w").status()));
  EXPECT_TRUE(absl::IsNotFound(DeleteVolume(*store, "main", "w")));
  EXPECT_EQ(ListVolumes(*store, "main")->size(), 1u);
  EXPECT_EQ(ListVolumes(*store, "dev")->size(), 1u);
}

TEST(Volumes, RacingCreatesHaveOneWinner) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (CreateVolume(*store, "main", "race", false).ok()) winners.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

}  // namespace
}  // namespace vol
