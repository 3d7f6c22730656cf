#include "fetcher/session/session_dir.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

int DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

void MakeSession(const std::string& dir, const std::string& owner_pid, const char* marker = nullptr) {
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << dir;
  ASSERT_TRUE(WriteFileAtomic(dir + "/owner", owner_pid + "\n").ok());
  if (marker) {
    ASSERT_TRUE(WriteFileAtomic(dir + "/" + marker, "").ok());
  }
}

TEST(SessionDir, EveryDirectoryOnTheWayIsPrivate) {
  TempDir t;
  absl::StatusOr<SessionDir> s = SessionDir::Create(t / "cache");
  ASSERT_TRUE(s.ok()) << s.status();
  for (const std::string& d : {t / "cache", t / "cache/sessions", s->path(), s->path() + "/views"}) {
    EXPECT_EQ(ModeOf(d), 0700u) << d;
  }
  EXPECT_TRUE(Exists(s->File("owner")));
  ASSERT_TRUE(s->Remove().ok());
  EXPECT_FALSE(Exists(s->path()));
}

TEST(SessionDir, RefusesACacheDirectoryOpenToOthersAndWritesNothingThere) {
  TempDir t;
  ASSERT_EQ(mkdir((t / "cache").c_str(), 0700), 0);
  ASSERT_EQ(chmod((t / "cache").c_str(), 0777), 0);
  absl::StatusOr<SessionDir> s = SessionDir::Create(t / "cache");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "cache directory " + (t / "cache") + " is open to other users"))
      << s.status();
  EXPECT_TRUE(ListDir(t / "cache")->empty());
}

TEST(SessionDir, ALongCachePathPutsTheSocketInXdgRuntimeDir) {
  TempDir t;
  ASSERT_EQ(mkdir((t / "run").c_str(), 0700), 0);
  ScopedEnv xdg("XDG_RUNTIME_DIR", (t / "run").c_str());
  std::string cache = t / std::string(100, 'c');
  absl::StatusOr<SessionDir> s = SessionDir::Create(cache);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(absl::StartsWith(s->path(), t / "run/vol/")) << s->path();
  EXPECT_EQ(ModeOf(t / "run/vol"), 0700u);
  std::string id = s->path().substr(s->path().rfind('/') + 1);
  EXPECT_EQ(*ReadFile(s->File("views-dir")), cache + "/sessions/" + id);
  EXPECT_EQ(s->ViewPath(0, "v"), cache + "/sessions/" + id + "/views/0-v");
  ASSERT_EQ(mkdir(s->ViewPath(0, "v").c_str(), 0700), 0);
  ASSERT_TRUE(WriteFileAtomic(s->File("recover.json"),
                              R"({"store":"file:///nowhere","mounts":[{"view":")" + s->ViewPath(0, "v") + R"("}]})")
                  .ok());
  absl::Status checked = CheckKeptSession(s->path());
  ASSERT_TRUE(checked.ok()) << checked;
  ASSERT_TRUE(s->Remove().ok());
  EXPECT_FALSE(Exists(s->path()));
  EXPECT_FALSE(Exists(cache + "/sessions/" + id));
}

TEST(SessionDir, RemovesOnlyStaleSessionsAndFollowsNoLink) {
  TempDir t;
  std::string sessions = t / "cache/sessions";
  ASSERT_TRUE(MakeDirs(sessions, 0700).ok());
  std::string dead = std::to_string(DeadPid());
  MakeSession(sessions + "/dead", dead);
  MakeSession(sessions + "/live", std::to_string(getpid()));
  MakeSession(sessions + "/kept", dead, "keep");
  MakeSession(sessions + "/changed", dead, "changed");
  // Someone's data behind a link, old enough to look stale.
  ASSERT_TRUE(MakeDirs(t / "data/old", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(t / "data/old/precious", "bytes").ok());
  struct timespec old[2] = {{0, UTIME_OMIT}, {1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (t / "data/old").c_str(), old, 0), 0);
  ASSERT_EQ(symlink((t / "data").c_str(), (sessions + "/link").c_str()), 0);

  absl::StatusOr<SessionDir> s = SessionDir::Create(t / "cache");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(Exists(sessions + "/dead"));
  EXPECT_TRUE(Exists(sessions + "/live"));
  EXPECT_TRUE(Exists(sessions + "/kept"));
  EXPECT_TRUE(Exists(sessions + "/changed"));
  EXPECT_TRUE(Exists(sessions + "/link"));
  EXPECT_EQ(*ReadFile(t / "data/old/precious"), "bytes");
}

class KeptSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    session_ = t_ / "cache/sessions/123-abc";
    ASSERT_TRUE(MakeDirs(session_ + "/views/0-v", 0700).ok());
    ASSERT_EQ(chmod((t_ / "cache").c_str(), 0700), 0);
    ASSERT_TRUE(MakeDirs(t_ / "victim/dir", 0755).ok());
    ASSERT_TRUE(WriteFileAtomic(t_ / "victim/dir/file", "victim's bytes").ok());
  }
  void Pending(const std::string& view) {
    ASSERT_TRUE(WriteFileAtomic(session_ + "/pending.json",
                                R"({"store":"file:///nowhere","mounts":[{"mount":"/mnt/v","view":")" + view +
                                    R"(","env":"main","name":"v","id":"x","changed":[],"records":{}}]})")
                    .ok());
  }
  TempDir t_;
  std::string session_;
};

