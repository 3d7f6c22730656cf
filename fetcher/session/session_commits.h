// SessionCommits: the write side of a session in the fetcher. It tracks what
// the program changed (VOL_OP_CHANGED from the shims), and publishes it with
// CommitChanges: on request (VOL_OP_COMMIT: `vol commit`, sync, syncfs,
// vol_commit()), every `commit_every` seconds in the background, and once
// more when the session ends.
//
// Invariants:
//   - The changed paths, the renames and the FetchEngine are touched on the
//     loop thread only; commits run one at a time on a commit thread, from a
//     snapshot of them, and report back through FetchEngine::Post.
//   - Every reported path is made canonical first (changed_path.h): a write
//     through a symlinked directory is the change of the path it reached.
//   - Each mount has a base (the snapshot its view mirrors) and the renames
//     made since it, in order. A commit replays them and the changed paths on
//     the head, and moves the base to the same changes applied to the base.
//   - A path stays changed until a commit publishes the version it had when
//     that commit started (a generation number per change): a change made
//     during a commit is published by the next one. A rename stays pending
//     until a commit that included it succeeds.
//   - Background commits and the final one skip files open for writing; no
//     commit publishes a file whose writers were killed before closing it
//     (write_tracker.h): the final commit keeps the session and names them.
//   - A special file (FIFO, socket, device) is never published and is named
//     on stderr once per path.
//   - So that a session killed whole loses nothing, the journal
//     (session_journal.h) holds recover.json (bases), the renames, and the
//     `changed` marker; `vol commit --session` (session_recovery.h) compares
//     the views with the bases. A failed final commit keeps the session the
//     same way, with the `keep` marker.
#ifndef VOL_FETCHER_SESSION_SESSION_COMMITS_H_
#define VOL_FETCHER_SESSION_SESSION_COMMITS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/session/changed_path.h"
#include "fetcher/session/committer.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/session_journal.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/session/write_tracker.h"
#include "vol/session.h"

namespace vol {

class SessionCommits {
 public:
  SessionCommits(ObjectStore& store, FetchEngine& engine, ViewPopulator& populator, ViewIndex& index,
                 std::vector<SessionMount> mounts, std::string session_dir);
  ~SessionCommits();  // finishes the running commit

  // VOL_OP_CHANGED / EXIT / COMMIT / RELOAD (loop thread).
  void Handle(const vol_request& req, std::function<void(const vol_response&)> reply);
  // A background commit, unless one is running or nothing changed (loop thread).
  void Tick();
  // The last commit, after the loop has stopped. On failure the session is
  // kept (the error says how to publish it).
  absl::StatusOr<CommitReport> Final();

  bool HasChanges() const;

 private:
  // What one commit of one mount starts from.
  struct Snapshot {
    size_t mount;
    SessionMount at;  // with the base as it was
    std::vector<std::pair<std::string, uint64_t>> changed;  // path, generation
    std::vector<JournalRename> renames;
  };
  struct Job {
    std::vector<size_t> mounts;
    bool skip_open = false;
    bool reload = false;  // then move the mounts to their volumes' heads
    std::function<void(absl::StatusOr<CommitReport>)> done;  // loop thread
  };
  struct Outcome {
    size_t mount;
    CommitReport report;
  };

  void Changed(size_t mount, const std::string& rel);
  void Enqueue(Job job);
  void StartNext();
  std::vector<Snapshot> TakeSnapshots(const std::vector<size_t>& mounts) const;
  // Commits each snapshot (commit thread, or the caller's after the loop).
  absl::StatusOr<CommitReport> Run(const std::vector<Snapshot>& snaps, bool skip_open,
                                   std::vector<Outcome>* outcomes);
  // Applies what commits published (loop thread).
  void Published(const std::vector<Snapshot>& snaps, const std::vector<Outcome>& outcomes);
  void Settled();
  std::vector<JournalRename> PendingRenames() const;
  std::vector<RecoverMount> RecoverMounts() const;
  void Worker();
  int MountOf(const std::string& mount_path, std::string* rel) const;

  ObjectStore& store_;
  FetchEngine& engine_;
  ViewPopulator& populator_;
  ViewIndex& index_;
  std::vector<SessionMount> mounts_;
  std::string session_dir_;
  ChangedPathResolver resolver_;
  SessionJournal journal_;
  // Loop thread:
  std::vector<absl::flat_hash_map<std::string, uint64_t>> changed_;  // per mount: path → generation
  std::vector<std::vector<JournalRename>> renames_;  // per mount: not in its base yet, in order
  std::vector<uint64_t> renames_in_base_;            // per mount: the last rename its base includes
  uint64_t generation_ = 0;
  uint64_t rename_seq_ = 0;
  absl::flat_hash_set<std::string> reported_special_;  // "mount\tpath"
  std::string last_background_error_;
  std::deque<Job> jobs_;
  bool running_ = false;
  bool loop_alive_ = true;  // false once Final starts: replies have nowhere to go

  // Commit thread (or the caller of Final, after it):
  WriteTracker writers_;  // who is writing what (filled by the loop thread, read by commits)
  std::unique_ptr<WriteLock> lock_;  // vol gc's protocol, taken at the first commit
  absl::flat_hash_map<std::string, uint64_t> committed_seqs_;  // volume id → last commit made

  absl::Mutex mu_;
  std::function<void()> work_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_COMMITS_H_
