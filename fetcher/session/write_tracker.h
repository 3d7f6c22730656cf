// WriteTracker: which processes of a session are writing which file, from the
// shims' announcements (session.h): a writer is announced before its open
// (VOL_CHANGED_OPEN_WRITE) and leaves when its last write fd of the file
// closes (VOL_CHANGED_CLOSE_WRITE) or it exits normally (VOL_OP_EXIT).
//
// A file with writers is in flux: a commit that leaves out open files leaves
// it out too, whatever became of its writers. One whose writers are all gone
// without leaving was cut short by a kill: its content is whatever the kill
// left, and no commit publishes it. Deciding by announcements, not by a look
// at /proc, leaves no window in which a kill makes a half-written file look
// final.
//
// Paths are canonical mount-relative paths (changed_path.h), moved along with
// the session's renames. A writer that announces itself on a file cut short
// starts it over: the dead writers are forgotten. Every open is numbered
// (Epoch), so that a commit can tell whether a file it uploaded was opened
// for writing again meanwhile.
//
// With a log path (the session's kSessionWritersFile), every change to the
// set of files in flux is appended there as it happens, one write(2) per
// record, so that `vol commit --session` knows them even when the fetcher
// died together with the writers (a container stop, the OOM killer), with no
// one left to say: "O" NUL mount NUL path NUL when a file gets its first
// writer, "C" NUL mount NUL path NUL when its last one leaves, "R" NUL mount
// NUL from NUL to NUL for a rename while files are in flux. Replayed in
// order (WrittenWhenKilled) the log gives the set at the moment of the kill;
// a kill tears at most the last record, which is dropped. The log is
// rewritten whole (the set as "O" records) when it has grown to twice its
// last size, so it stays as small as the set. Not fsynced: a machine crash
// may lose its tail, and with it the tail of the files' own bytes.
//
// Thread-safe: the loop thread records, the commit thread asks.
#ifndef VOL_FETCHER_SESSION_WRITE_TRACKER_H_
#define VOL_FETCHER_SESSION_WRITE_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace vol {

class WriteTracker {
 public:
  using Alive = std::function<bool(int pid)>;
  explicit WriteTracker(Alive alive, std::string log_path = {});
  ~WriteTracker();
  WriteTracker(const WriteTracker&) = delete;
  WriteTracker& operator=(const WriteTracker&) = delete;

  void Opened(size_t mount, const std::string& path, int pid);
  void Closed(size_t mount, const std::string& path, int pid);
  void Exited(int pid);
  // `from` (a file or a directory) now is `to`; what `to` was is gone.
  void Renamed(size_t mount, const std::string& from, const std::string& to);

  // Whether `path` has writers; with `only_cut_short`, whether it has writers
  // and all of them are gone.
  bool InFlux(size_t mount, const std::string& path, bool only_cut_short = false) const;
  // The files of `mount` in flux (or only those cut short), sorted.
  std::vector<std::string> Files(size_t mount, bool only_cut_short = false) const;

  // The number of the latest open; whether `path` was opened for writing
  // after open number `epoch`; forgetting opens up to `epoch`.
  uint64_t Epoch() const;
  bool OpenedSince(size_t mount, const std::string& path, uint64_t epoch) const;
  void ForgetOpensUpTo(uint64_t epoch);

  // The files in flux when the session behind `log_path` ended, per mount
  // index below `mounts`, sorted: those a commit must leave out.
  static std::vector<std::vector<std::string>> WrittenWhenKilled(const std::string& log_path, size_t mounts);

 private:
  using Key = std::pair<size_t, std::string>;
  bool CutShort(const absl::flat_hash_set<int>& pids) const;
  void Log(char op, size_t mount, const std::string& path, const std::string* to = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RewriteLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Alive alive_;
  const std::string log_path_;
  mutable absl::Mutex mu_;
  int log_fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t log_bytes_ ABSL_GUARDED_BY(mu_) = 0;     // written since the last rewrite, or by it
  uint64_t rewrite_at_ ABSL_GUARDED_BY(mu_) = 0;    // log_bytes_ that trigger the next rewrite
  bool log_broken_ ABSL_GUARDED_BY(mu_) = false;    // a write failed: rewrite at the next change
  bool warned_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<Key, absl::flat_hash_set<int>> writers_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<Key, uint64_t> last_open_ ABSL_GUARDED_BY(mu_);  // opens not forgotten yet
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_WRITE_TRACKER_H_
