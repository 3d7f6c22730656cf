// timed: runs a command and reports what it cost its whole process tree.
//
//   timed [--out FILE] [--peak-of EXE] -- PROGRAM [ARGS…]
//
// Prints one line, to FILE (appended) or else to stderr:
//   timed: wall_s=W cpu_s=C user_s=U sys_s=S maxrss_kb=M exit=E [peak_kb=P peak_pids=N]
//
// wall_s: from fork to the exit of PROGRAM. cpu_s: user + system time of
// PROGRAM and of every process it started, daemons included: timed makes
// itself a child subreaper, so processes orphaned below it are re-parented to
// it and reaped here, and their CPU time lands in RUSAGE_CHILDREN. It waits
// for them (up to 120 s) after PROGRAM exits; that wait is not in wall_s.
// maxrss_kb: the largest peak RSS of any single process of the tree.
// --peak-of EXE: after PROGRAM exits, the largest VmHWM among the running
// processes whose /proc/PID/exe is EXE, other than timed's ancestors (inside
// `vol run`, that is the session's fetcher and not the launcher above us).
//
// Used by bench/run for every timed case, and inside sessions, where it times
// the program alone (not the session's start-up and end).
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <set>
#include <string>

namespace {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

// The parent of `pid`, from /proc/PID/stat (field 4; the name in field 2 may
// hold spaces and parentheses, so parse after its last ')').
pid_t ParentOf(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* close_paren = strrchr(buf, ')');
  if (close_paren == nullptr) return 0;
  char state;
  int ppid = 0;
  if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

// VmHWM in KiB of `pid`, or -1.
long PeakKb(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, "VmHWM:", 6) == 0) {
      kb = strtol(line + 6, nullptr, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

// Largest VmHWM among processes running `exe`, ancestors of this process excluded.
void PeakOf(const char* exe, long* peak_kb, int* count) {
  std::set<pid_t> ancestors;
  for (pid_t p = getpid(); p > 1; p = ParentOf(p)) ancestors.insert(p);
  char want[PATH_MAX];
  if (realpath(exe, want) == nullptr) snprintf(want, sizeof want, "%s", exe);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* d = readdir(proc)) {
    char* end;
    long pid = strtol(d->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || ancestors.count(pid) > 0) continue;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%ld/exe", pid);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strcmp(target, want) != 0) continue;
    long kb = PeakKb(pid);
    if (kb < 0) continue;
    ++*count;
    if (kb > *peak_kb) *peak_kb = kb;
  }
  closedir(proc);
}

[[noreturn]] void Usage() {
  fprintf(stderr, "usage: timed [--out FILE] [--peak-of EXE] -- PROGRAM [ARGS...]\n");
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const char* out = nullptr;
  const char* peak_of = nullptr;
  int i = 1;
  for (; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--peak-of") == 0 && i + 1 < argc) {
      peak_of = argv[++i];
    } else {
      Usage();
    }
  }
  if (i >= argc) Usage();

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) perror("timed: PR_SET_CHILD_SUBREAPER");
  double start = Now();
  pid_t child = fork();
  if (child < 0) {
    perror("timed: fork");
    return 125;
  }
  if (child == 0) {
    execvp(argv[i], argv + i);
    fprintf(stderr, "timed: cannot run %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  // The terminal's signals are for the program; this process only reports.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  int status = 0;
  rusage usage{};
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("timed: wait4");
      return 125;
    }
  }
  double wall = Now() - start;
  long maxrss = usage.ru_maxrss;

  long peak_kb = -1;
  int peak_pids = 0;
  if (peak_of != nullptr) PeakOf(peak_of, &peak_kb, &peak_pids);

  // Reap what the program left running, so that its CPU time is counted.
  double deadline = Now() + 120;
  int orphans_left = 0;
  for (;;) {
    int st;
    rusage ru{};
    pid_t r = wait4(-1, &st, WNOHANG, &ru);
    if (r > 0) {
      if (ru.ru_maxrss > maxrss) maxrss = ru.ru_maxrss;
      continue;
    }
    if (r < 0 && errno == ECHILD) break;
    if (Now() > deadline) {
      orphans_left = 1;
      break;
    }
    usleep(2000);
  }
  rusage all{};
  getrusage(RUSAGE_CHILDREN, &all);
  double user = Seconds(all.ru_utime), sys = Seconds(all.ru_stime);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  char line[512];
  int len = snprintf(line, sizeof line,
                     "timed: wall_s=%.6f cpu_s=%.6f user_s=%.6f sys_s=%.6f maxrss_kb=%ld exit=%d", wall,
                     user + sys, user, sys, maxrss, code);
  if (peak_of != nullptr) {
    len += snprintf(line + len, sizeof line - len, " peak_kb=%ld peak_pids=%d", peak_kb, peak_pids);
  }
  if (orphans_left) len += snprintf(line + len, sizeof line - len, " orphans_left=1");
  snprintf(line + len, sizeof line - len, "\n");
  if (out != nullptr) {
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, strlen(line)) < 0) {
      fprintf(stderr, "timed: cannot write %s: %s\n", out, strerror(errno));
      return 125;
    }
    close(fd);
  } else {
    fputs(line, stderr);
  }
  return code;
}
