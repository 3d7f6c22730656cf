#include "fetcher/session/session_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "fetcher/session/session_files.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {
namespace {

std::string RandomId() {
  std::random_device rd;
  return absl::StrFormat("%d-%08x", getpid(), rd());
}

bool OwnerAlive(const std::string& session) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session, "/", kSessionOwnerFile));
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    // No owner yet: being created right now, or very old. Leave it alone
    // unless it is more than a day old.
    struct stat st;
    return stat(session.c_str(), &st) != 0 || st.st_mtime > time(nullptr) - 86400;
  }
  return ProcessAlive(pid);
}

// The control directory of a session whose views are in the cache directory
// but whose socket would not fit there (see Create).
std::string ShortControlDir(const std::string& id) { return absl::StrCat("/tmp/vol-", getuid(), "/", id); }

void RemoveStale(const std::string& sessions) {
  DIR* d = opendir(sessions.c_str());
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string s = absl::StrCat(sessions, "/", e->d_name);
    if (access(absl::StrCat(s, "/", kSessionKeepFile).c_str(), F_OK) == 0) continue;
    if (OwnerAlive(s)) continue;
    if (access(absl::StrCat(s, "/", kSessionChangedFile).c_str(), F_OK) == 0) {
      // Killed whole with changes not yet committed: they are published from here.
      fprintf(stderr,
              "vol: kept session %s: it was killed before committing its changes; publish them with "
              "`vol commit --session %s` or discard them with `rm -r %s`\n",
              s.c_str(), s.c_str(), s.c_str());
      continue;
    }
    std::string control = ShortControlDir(e->d_name);
    if (control != s && access(absl::StrCat(control, "/", kSessionChangedFile).c_str(), F_OK) == 0) continue;  // its views
    stale.push_back(s);
  }
  closedir(d);
  for (const std::string& s : stale) RemoveTreeForce(s).IgnoreError();
}

}  // namespace

absl::Status RemoveTreeForce(const std::string& path) {
  auto make_writable = [](const char* p, const struct stat* st, int type, struct FTW*) -> int {
    if (type == FTW_D || type == FTW_DNR) chmod(p, 0700);
    return 0;
  };
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (S_ISDIR(st.st_mode)) {
    chmod(path.c_str(), 0700);
    nftw(path.c_str(), make_writable, 32, FTW_PHYS);
  }
  return RemoveTree(path);
}

bool ProcessAlive(int pid) {
  if (!(kill(pid, 0) == 0 || errno == EPERM)) return false;
  // A zombie (killed, its new parent has not reaped it yet) is dead.
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

absl::Status RemoveSessionDir(const std::string& path) {
  absl::StatusOr<std::string> views_home = ReadFile(absl::StrCat(path, "/", kSessionViewsDirFile));
  absl::Status s = RemoveTreeForce(path);
  if (views_home.ok() && !views_home->empty()) {
    absl::Status v = RemoveTreeForce(*views_home);
    if (s.ok()) s = v;
  }
  return s;
}

absl::StatusOr<SessionDir> SessionDir::Create(const std::string& cache_dir) {
  std::string sessions = absl::StrCat(cache_dir, "/sessions");
  if (absl::Status s = MakeDirs(sessions, 0700); !s.ok()) return s;
  RemoveStale(sessions);
  SessionDir d;
  std::string id = RandomId();
  std::string home = absl::StrCat(sessions, "/", id);
  if (mkdir(home.c_str(), 0700) != 0) {
    return ErrnoError(absl::StrCat("cannot create session directory ", home), errno);
  }
  d.path_ = home;
  d.views_ = home + "/views";
  struct sockaddr_un addr;
  if (home.size() + 1 + strlen(VOL_SESSION_SOCK) >= sizeof addr.sun_path) {
    // Too long for a socket: control files go to a short directory.
    std::string tmp = absl::StrCat("/tmp/vol-", getuid());
    if (absl::Status s = MakeDirs(tmp, 0700); !s.ok()) return s;
    RemoveStale(tmp);
    d.path_ = absl::StrCat(tmp, "/", id);
    if (mkdir(d.path_.c_str(), 0700) != 0) {
      return ErrnoError(absl::StrCat("cannot create session directory ", d.path_), errno);
    }
    if (absl::Status s = WriteFileAtomic(absl::StrCat(d.path_, "/", kSessionViewsDirFile), home); !s.ok()) return s;
    if (absl::Status s = WriteFileAtomic(absl::StrCat(home, "/", kSessionOwnerFile), absl::StrCat(getpid(), "\n")); !s.ok()) return s;
  }
  if (mkdir(d.views_.c_str(), 0700) != 0) {
    return ErrnoError(absl::StrCat("cannot create ", d.views_), errno);
  }
  if (absl::Status s = WriteFileAtomic(d.File(kSessionOwnerFile), absl::StrCat(getpid(), "\n")); !s.ok()) return s;
  return d;
}

std::string SessionDir::ViewPath(size_t i, const std::string& volume) const {
  return absl::StrCat(views_, "/", i, "-", volume);
}

absl::Status SessionDir::WriteMounts(const std::vector<MountLine>& mounts) const {
  std::string text;
  for (const MountLine& m : mounts) {
    absl::StrAppend(&text, m.mount, "\t", m.view, "\t", m.read_only ? "ro" : "rw", "\n");
  }
  return WriteFileAtomic(File(VOL_SESSION_MOUNTS), text, 0644);
}

absl::Status SessionDir::Remove() const {
  std::string views_home = views_.substr(0, views_.rfind('/'));
  absl::Status s = RemoveTreeForce(path_);
  if (views_home != path_) {
    absl::Status v = RemoveTreeForce(views_home);
    if (s.ok()) s = v;
  }
  return s;
}

}  // namespace vol
