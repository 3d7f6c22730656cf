// SessionJournal: what a session killed whole (SIGKILL of vol run, fetcher
// and program; the OOM killer; a container stop) leaves for
// `vol commit --session DIR` to publish its changes (session_recovery.h).
//
// Recovery compares each view with its base snapshot (no list of changed
// paths is trusted), so it needs only:
//   - recover.json: the store, and for each mount its path, view, volume,
//     base snapshot and `renames_in_base` (the journal sequence number up to
//     which the base includes the renames). Rewritten atomically whenever a
//     commit moves the base.
//   - journal: every rename the program made, in order, one write(2) per
//     record: "M" NUL seq NUL mount NUL from NUL to NUL (paths relative to the
//     mount). A kill leaves at most a torn last record, which the reader
//     drops. Records up to a mount's renames_in_base are already in its base.
//   - changed: a marker present while changes are not committed, so that the
//     next `vol run` keeps a dead session that has some.
// A write that fails (disk full) is not ignored: the journal is rewritten
// whole from the renames still pending at the next chance (Repair), and
// until then the failure has been reported once. Renames only matter for
// files whose content was never fetched; a lost one never loses a removal.
#ifndef VOL_FETCHER_SESSION_SESSION_JOURNAL_H_
#define VOL_FETCHER_SESSION_SESSION_JOURNAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/session/committer.h"

namespace vol {

struct JournalRename {
  uint64_t seq = 0;
  size_t mount = 0;
  ViewRename rename;
};

struct RecoverMount {
  SessionMount mount;
  uint64_t renames_in_base = 0;
};

class SessionJournal {
 public:
  // Writes nothing: an empty `session_dir` keeps no journal (tests).
  SessionJournal(std::string session_dir, std::string store_url);
  ~SessionJournal();

  // recover.json, atomically (WriteRecoverFile).
  absl::Status WriteRecover(const std::vector<RecoverMount>& mounts);
  // Appends a rename; on failure the journal is broken until Repair.
  void AppendRename(const JournalRename& r);
  // After a failed append: rewrites the journal with `pending` (every rename
  // not yet in a base). No-op when the journal is whole.
  void Repair(const std::vector<JournalRename>& pending);
  // Nothing is left to commit: the journal keeps `pending` only (none,
  // usually) and the marker goes.
  void Settle(const std::vector<JournalRename>& pending);
  // The first change: the marker appears.
  void MarkChanged();

  bool broken() const { return broken_; }

 private:
  absl::Status Rewrite(const std::vector<JournalRename>& pending);
  void Reopen();

  std::string dir_;
  std::string store_url_;
  int fd_ = -1;
  bool broken_ = false;
  bool marked_ = false;
  bool warned_ = false;
};

struct RecoverInfo {
  std::string store_url;
  std::vector<RecoverMount> mounts;
};

absl::Status WriteRecoverFile(const std::string& session_dir, const RecoverInfo& info);
absl::StatusOr<RecoverInfo> ReadRecover(const std::string& session_dir);
// The journal's renames for each of `mounts` mounts that its base does not
// include yet, in order. Old journals ("P"/"R" records) are read too.
std::vector<std::vector<JournalRename>> ReadJournalRenames(const std::string& session_dir,
                                                          const std::vector<RecoverMount>& mounts);

std::string EncodeRename(const JournalRename& r);

// The files (per mount index, mount-relative paths) a session left being
// written when it died: its writers log (write_tracker.h) replayed, plus the
// cut-short list of a session kept by an older vol.
std::vector<std::vector<std::string>> ReadCutShort(const std::string& session_dir, size_t mounts);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_JOURNAL_H_
