// TestView: a session's view of a snapshot, made by the real ViewPopulator
// (content files linked from a shared cache, presence slots) and populated
// whole, for tests that then change it as a program would. MakePrivate does
// what the shim has the fetcher do before a program changes a content file.
#ifndef VOL_TESTS_UNIT_TESTING_TEST_VIEW_H_
#define VOL_TESTS_UNIT_TESTING_TEST_VIEW_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fetcher/session/content_cache.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol::testing {

// Makes the whole file in `slot` present, running the engine's loop here (as
// its owner would).
inline absl::Status FetchWhole(FetchEngine& engine, uint32_t slot) {
  bool done = false;
  absl::Status result;
  engine.Fetch(slot, 0, 0, true, [&](absl::Status s) {
    result = s;
    done = true;
  });
  while (!done) {
    uint64_t n;
    if (read(engine.event_fd(), &n, sizeof n) < 0) return absl::InternalError("eventfd");
    engine.OnCompletions();
  }
  return result;
}

class TestView {
 public:
  // The view of `root` at `view` (created), its presence table at `presence`,
  // content files in the cache directory `cache`.
  TestView(ObjectStore& store, const ObjectId& root, const std::string& view, const std::string& presence,
           const std::string& cache)
      : view_(view) {
    mode_t old = umask(0);  // as in the fetcher: modes as the snapshot says
    auto table = PresenceTable::Create(presence, 4096, 65536);
    EXPECT_TRUE(table.ok()) << table.status();
    presence_ = *std::move(table);
    cache_ = std::make_unique<ContentCache>(cache, uint64_t{1} << 34);
    engine_ = std::make_unique<FetchEngine>(store, *cache_, *presence_, 2, ReadAheadParams{});
    populator_ = std::make_unique<ViewPopulator>(store, *engine_, *presence_, 2);
    absl::Status s = populator_->AddRoot(0, view, "/mnt/v", root, 0);
    EXPECT_TRUE(s.ok()) << s;
    PopulateAll(view);
    umask(old);
  }
  ~TestView() { Stop(); }

  // The fetcher goes away (what a dead session leaves: the view and the table).
  void Stop() {
    populator_.reset();
    engine_.reset();
    cache_.reset();
  }

  ViewIndex& index() {
    if (!index_) index_ = NewSessionViewIndex(*engine_, *populator_);
    return *index_;
  }
  PresenceTable& presence() { return *presence_; }

  // Every directory below `dir` populated (an eager view).
  void PopulateAll(const std::string& dir) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(fd.ok()) << dir;
    ASSERT_TRUE(populator_->PopulateNow(fd.get()).ok()) << dir;
    absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
    ASSERT_TRUE(names.ok());
    for (const std::string& n : *names) {
      struct stat st;
      if (lstat((dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) PopulateAll(dir + "/" + n);
    }
  }

  // Before a program changes the file `rel` (relative to the view): a shared
  // content file is replaced by a private copy (empty: no content).
  void MakePrivate(const std::string& rel, bool empty = false) {
    std::string path = view_ + "/" + rel;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink < 2) return;
    std::optional<uint32_t> slot = presence_->Find(st.st_dev, st.st_ino);
    if (!slot) return;
    std::string content;
    if (!empty) {
      ASSERT_TRUE(FetchAll(*slot).ok());
      absl::StatusOr<std::string> got = ReadFile(path);
      ASSERT_TRUE(got.ok());
      content = *got;
    }
    uint32_t mode = presence_->file(*slot).mode;
    std::string tmp = path + ".private";
    ASSERT_TRUE(WriteFileAtomic(tmp, content, mode).ok());
    // Its user.* xattrs too, as the fetcher's copy has them.
    char names[4096];
    ssize_t n = llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t at = 0; at < n;) {
      std::string name(names + at);
      at += static_cast<ssize_t>(name.size()) + 1;
      char value[4096];
      ssize_t len = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
      if (len >= 0 && name.rfind("user.", 0) == 0) lsetxattr(tmp.c_str(), name.c_str(), value, len, 0);
    }
    struct timespec times[2] = {{0, UTIME_OMIT}, st.st_mtim};
    utimensat(AT_FDCWD, tmp.c_str(), times, 0);
    ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
  }

  // Makes the whole file in `slot` present, running the owner's loop.
  absl::Status FetchAll(uint32_t slot) { return FetchWhole(*engine_, slot); }

 private:
  std::string view_;
  std::unique_ptr<PresenceTable> presence_;
  std::unique_ptr<ContentCache> cache_;
  std::unique_ptr<FetchEngine> engine_;
  std::unique_ptr<ViewPopulator> populator_;
  std::unique_ptr<ViewIndex> index_;
};

}  // namespace vol::testing

#endif  // VOL_TESTS_UNIT_TESTING_TEST_VIEW_H_
