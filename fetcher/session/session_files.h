// The names of the files in a session directory: the only place they are
// spelled. include/vol/session.h names those the shim reads too (mounts,
// sock, presence, features, fetcher.pid); these are the rest, written and
// read by `vol run`, its fetcher and `vol commit --session`.
#ifndef VOL_FETCHER_SESSION_SESSION_FILES_H_
#define VOL_FETCHER_SESSION_SESSION_FILES_H_

namespace vol {

// The pid of the `vol run` that made the session (decimal text).
inline constexpr char kSessionOwnerFile[] = "owner";
// Where the views live when the control files moved to a short directory.
inline constexpr char kSessionViewsDirFile[] = "views-dir";
// Present while the session has changes not yet committed: a dead session
// that has it is kept by the next `vol run`.
inline constexpr char kSessionChangedFile[] = "changed";
// Present when the session must be kept whatever its owner (its final commit
// failed, or its fetcher died): `vol commit --session` publishes it.
inline constexpr char kSessionKeepFile[] = "keep";
// What recovery needs: the store, each mount's volume, view and base
// snapshot, and how many of the journal's renames the base includes.
inline constexpr char kSessionRecoverFile[] = "recover.json";
// Every rename the program made, appended as it happens (session_journal.h).
inline constexpr char kSessionJournalFile[] = "journal";
// Written by vols before 0.2 when a final commit failed; no longer read
// (recover.json and the view hold everything).
inline constexpr char kSessionPendingFile[] = "pending.json";
// The final commit's result ("FILES BYTES SEQ") or its error (one line).
inline constexpr char kSessionCommitFile[] = "commit";
inline constexpr char kSessionCommitErrorFile[] = "commit_error";
// The files being written, as a log of changes to the set (write_tracker.h):
// `vol commit --session` leaves out those still in flux when the session died.
inline constexpr char kSessionWritersFile[] = "writers";
// Written by vols before 0.2 at each commit instead ("MOUNT NUL PATH NUL"
// records); still read, so that a session they kept keeps its promise.
inline constexpr char kSessionCutShortFile[] = "cut-short";
// The fetcher's counters at exit (fetcher_process.h).
inline constexpr char kSessionStatsFile[] = "stats";

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_FILES_H_
