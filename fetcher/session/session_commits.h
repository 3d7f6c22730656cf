// SessionCommits: the write side of a session in the fetcher. It tracks what
// the program changed (VOL_OP_CHANGED from the shims), and publishes it with
// CommitChanges: on request (VOL_OP_COMMIT: `vol commit`, sync, syncfs,
// vol_commit()), every `commit_every` seconds in the background, and once
// more when the session ends.
//
// Invariants:
//   - The changed-path sets and the FetchEngine are touched on the loop
//     thread only; commits run one at a time on a commit thread, from a
//     snapshot of both, and report back through FetchEngine::Post.
//   - A path stays changed until a commit publishes the version it had when
//     that commit started (a generation number per change): a change made
//     during a commit is published by the next one.
//   - Background commits skip files open for writing; the final commit (the
//     program has exited) does not.
//   - If the final commit fails, what it would have published is written to
//     the session's `pending.json` and the session directory is kept, so that
//     `vol commit --session DIR` publishes it later (PublishPending).
//   - So that a session killed whole (SIGKILL of vol run, fetcher and program)
//     loses nothing either: `recover.json` (store, volumes, base snapshots)
//     is written at start, and every path the first time it becomes changed,
//     and every rename, is appended to the session's `journal` (one write(2)
//     per new path). When nothing is left to commit, the journal keeps only
//     the renames and the `changed` marker goes; a dead session that still
//     has the marker is kept by the next `vol run`, and PublishPending
//     publishes it from the view, the journal and the presence table.
#ifndef VOL_FETCHER_SESSION_SESSION_COMMITS_H_
#define VOL_FETCHER_SESSION_SESSION_COMMITS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/session/committer.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/view_populator.h"
#include "vol/session.h"

namespace vol {

class SessionCommits {
 public:
  SessionCommits(ObjectStore& store, FetchEngine& engine, ViewPopulator& populator, ViewIndex& index,
                 std::vector<SessionMount> mounts, std::string session_dir);
  ~SessionCommits();  // finishes the running commit

  // VOL_OP_CHANGED / COMMIT / RELOAD (loop thread).
  void Handle(const vol_request& req, std::function<void(const vol_response&)> reply);
  // A background commit, unless one is running or nothing changed (loop thread).
  void Tick();
  // The last commit, after the loop has stopped. On failure the changes are
  // saved to pending.json (and the error says how to publish them).
  absl::StatusOr<CommitReport> Final();

  bool HasChanges() const;

 private:
  struct Job {
    std::vector<size_t> mounts;
    bool skip_open = false;
    bool reload = false;  // then move the mounts to their volumes' heads
    std::function<void(absl::StatusOr<CommitReport>)> done;  // loop thread
  };
  struct Snapshot {
    size_t mount;
    std::vector<std::pair<std::string, uint64_t>> changed;
  };

  int MountOf(const std::string& mount_path, std::string* rel) const;
  void Mark(const std::string& mount_path, uint32_t kind, bool* is_view_path = nullptr);
  void Enqueue(Job job);
  void StartNext();
  absl::StatusOr<CommitReport> Run(const std::vector<Snapshot>& snaps, bool skip_open,
                                   std::vector<std::pair<size_t, std::string>>* done);
  void Worker();

  ObjectStore& store_;
  FetchEngine& engine_;
  ViewPopulator& populator_;
  ViewIndex& index_;
  std::vector<SessionMount> mounts_;
  std::string session_dir_;
  // Loop thread:
  std::vector<absl::flat_hash_map<std::string, uint64_t>> changed_;  // per mount: path → generation
  uint64_t generation_ = 0;
  std::deque<Job> jobs_;
  bool running_ = false;
  bool loop_alive_ = true;  // false once Final starts: replies have nowhere to go
  bool marked_dirty_ = false;  // the session's `changed` file exists
  int journal_fd_ = -1;        // the session's `journal`, O_APPEND
  std::string renames_;        // every rename record, kept when the journal is emptied
  void WriteRecover();  // recover.json: the store, the volumes, their base snapshots
  void Journal(const std::string& record);
  void Settled();  // after a commit: empty the journal when nothing is left to commit

  absl::Mutex mu_;
  std::function<void()> work_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Publishes a session's pending.json (left by a failed final commit), or the
// journal of a session killed whole (refused while its `vol run` is alive).
absl::StatusOr<CommitReport> PublishPending(const std::string& session_dir);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_COMMITS_H_
