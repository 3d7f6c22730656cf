// The fetcher process of a session: `vol run` forks it once the views are
// built. It listens on the session socket, serves the shims through a
// SessionServer and a FetchEngine, and when told to stop (EOF on the stop
// pipe: `vol run` is done, or died) writes the session's `stats` file and exits.
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
#include "fetcher/session/view_builder.h"

namespace vol {

struct FetcherConfig {
  std::string store_url;
  std::string session;     // the session directory
  std::string cache_dir;   // "" = no local cache
  uint64_t cache_limit = 0;
  uint64_t max_files = 0;  // presence table capacity
  uint64_t max_words = 0;
  std::vector<ViewFile> files;
  std::vector<SessionMount> mounts;
  int commit_every = 5;       // seconds between background commits; 0: none
  bool commit_at_exit = true;  // false: --no-commit
};

// Exit status of a fetcher whose final commit failed (the changes are kept).
inline constexpr int kFinalCommitFailed = 3;

// The body of the forked fetcher; returns its exit status. The final
// commit's outcome is written to the session: `commit` (files, bytes) or
// `commit_error` (one line).
int RunFetcher(const FetcherConfig& config, int ready_fd, int stop_fd);

// "store_bytes N\n…", the `stats` file, and back.
std::string FormatStats(const FetchStats& s);
absl::StatusOr<FetchStats> ParseStats(const std::string& text);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_FETCHER_PROCESS_H_
