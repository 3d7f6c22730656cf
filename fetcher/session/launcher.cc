#include "fetcher/session/launcher.h"

#include <fcntl.h>
#include <signal.h>
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
#include "fetcher/session/chunk_cache.h"
#include "fetcher/session/fetcher_process.h"
#include "fetcher/session/mount_spec.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/shim_locator.h"
#include "fetcher/session/view_builder.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volumes.h"
#include "vol/session.h"

namespace vol {
namespace {

volatile sig_atomic_t g_program_pid = 0;

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
                              const std::vector<MountLine>& mounts) {
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

  std::vector<MountLine> lines;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const ResolvedMount& m = mounts[i];
    std::string view = session.ViewPath(i, m.spec.volume);
    ViewStats stats;
    int64_t root_mtime = m.head.seq == 0 ? m.info.created_ns : m.head.time_ns;
    if (absl::Status s = BuildView(store, m.head.root, root_mtime, view, m.spec.mount, config.files, stats);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("volume '", m.spec.volume, "': ", s.message()));
    }
    lines.push_back({m.spec.mount, view, o.read_only});
    config.mounts.push_back({m.spec.mount, view, m.info, o.read_only, m.head.root});
  }
  config.commit_every = o.no_commit ? 0 : o.commit_every;
  config.commit_at_exit = !o.no_commit && !o.read_only;
  uint64_t words = 0;
  for (const ViewFile& f : config.files) words += (f.entry.chunks.size() + 63) / 64 + 1;
  // Room to spare for files a reload adds later.
  config.max_files = config.files.size() * 2 + 1024;
  config.max_words = words * 2 + 4096;
  if (absl::Status s = session.WriteMounts(lines); !s.ok()) return s;
  // This fetcher takes VOL_OP_CHANGED and commits: the shim lets programs write to "rw" mounts.
  if (absl::Status s = WriteFileAtomic(session.File(VOL_SESSION_FEATURES), absl::StrCat(VOL_FEATURE_WRITES, "\n"));
      !s.ok()) {
    return s;
  }

  int ready[2], stop[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(stop, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  fflush(nullptr);
  pid_t fetcher = fork();
  if (fetcher < 0) return ErrnoError("cannot start the fetcher", errno);
  if (fetcher == 0) {
    close(ready[0]);
    close(stop[1]);
    _exit(RunFetcher(config, ready[1], stop[0]));
  }
  close(ready[1]);
  close(stop[0]);
  std::string answer = ReadLine(ready[0]);
  close(ready[0]);
  if (answer != "ok") {
    close(stop[1]);
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
    close(stop[1]);
    WaitOrKill(fetcher, absl::Seconds(10));
    return ErrnoError("cannot start the program", errno);
  }
  if (program == 0) {
    close(stop[1]);
    ExecProgram(o, session, shim, lines);
  }
  g_program_pid = program;

  int program_status = 0;
  bool fetcher_alive = true;
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == program) {
      program_status = st;
      break;
    }
    if (r == fetcher) {
      fetcher_alive = false;
      fprintf(stderr,
              "vol: the fetcher of this session (pid %d) %s; reads of content not yet fetched "
              "now fail with EIO\n",
              fetcher, DescribeStatus(st).c_str());
    }
  }
  g_program_pid = 0;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);

  close(stop[1]);
  bool commit_failed = false;
  if (fetcher_alive) {
    // The final commit uploads what the program wrote: no deadline.
    int st = WaitOrKill(fetcher, absl::InfiniteDuration());
    if (WIFEXITED(st) && WEXITSTATUS(st) == kFinalCommitFailed) {
      commit_failed = true;
      absl::StatusOr<std::string> why = ReadFile(session.File(kSessionCommitErrorFile));
      fprintf(stderr, "vol: error: the final commit failed: %s\n",
              why.ok() ? why->c_str() : "(no detail)");
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      fprintf(stderr, "vol: the fetcher %s\n", DescribeStatus(st).c_str());
    } else if (isatty(STDERR_FILENO)) {
      absl::StatusOr<std::string> done = ReadFile(session.File(kSessionCommitFile));
      unsigned long long files = 0, bytes = 0, seq = 0;
      if (done.ok() && sscanf(done->c_str(), "%llu %llu %llu", &files, &bytes, &seq) == 3 && files > 0) {
        fprintf(stderr, "vol: committed %llu changed files (%llu bytes uploaded)\n", files, bytes);
      }
    }
  } else if (!o.read_only && !o.no_commit && access(session.File(kSessionChangedFile).c_str(), F_OK) == 0) {
    commit_failed = true;
    fprintf(stderr, "vol: error: the fetcher died, so the session's last changes were not committed; "
                    "they are in %s; publish them with: vol commit --session %s\n",
            session.path().c_str(), session.path().c_str());
    WriteFileAtomic(session.File(kSessionKeepFile), "fetcher died\n").IgnoreError();
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
  std::string cache_dir = DefaultCacheDir();
  if (absl::Status s = MakeDirs(cache_dir, 0700); !s.ok()) return s;
  absl::StatusOr<SessionDir> session = SessionDir::Create(cache_dir);
  if (!session.ok()) return session.status();
  absl::StatusOr<int> rc = RunInSession(o, mounts, **store, *shim, cache_dir, *session);
  if (access(session->File(kSessionKeepFile).c_str(), F_OK) == 0) return rc;  // changes to publish later
  if (absl::Status s = session->Remove(); !s.ok()) {
    fprintf(stderr, "vol: warning: cannot remove session %s: %s\n", session->path().c_str(),
            std::string(s.message()).c_str());
  }
  return rc;
}

}  // namespace vol
