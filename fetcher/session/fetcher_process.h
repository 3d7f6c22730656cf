// The fetcher process of a session: `vol run` forks it first. It makes the
// root of each mount's view (the rest is populated on first use), listens on
// the session socket, serves the shims (SessionServer, FetchEngine,
// ViewPopulator, PrivateCopies, SessionCommits), and ends when the session
// does: when every process of the session has exited (EOF on the lifeline,
// include/vol/session.h) — whatever happened to `vol run`. Then it makes the
// final commit, writes the session's `stats`, and exits.
//
// Start-up handshake: the fetcher writes one line to `ready_fd` — "ok", or
// the error that stopped it — so `vol run` never starts the program on a
// session nobody serves.
#ifndef VOL_FETCHER_SESSION_FETCHER_PROCESS_H_
#define VOL_FETCHER_SESSION_FETCHER_PROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/session/committer.h"
#include "fetcher/session/fetch_engine.h"

namespace vol {

struct FetcherMount {
  SessionMount session;  // mount, view, volume, read_only, base_root (the snapshot)
  int64_t root_mtime_ns = 0;
};

struct FetcherConfig {
  std::string store_url;
  std::string session;     // the session directory
  std::string cache_dir;   // content files and trees
  uint64_t cache_limit = 0;
  uint64_t max_slots = 0;  // presence table capacity
  uint64_t max_words = 0;
  std::vector<FetcherMount> mounts;
  int owner_pid = 0;          // `vol run`; when it is gone at the end, the fetcher cleans up
  int commit_every = 5;       // seconds between background commits; 0: none
  bool commit_at_exit = true;  // false: --no-commit
};

// Exit status of a fetcher whose final commit failed (the changes are kept).
inline constexpr int kFinalCommitFailed = 3;

// The body of the forked fetcher; returns its exit status. The final
// commit's outcome is written to the session: `commit` (files, bytes) or
// `commit_error` (one line). Nothing thrown escapes it.
int RunFetcher(const FetcherConfig& config, int ready_fd);

// "store_bytes N\n…", the `stats` file, and back.
std::string FormatStats(const FetchStats& s);
absl::StatusOr<FetchStats> ParseStats(const std::string& text);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_FETCHER_PROCESS_H_