TEST_F(KeptSessionTest, AcceptsItsOwnSessionAndRemovesIt) {
  Pending(session_ + "/views/0-v");
  ASSERT_TRUE(CheckKeptSession(session_).ok());
  ASSERT_TRUE(RemoveSessionDir(session_).ok());
  EXPECT_FALSE(Exists(session_));
  EXPECT_EQ(*ReadFile(t_ / "victim/dir/file"), "victim's bytes");
}

TEST_F(KeptSessionTest, RefusesADirectoryOpenToOthers) {
  ASSERT_EQ(chmod(session_.c_str(), 0755), 0);
  absl::Status s = CheckKeptSession(session_);
  EXPECT_TRUE(absl::StrContains(s.message(), "session directory " + session_ + " is open to other users")) << s;
}

TEST_F(KeptSessionTest, RefusesAViewOutsideItsViewsDirectory) {
  for (const std::string& view : {t_ / "victim/dir", session_ + "/views/../../../../victim/dir",
                                  session_ + "/views/0-v/..", session_ + "/views"}) {
    Pending(view);
    absl::Status s = CheckKeptSession(session_);
    EXPECT_TRUE(absl::StrContains(s.message(), "names " + view + " as a view, which is not in its views directory"))
        << view << ": " << s;
  }
  EXPECT_EQ(*ReadFile(t_ / "victim/dir/file"), "victim's bytes");
}

TEST_F(KeptSessionTest, RefusesAViewsDirThatIsNotItsOwnSessionDirectory) {
  ASSERT_TRUE(WriteFileAtomic(session_ + "/views-dir", t_ / "victim/dir").ok());
  ASSERT_TRUE(WriteFileAtomic(session_ + "/pending.json", R"({"store":"file:///nowhere","mounts":[]})").ok());
  absl::Status s = CheckKeptSession(session_);
  EXPECT_TRUE(absl::StrContains(s.message(), "names " + (t_ / "victim/dir") + " as its views, which is not")) << s;
  // And removal, even when asked directly, neither follows it nor removes the session.
  EXPECT_FALSE(RemoveSessionDir(session_).ok());
  EXPECT_TRUE(Exists(session_ + "/pending.json"));
  EXPECT_EQ(*ReadFile(t_ / "victim/dir/file"), "victim's bytes");
}

}  // namespace
}  // namespace vol
