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
  EXPECT_EQ(tracker_.Files(0, true), Strings{});  // all alive
  dead_.insert(10);
  EXPECT_EQ(tracker_.Files(0, true), Strings{"ckpt/b"});  // a still has 11
  dead_.insert(11);
  dead_.insert(12);
  EXPECT_EQ(tracker_.Files(0, true), (Strings{"ckpt/a", "ckpt/b"}));  // c was closed
  EXPECT_EQ(tracker_.Files(1, true), Strings{});                      // per mount
}

TEST_F(WriteTrackerTest, ANormalExitLeavesEveryFileFinal) {
  tracker_.Opened(0, "x", 20);
  tracker_.Opened(0, "y", 20);
  tracker_.Exited(20);
  dead_.insert(20);
  EXPECT_EQ(tracker_.Files(0, true), Strings{});
}

TEST_F(WriteTrackerTest, RenamesMoveWritersAndDropWhatTheTargetWas) {
  tracker_.Opened(0, "d/f", 30);
  tracker_.Opened(0, "e/g", 31);
  tracker_.Opened(0, "dd/h", 32);  // not under d
  tracker_.Renamed(0, "d", "e");   // e (and e/g) replaced
  dead_.insert({30, 31, 32});
  EXPECT_EQ(tracker_.Files(0, true), (Strings{"dd/h", "e/f"}));
}

TEST_F(WriteTrackerTest, ANewWriterStartsACutShortFileOver) {
  tracker_.Opened(0, "ckpt", 40);
  dead_.insert(40);
  ASSERT_EQ(tracker_.Files(0, true), Strings{"ckpt"});
  tracker_.Opened(0, "ckpt", 41);  // a restarted trainer rewrites it
  tracker_.Closed(0, "ckpt", 41);
  EXPECT_EQ(tracker_.Files(0, true), Strings{});
}

TEST_F(WriteTrackerTest, AFileWithALiveWriterIsInFluxButNotCutShort) {
  tracker_.Opened(0, "log", 50);
  EXPECT_TRUE(tracker_.InFlux(0, "log"));
  EXPECT_FALSE(tracker_.InFlux(0, "log", /*only_cut_short=*/true));
  EXPECT_EQ(tracker_.Files(0), Strings{"log"});
  tracker_.Closed(0, "log", 50);
  EXPECT_FALSE(tracker_.InFlux(0, "log"));
}

TEST_F(WriteTrackerTest, OpensAreNumberedSoACommitSeesAFileReopenedWhileItUploaded) {
  tracker_.Opened(0, "a", 60);
  tracker_.Closed(0, "a", 60);
  uint64_t start = tracker_.Epoch();
  EXPECT_FALSE(tracker_.OpenedSince(0, "a", start));
  tracker_.Opened(0, "a", 61);
  EXPECT_TRUE(tracker_.OpenedSince(0, "a", start));
  tracker_.Renamed(0, "a", "b");
  EXPECT_TRUE(tracker_.OpenedSince(0, "b", start));
  tracker_.ForgetOpensUpTo(tracker_.Epoch());
  EXPECT_FALSE(tracker_.OpenedSince(0, "b", start));
}

}  // namespace
}  // namespace vol
