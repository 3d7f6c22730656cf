#include "fetcher/session/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "fetcher/format/chunk.h"
#include "fetcher/session/content_cache.h"
#include "fetcher/session/fetcher_process.h"
#include "fetcher/session/mount_spec.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/shim_locator.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volumes.h"
#include "vol/session.h"

namespace vol {
namespace {

volatile sig_atomic_t g_program_pid = 0;

// The lowest fd the program's lifeline may take: above the program's own and
// below the shim's connections (800 and up).
constexpr int kLifelineFd = 790;

void PassOn(int sig) {
  if (g_program_pid > 0) kill(g_program_pid, sig);
}

struct ResolvedMount {
  MountSpec spec;
  VolumeInfo info;
  CommitInfo head;
};

// Reads the fetcher's one-line answer.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (line.size() < 4096) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line.push_back(c);
  }
  return line;
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status));
  return absl::StrCat("exited with status ", WEXITSTATUS(status));
}

// Waits for `pid` up to `timeout`, then kills it. Returns its wait status.
int WaitOrKill(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return status;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void ReportStats(const SessionDir& session) {
  const char* want = getenv("VOL_STATS");
  if (want == nullptr || *want == '\0' || strcmp(want, "0") == 0) return;
  absl::StatusOr<std::string> text = ReadFile(session.File(kSessionStatsFile));
  if (!text.ok()) {
    fprintf(stderr, "vol: no fetcher statistics (the fetcher did not finish cleanly)\n");
    return;
  }
  if (want[0] == '/') {
    if (absl::Status s = WriteFileAtomic(want, *text); !s.ok()) {
      fprintf(stderr, "vol: VOL_STATS: %s\n", std::string(s.message()).c_str());
    }
    return;
  }
  std::string line(absl::StripAsciiWhitespace(*text));
  for (char& c : line) c = c == '\n' ? ' ' : c;
  fprintf(stderr, "vol: stats: %s\n", line.c_str());
}

// `vol` itself runs without the shim, so a program stored on a mount is
// started by a shell that has it: the shim's execve translates the path and
// fetches the file whole first.
bool OnMount(const std::string& program, const std::vector<MountLine>& mounts) {
  for (const MountLine& m : mounts) {
    if (RewriteSymlinkTarget(program, m.mount, m.view) != program) return true;
  }
  return false;
}

[[noreturn]] void ExecProgram(const RunOptions& o, const SessionDir& session, const std::string& shim,
                              const std::vector<MountLine>& mounts, int lifeline) {
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  const char* old = getenv("LD_PRELOAD");
  std::string preload = old && *old ? absl::StrCat(shim, ":", old) : shim;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  setenv(VOL_SESSION_ENV, session.path().c_str(), 1);
  setenv(VOL_SHIM_ENV, shim.c_str(), 1);
  // The lifeline goes to every process of the session: out of the way of the
  // program's own fds, and kept across exec.
  int high = fcntl(lifeline, F_DUPFD, kLifelineFd);
  if (high < 0) {
    fprintf(stderr, "vol: cannot pass the session lifeline to the program: %s\n", strerror(errno));
    _exit(126);
  }
  setenv(VOL_LIFELINE_ENV, absl::StrCat(high).c_str(), 1);
  std::vector<char*> argv;
  if (OnMount(o.argv[0], mounts)) {
    for (const char* a : {"/bin/sh", "-c", "exec \"$0\" \"$@\""}) argv.push_back(const_cast<char*>(a));
  }
  for (const std::string& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  int err = errno;
  fprintf(stderr, "vol: cannot run '%s': %s\n", o.argv[0].c_str(), strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

// The session's lifeline (include/vol/session.h): a FIFO whose write end every
// process of the session holds, locked shared. Returns that write end.
absl::StatusOr<UniqueFd> MakeLifeline(const SessionDir& session) {
  std::string path = session.File(VOL_SESSION_LIFELINE);
  if (mkfifo(path.c_str(), 0600) != 0) return ErrnoError(absl::StrCat("cannot create ", path), errno);
  // O_RDWR opens a FIFO without waiting for a reader (Linux).
  UniqueFd fd(open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open ", path), errno);
  if (flock(fd.get(), LOCK_SH) != 0) return ErrnoError(absl::StrCat("cannot lock ", path), errno);
  return fd;
}

absl::StatusOr<int> RunInSession(const RunOptions& o, const std::vector<ResolvedMount>& mounts,
                                 ObjectStore& store, const std::string& shim,
                                 const std::string& cache_dir, const SessionDir& session) {
  FetcherConfig config;
  config.store_url = store.Url();
  config.session = session.path();
  config.cache_dir = cache_dir;
  absl::StatusOr<uint64_t> limit = CacheLimitFromEnv(cache_dir);
  if (!limit.ok()) return limit.status();
  config.cache_limit = *limit;
  config.owner_pid = getpid();

  std::vector<MountLine> lines;
  uint64_t files = 0, bytes = 0;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const ResolvedMount& m = mounts[i];
    std::string view = session.ViewPath(i, m.spec.volume);
    lines.push_back({m.spec.mount, view, o.read_only});
    FetcherMount fm;
    fm.session = {m.spec.mount, view, m.info, o.read_only, m.head.root, m.head.seq, o.preserve_special_modes};
    fm.root_mtime_ns = m.head.seq == 0 ? m.info.created_ns : m.head.time_ns;
    config.mounts.push_back(std::move(fm));
    files += m.head.files;
    bytes += m.head.bytes;
  }
  // Slots for what a program touches (views are populated lazily), with room
  // for directories and for what a reload adds. The table is a sparse file:
  // pages are used as slots are.
  config.max_slots = files + files / 4 + 65536;
  config.max_words = files + bytes / (kChunkSize * 64) + 65536;
  config.commit_every = o.no_commit ? 0 : o.commit_every;
  config.commit_at_exit = !o.no_commit && !o.read_only;
  if (absl::Status s = session.WriteMounts(lines); !s.ok()) return s;
  // This fetcher takes VOL_OP_CHANGED and commits: the shim lets programs write to "rw" mounts.
  if (absl::Status s = WriteFileAtomic(session.File(VOL_SESSION_FEATURES), absl::StrCat(VOL_FEATURE_WRITES, "\n"));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<UniqueFd> lifeline = MakeLifeline(session);
  if (!lifeline.ok()) return lifeline.status();

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  fflush(nullptr);
  pid_t fetcher = fork();
  if (fetcher < 0) return ErrnoError("cannot start the fetcher", errno);
  if (fetcher == 0) {
    close(ready[0]);
    lifeline->reset();  // the fetcher reads the other end; holding this one would keep it open forever
    setsid();           // not in the program's process group: a kill of the group spares it
    _exit(RunFetcher(config, ready[1]));
  }
  close(ready[1]);
  std::string answer = ReadLine(ready[0]);
  close(ready[0]);
  if (answer != "ok") {
    lifeline->reset();
    int st = WaitOrKill(fetcher, absl::Seconds(5));
    if (answer.empty()) answer = absl::StrCat("it ", DescribeStatus(st));
    return absl::UnavailableError(absl::StrCat("the fetcher could not start: ", answer));
  }

  if (o.interactive) {
    for (const ResolvedMount& m : mounts) {
      fprintf(stderr, "vol: volume '%s' (commit %llu) is at %s%s\n", m.spec.volume.c_str(),
              static_cast<unsigned long long>(m.head.seq), m.spec.mount.c_str(),
              o.read_only ? " (read-only)" : "");
    }
    fprintf(stderr, "vol: exit the shell to end the session.\n");
  }

  struct sigaction ignore {}, pass {}, old_int {}, old_quit {}, old_term {}, old_hup {};
  ignore.sa_handler = SIG_IGN;
  pass.sa_handler = PassOn;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  sigaction(SIGTERM, &pass, &old_term);
  sigaction(SIGHUP, &pass, &old_hup);
  fflush(nullptr);
  pid_t program = fork();
  if (program < 0) {
    int err = errno;
    lifeline->reset();  // the session ends with nobody in it
    WaitOrKill(fetcher, absl::Seconds(30));
    return ErrnoError("cannot start the program", err);
  }
  if (program == 0) ExecProgram(o, session, shim, lines, lifeline->get());
  g_program_pid = program;
  // From now on only the program and what it starts hold the lifeline.
  lifeline->reset();

  int program_status = 0;
  int fetcher_status = 0;
  bool program_done = false, fetcher_done = false;
  // The session ends when every process holding the lifeline has exited (the
  // program's children may outlive it); the fetcher sees that, commits, exits.
  while (!(program_done && fetcher_done)) {
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == program) {
      program_status = st;
      program_done = true;
      g_program_pid = 0;
    } else if (r == fetcher) {
      fetcher_status = st;
      fetcher_done = true;
      // A fetcher that ended the session itself (exit 0, or its final commit
      // failed) saw the lifeline's EOF: the program has closed it, so it is
      // exiting, only not reaped yet (the kernel closes a process's fds before
      // its parent can wait for it). Only a fetcher that died is news here.
      bool ended_session = WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == kFinalCommitFailed);
      if (!program_done && !ended_session) {
        fprintf(stderr,
                "vol: the fetcher of this session (pid %d) %s; reads of content not yet fetched "
                "and changes to the mounts now fail with EIO\n",
                fetcher, DescribeStatus(st).c_str());
      }
    }
  }
  g_program_pid = 0;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);

  bool commit_failed = false;
  bool fetcher_ok = WIFEXITED(fetcher_status) && WEXITSTATUS(fetcher_status) == 0;
  if (WIFEXITED(fetcher_status) && WEXITSTATUS(fetcher_status) == kFinalCommitFailed) {
    commit_failed = true;
    absl::StatusOr<std::string> why = ReadFile(session.File("commit_error"));
    fprintf(stderr, "vol: error: the final commit failed: %s\n", why.ok() ? why->c_str() : "(no detail)");
  } else if (!fetcher_ok) {
    if (program_done) {
      fprintf(stderr, "vol: the fetcher %s\n", DescribeStatus(fetcher_status).c_str());
    }
    if (!o.read_only && !o.no_commit) {
      // Whatever the program wrote is in the views: the session is kept, and
      // `vol commit --session` finds the changes by comparing them with the snapshot.
      commit_failed = true;
      fprintf(stderr,
              "vol: error: the session's changes were not committed; they are kept in %s; "
              "publish them with: vol commit --session %s\n",
              session.path().c_str(), session.path().c_str());
      WriteFileAtomic(session.File("keep"), "fetcher died\n").IgnoreError();
    }
  } else if (isatty(STDERR_FILENO)) {
    absl::StatusOr<std::string> done = ReadFile(session.File("commit"));
    unsigned long long files_done = 0, bytes_done = 0, seq = 0;
    if (done.ok() && sscanf(done->c_str(), "%llu %llu %llu", &files_done, &bytes_done, &seq) == 3 &&
        files_done > 0) {
      fprintf(stderr, "vol: committed %llu changed files (%llu bytes uploaded)\n", files_done, bytes_done);
    }
  }
  ReportStats(session);
  if (commit_failed) {
    int rc = WIFSIGNALED(program_status) ? 128 + WTERMSIG(program_status) : WEXITSTATUS(program_status);
    return rc != 0 ? rc : 1;
  }
  if (WIFSIGNALED(program_status)) return 128 + WTERMSIG(program_status);
  return WEXITSTATUS(program_status);
}

}  // namespace

absl::StatusOr<int> RunSession(const RunOptions& o) {
  if (o.argv.empty()) {
    return absl::InvalidArgumentError("no program to run: vol run -v NAME[:MOUNT] -- PROGRAM [ARGS…]");
  }
  std::vector<MountSpec> specs;
  for (const std::string& v : o.volumes) {
    absl::StatusOr<MountSpec> m = ParseMountSpec(v);
    if (!m.ok()) return m.status();
    specs.push_back(*std::move(m));
  }
  if (absl::Status s = CheckMounts(specs); !s.ok()) return s;
  absl::StatusOr<std::string> shim = LocateShim();
  if (!shim.ok()) return shim.status();
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(o.store_url);
  if (!store.ok()) return store.status();
  std::vector<ResolvedMount> mounts;
  for (const MountSpec& spec : specs) {
    absl::StatusOr<VolumeInfo> info = LookupVolume(**store, o.env, spec.volume);
    if (!info.ok()) return info.status();
    absl::StatusOr<CommitInfo> head = ReadHead(**store, info->id);
    if (!head.ok()) {
      return absl::Status(head.status().code(),
                          absl::StrCat("volume '", spec.volume, "': ", head.status().message()));
    }
    mounts.push_back({spec, *std::move(info), *std::move(head)});
  }
  std::string cache_dir = DefaultCacheDir();  // checked (or created 0700) by SessionDir::Create
  absl::StatusOr<SessionDir> session = SessionDir::Create(cache_dir);
  if (!session.ok()) return session.status();
  absl::StatusOr<int> rc = RunInSession(o, mounts, **store, *shim, cache_dir, *session);
  if (access(session->File("keep").c_str(), F_OK) == 0) return rc;  // changes to publish later
  bool added = false;
  if (absl::StatusOr<std::string> text = ReadFile(session->File("stats")); text.ok()) {
    absl::StatusOr<FetchStats> stats = ParseStats(*text);
    added = stats.ok() && (stats->view_bytes > 0 || stats->cache_created > 0);
  }
  if (absl::Status s = session->Remove(); !s.ok()) {
    fprintf(stderr, "vol: warning: cannot remove session %s: %s\n", session->path().c_str(),
            std::string(s.message()).c_str());
  }
  // Files only this session's view linked can go now, if the cache is over its limit.
  if (added) {
    if (absl::StatusOr<uint64_t> limit = CacheLimitFromEnv(cache_dir); limit.ok()) {
      EvictContent(cache_dir, *limit, /*wait=*/true).IgnoreError();
    }
  }
  return rc;
}

}  // namespace vol
