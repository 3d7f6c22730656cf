// RunSession: `vol run` and `vol shell`. Resolves the volumes, builds the
// session (views, presence table, socket), forks the fetcher, runs the
// program with the shim preloaded, and returns its exit status.
//
// Invariants:
//   - Every mistake the launcher can find (an unknown volume, a bad mount
//     path, the same volume twice, nested mounts, no shim) is reported before
//     the program starts, and nothing is left behind.
//   - The program starts only after the fetcher has said it serves the session.
//   - The exit status is the program's: its code, or 128+N when signal N
//     killed it. Ctrl-C and Ctrl-\ go to the program (the launcher and the
//     fetcher ignore them while it runs); SIGTERM and SIGHUP are passed on.
//   - A fetcher that dies while the program runs is reported at once (reads
//     of unfetched content then fail with EIO in the program); the launcher
//     still waits for the program.
//   - Writable mounts (all, unless --read-only) are committed in the
//     background and once more at the end; if that final commit fails, the
//     exit status is non-zero, the message says how to publish the changes
//     later, and the session directory stays.
//   - Otherwise the session directory is removed when the session ends.
#ifndef VOL_FETCHER_SESSION_LAUNCHER_H_
#define VOL_FETCHER_SESSION_LAUNCHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vol {

struct RunOptions {
  std::string store_url;  // "" = $VOL_STORE or the default
  std::string env;        // environment of the volume names
  std::vector<std::string> volumes;  // "-v" arguments: NAME[:MOUNT]
  bool read_only = false;
  std::vector<std::string> argv;     // the program
  bool interactive = false;          // vol shell: say what is mounted
  int commit_every = 5;              // background commits, seconds; 0: none
  bool no_commit = false;            // discard the session's changes
  bool preserve_special_modes = false;  // views keep setuid/setgid/o+w from the store (MaterialMode)
};

absl::StatusOr<int> RunSession(const RunOptions& options);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_LAUNCHER_H_
