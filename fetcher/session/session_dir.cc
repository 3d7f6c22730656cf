#include "fetcher/session/session_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "fetcher/session/session_files.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/safe_dir.h"
#include "vol/session.h"

namespace vol {
namespace {

constexpr char kViewsDirFile[] = "views-dir";  // in a moved control directory: where its views are

std::string RandomId() {
  std::random_device rd;
  return absl::StrFormat("%d-%08x", getpid(), rd());
}

// True when a socket in `dir`/`id` fits in sockaddr_un.
bool SocketFits(const std::string& dir, const std::string& id) {
  struct sockaddr_un addr;
  return dir.size() + 1 + id.size() + 1 + strlen(VOL_SESSION_SOCK) < sizeof addr.sun_path;
}

bool PidFileAlive(int session_fd, const char* name) {
  absl::StatusOr<std::string> text = ReadFileAt(session_fd, name, 64);
  int pid = 0;
  return text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) && pid > 0 && ProcessAlive(pid);
}

// True while some process of the session holds its lifeline (session.h).
bool LifelineHeld(int session_fd) {
  UniqueFd fd(openat(session_fd, VOL_SESSION_LIFELINE, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return false;
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  return flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// A session is alive while its `vol run`, its fetcher, or any process of it lives.
bool OwnerAlive(int session_fd) {
  if (PidFileAlive(session_fd, VOL_SESSION_FETCHER_PID) || LifelineHeld(session_fd)) return true;
  absl::StatusOr<std::string> text = ReadFileAt(session_fd, "owner", 64);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    // No owner yet: being created right now, or very old. Leave it alone
    // unless it is more than a day old.
    struct stat st;
    return fstat(session_fd, &st) != 0 || st.st_mtime > time(nullptr) - 86400;
  }
  return ProcessAlive(pid);
}

// The places a session's control files move to when its socket would not
// fit in the cache directory, in order of preference.
std::string RuntimeControlBase() {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  return xdg != nullptr && *xdg == '/' ? absl::StrCat(xdg, "/vol") : "";
}
std::string TmpControlBase() { return absl::StrCat("/tmp/vol-", geteuid()); }

// The short control directory for a session `id`, checked (and created
// 0700): $XDG_RUNTIME_DIR/vol when $XDG_RUNTIME_DIR is a private directory
// of the user, else /tmp/vol-UID.
absl::StatusOr<SafeDir> OpenControlBase(const std::string& id) {
  std::string runtime = RuntimeControlBase();
  if (!runtime.empty() && SocketFits(runtime, id)) {
    absl::StatusOr<SafeDir> xdg = SafeDir::Open(getenv("XDG_RUNTIME_DIR"), IfMissing::kFail, "XDG_RUNTIME_DIR");
    if (xdg.ok()) return xdg->Sub("vol", IfMissing::kCreate);
  }
  absl::StatusOr<SafeDir> tmp = SafeDir::Open(TmpControlBase(), IfMissing::kCreate, "socket directory");
  if (!tmp.ok()) {
    return absl::Status(tmp.status().code(),
                        absl::StrCat(tmp.status().message(), " (it is used because the cache directory's path is "
                                     "too long for a socket: a shorter VOL_CACHE_DIR, or an XDG_RUNTIME_DIR of "
                                     "yours, avoids it)"));
  }
  return tmp;
}

// The control bases that exist and pass the checks (for RemoveStale).
std::vector<SafeDir> ExistingControlBases() {
  std::vector<SafeDir> out;
  for (const std::string& base : {RuntimeControlBase(), TmpControlBase()}) {
    if (base.empty()) continue;
    absl::StatusOr<SafeDir> d = SafeDir::Open(base, IfMissing::kFail, "socket directory");
    if (d.ok()) out.push_back(*std::move(d));
  }
  return out;
}

bool HasMarker(int session_fd) { return ExistsAt(session_fd, "changed") || ExistsAt(session_fd, "keep"); }

// Removes the stale sessions in `dir` (see the invariants). `controls`: the
// moved control directories, whose markers keep the views of their sessions.
void RemoveStale(const SafeDir& dir, const std::vector<SafeDir>& controls) {
  absl::StatusOr<std::vector<std::string>> names = ListDirAt(dir.fd());
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (name[0] == '.') continue;
    absl::StatusOr<UniqueFd> s = OpenDirAt(dir.fd(), name);
    if (!s.ok()) continue;  // not a directory: not a session
    struct stat st;
    if (fstat(s->get(), &st) != 0 || st.st_uid != geteuid()) continue;
    if (ExistsAt(s->get(), "keep") || OwnerAlive(s->get())) continue;
    if (ExistsAt(s->get(), "changed")) {
      // Killed whole with changes not yet committed: they are published from here.
      std::string path = dir.PathOf(name);
      fprintf(stderr,
              "vol: kept session %s: it was killed before committing its changes; publish them with "
              "`vol commit --session %s` or discard them with `rm -r %s`\n",
              path.c_str(), path.c_str(), path.c_str());
      continue;
    }
    bool views_of_kept = false;  // the views of a moved control directory that is kept
    for (const SafeDir& c : controls) {
      absl::StatusOr<UniqueFd> control = OpenDirAt(c.fd(), name);
      if (control.ok() && HasMarker(control->get())) views_of_kept = true;
    }
    if (views_of_kept) continue;
    RemoveTreeAt(dir.fd(), name, dir.PathOf(name)).IgnoreError();
  }
}

// Where a kept session's views live: nullopt for the session itself, else
// its `views-dir`, accepted only as a private directory named
// `…/sessions/ID` with the session's own ID.
absl::StatusOr<std::optional<SafeDir>> ViewsHomeOf(const SafeDir& session) {
  absl::StatusOr<std::string> text = ReadFileAt(session.fd(), kViewsDirFile, 4096);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::nullopt;
    return absl::Status(text.status().code(), absl::StrCat(session.path(), ": ", text.status().message()));
  }
  std::string views_home(absl::StripAsciiWhitespace(*text));
  char* real = realpath(session.path().c_str(), nullptr);
  std::string id = real != nullptr ? real : session.path();
  free(real);
  id = id.substr(id.rfind('/') + 1);
  std::string parent = views_home.substr(0, views_home.rfind('/'));
  bool named_right = views_home.size() > id.size() && views_home[0] == '/' &&
                     absl::EndsWith(views_home, absl::StrCat("/", id)) &&
                     absl::EndsWith(parent, "/sessions");
  if (!named_right) {
    return absl::PermissionDeniedError(absl::StrCat(
        "session ", session.path(), " names ", views_home, " as its views, which is not a session directory (",
        ".../sessions/", id, "); vol will not use it: discard the session with rm -r ", session.path()));
  }
  absl::StatusOr<SafeDir> d = SafeDir::Open(views_home, IfMissing::kFail, "session views directory");
  if (!d.ok()) {
    if (absl::IsNotFound(d.status())) return std::nullopt;  // already gone: nothing to remove or read
    return d.status();
  }
  return std::optional<SafeDir>(*std::move(d));
}

// Refuses a `view` that is not a directory directly inside `views` (by
// identity, however either path is spelled).
absl::Status CheckViewIn(const std::string& view, int views_fd, const std::string& views_path,
                         const std::string& session) {
  auto refuse = [&] {
    return absl::PermissionDeniedError(absl::StrCat(
        "session ", session, " names ", view, " as a view, which is not in its views directory ", views_path,
        "; vol will not read or write it: discard the session with rm -r ", session));
  };
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentDir(view, &name);
  if (!parent.ok() || name == "." || name == "..") return refuse();
  struct stat a, b, v;
  if (views_fd < 0 || fstat(parent->get(), &a) != 0 || fstat(views_fd, &b) != 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino) {
    return refuse();
  }
  if (fstatat(views_fd, name.c_str(), &v, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(v.st_mode)) return refuse();
  return absl::OkStatus();
}

// Empties and removes a checked directory, then its own name.
absl::Status RemoveChecked(const SafeDir& d) {
  absl::Status s = RemoveContentsAt(d.fd());
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("cannot remove ", d.path(), ": ", s.message()));
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentDir(d.path(), &name);
  if (!parent.ok()) return parent.status();
  // Only an empty directory goes: whatever stands at the name now loses nothing.
  if (unlinkat(parent->get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoError(absl::StrCat("cannot remove ", d.path()), errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveTreeForce(const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentDir(path, &name);
  if (!parent.ok()) return absl::IsNotFound(parent.status()) ? absl::OkStatus() : parent.status();
  return RemoveTreeAt(parent->get(), name, path);
}

bool ProcessAlive(int pid) {
  if (!(kill(pid, 0) == 0 || errno == EPERM)) return false;
  // A zombie (killed, its new parent has not reaped it yet) is dead.
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

absl::Status CheckKeptSession(const std::string& dir) {
  absl::StatusOr<SafeDir> session = SafeDir::Open(dir, IfMissing::kFail, "session directory");
  if (!session.ok()) return session.status();
  absl::StatusOr<std::optional<SafeDir>> home = ViewsHomeOf(*session);
  if (!home.ok()) return home.status();
  const SafeDir& views_home = home->has_value() ? **home : *session;
  absl::StatusOr<UniqueFd> views = OpenDirAt(views_home.fd(), "views");
  int views_fd = views.ok() ? views->get() : -1;
  for (const char* file : {"pending.json", "recover.json"}) {
    absl::StatusOr<std::string> text = ReadFileAt(session->fd(), file, size_t{1} << 30);
    if (!text.ok()) {
      if (absl::IsNotFound(text.status())) continue;
      return absl::Status(text.status().code(), absl::StrCat(dir, "/", text.status().message()));
    }
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return absl::DataLossError(absl::StrCat(dir, "/", file, " is not valid JSON"));
    auto mounts = j.find("mounts");
    if (mounts == j.end() || !mounts->is_array()) continue;  // publishing reports the missing field
    for (const nlohmann::json& m : *mounts) {
      auto view = m.find("view");
      if (!m.is_object() || view == m.end() || !view->is_string()) {
        return absl::DataLossError(absl::StrCat(dir, "/", file, ": a mount without a view"));
      }
      if (absl::Status s = CheckViewIn(view->get<std::string>(), views_fd, views_home.PathOf("views"), dir); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveSessionDir(const std::string& path) {
  absl::StatusOr<SafeDir> session = SafeDir::Open(path, IfMissing::kFail, "session directory");
  if (!session.ok()) return session.status();
  absl::StatusOr<std::optional<SafeDir>> views_home = ViewsHomeOf(*session);
  if (!views_home.ok()) return views_home.status();  // nothing removed: the user looks first
  absl::Status s = RemoveChecked(*session);
  if (views_home->has_value()) {
    absl::Status v = RemoveChecked(**views_home);
    if (s.ok()) s = v;
  }
  return s;
}

absl::StatusOr<SessionDir> SessionDir::Create(const std::string& cache_dir) {
  absl::StatusOr<SafeDir> cache = SafeDir::Open(cache_dir, IfMissing::kCreate, "cache directory");
  if (!cache.ok()) return cache.status();
  absl::StatusOr<SafeDir> sessions = cache->Sub("sessions", IfMissing::kCreate);
  if (!sessions.ok()) return sessions.status();
  RemoveStale(*sessions, ExistingControlBases());
  std::string id = RandomId();
  std::string home = sessions->PathOf(id);
  if (mkdirat(sessions->fd(), id.c_str(), kPrivateDirMode) != 0) {
    return ErrnoError(absl::StrCat("cannot create session directory ", home), errno);
  }
  absl::StatusOr<UniqueFd> home_fd = OpenDirAt(sessions->fd(), id);
  if (!home_fd.ok()) return home_fd.status();
  SessionDir d;
  d.path_ = home;
  d.views_ = home + "/views";
  int control_fd = home_fd->get();
  UniqueFd moved_fd;
  if (!SocketFits(sessions->path(), id)) {
    // Too long for a socket: control files go to a short directory.
    absl::StatusOr<SafeDir> base = OpenControlBase(id);
    if (!base.ok()) {
      RemoveTreeAt(sessions->fd(), id).IgnoreError();
      return base.status();
    }
    RemoveStale(*base, {});
    d.path_ = base->PathOf(id);
    if (mkdirat(base->fd(), id.c_str(), kPrivateDirMode) != 0) {
      return ErrnoError(absl::StrCat("cannot create session directory ", d.path_), errno);
    }
    absl::StatusOr<UniqueFd> fd = OpenDirAt(base->fd(), id);
    if (!fd.ok()) return fd.status();
    moved_fd = *std::move(fd);
    control_fd = moved_fd.get();
    if (absl::Status s = WriteFileAt(control_fd, kViewsDirFile, home, kPrivateFileMode); !s.ok()) return s;
    if (absl::Status s = WriteFileAt(home_fd->get(), "owner", absl::StrCat(getpid(), "\n"), kPrivateFileMode);
        !s.ok()) {
      return s;
    }
  }
  if (mkdirat(home_fd->get(), "views", kPrivateDirMode) != 0) {
    return ErrnoError(absl::StrCat("cannot create ", d.views_), errno);
  }
  if (absl::Status s = WriteFileAt(control_fd, "owner", absl::StrCat(getpid(), "\n"), kPrivateFileMode); !s.ok()) {
    return s;
  }
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
