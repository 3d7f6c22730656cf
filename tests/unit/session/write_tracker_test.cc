#include "fetcher/session/write_tracker.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"

namespace vol {
namespace {

using Strings = std::vector<std::string>;

class WriteTrackerTest : public ::testing::Test {
 protected:
  absl::flat_hash_set<int> dead_;
  WriteTracker tracker_{[this](int pid) { return !dead_.contains(pid); }};
};

TEST_F(WriteTrackerTest, AFileIsCutShortOnlyWhenEveryWriterDiedWithoutLeaving) {
  tracker_.Opened(0, "ckpt/a", 10);
  tracker_.Opened(0, "ckpt/a", 11);
  tracker_.Opened(0, "ckpt/b", 10);
  tracker_.Opened(0, "ckpt/c", 12);
  tracker_.Closed(0, "ckpt/c", 12);
  EXPECT_EQ(tracker_.CutShort(0), Strings{});  // all alive
  dead_.insert(10);
  EXPECT_EQ(tracker_.CutShort(0), Strings{"ckpt/b"});  // a still has 11
  dead_.insert(11);
  dead_.insert(12);
  EXPECT_EQ(tracker_.CutShort(0), (Strings{"ckpt/a", "ckpt/b"}));  // c was closed
  EXPECT_EQ(tracker_.CutShort(1), Strings{});                      // per mount
}

TEST_F(WriteTrackerTest, ANormalExitLeavesEveryFileFinal) {
  tracker_.Opened(0, "x", 20);
  tracker_.Opened(0, "y", 20);
  tracker_.Exited(20);
  dead_.insert(20);
  EXPECT_EQ(tracker_.CutShort(0), Strings{});
}

TEST_F(WriteTrackerTest, RenamesMoveWritersAndDropWhatTheTargetWas) {
  tracker_.Opened(0, "d/f", 30);
  tracker_.Opened(0, "e/g", 31);
  tracker_.Opened(0, "dd/h", 32);  // not under d
  tracker_.Renamed(0, "d", "e");   // e (and e/g) replaced
  dead_.insert({30, 31, 32});
  EXPECT_EQ(tracker_.CutShort(0), (Strings{"dd/h", "e/f"}));
}

TEST_F(WriteTrackerTest, ANewWriterStartsACutShortFileOver) {
  tracker_.Opened(0, "ckpt", 40);
  dead_.insert(40);
  ASSERT_EQ(tracker_.CutShort(0), Strings{"ckpt"});
  tracker_.Opened(0, "ckpt", 41);  // a restarted trainer rewrites it
  tracker_.Closed(0, "ckpt", 41);
  EXPECT_EQ(tracker_.CutShort(0), Strings{});
}

}  // namespace
}  // namespace vol
