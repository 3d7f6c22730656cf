#include "fetcher/session/write_tracker.h"

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"
#include "tests/unit/testing/temp_dir.h"

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

// The log is replayed by `vol commit --session` after the fetcher died with
// the writers: it must give exactly the files in flux at every moment.
TEST(WriteTrackerLogTest, ReplayingTheLogGivesTheFilesInFluxAtAnyMoment) {
  testing::TempDir dir;
  const std::string log = dir / "writers";
  absl::flat_hash_set<int> dead;
  WriteTracker tracker([&dead](int pid) { return !dead.contains(pid); }, log);
  EXPECT_EQ(WriteTracker::WrittenWhenKilled(log, 2), std::vector<Strings>(2));
  std::mt19937 rng(7);
  const Strings names = {"a", "b", "d/x", "d/y", "d/e/z", "e", "e/z"};
  auto pick = [&](const Strings& from) { return from[rng() % from.size()]; };
  // Enough operations that the log is rewritten whole a few times.
  for (int step = 0; step < 20000; ++step) {
    size_t mount = rng() % 2;
    int pid = 100 + static_cast<int>(rng() % 4);
    switch (rng() % 5) {
      case 0:
      case 1: tracker.Opened(mount, absl::StrCat(pick(names), step % 50), pid); break;
      case 2: tracker.Closed(mount, absl::StrCat(pick(names), rng() % 50), pid); break;
      case 3: tracker.Renamed(mount, pick({"d", "e", "d/e", "a0", "b1"}), pick({"d", "e", "f", "a0"})); break;
      case 4: if (rng() % 50 == 0) tracker.Exited(pid); break;
    }
    if (step % 997 == 0 || step == 19999) {
      std::vector<Strings> want = {tracker.Files(0), tracker.Files(1)};
      ASSERT_EQ(WriteTracker::WrittenWhenKilled(log, 2), want) << "after step " << step;
    }
  }
  struct stat st;
  ASSERT_EQ(stat(log.c_str(), &st), 0);
  EXPECT_LT(st.st_size, 256 << 10) << "the log is not rewritten as it grows";
}

TEST(WriteTrackerLogTest, ATornLastRecordIsDropped) {
  testing::TempDir dir;
  const std::string log = dir / "writers";
  WriteTracker tracker([](int) { return false; }, log);
  tracker.Opened(0, "done", 1);
  tracker.Opened(0, "torn", 1);
  tracker.Closed(0, "torn", 1);
  // A kill in the middle of the last write(2): "C NUL 0 NUL tor".
  int fd = open(log.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, lseek(fd, 0, SEEK_END) - 3), 0);
  close(fd);
  EXPECT_EQ(WriteTracker::WrittenWhenKilled(log, 1), std::vector<Strings>{(Strings{"done", "torn"})});
  EXPECT_EQ(WriteTracker::WrittenWhenKilled(dir / "missing", 1), std::vector<Strings>(1));
}

}  // namespace
}  // namespace vol
