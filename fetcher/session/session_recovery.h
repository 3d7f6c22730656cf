// RecoverSession: `vol commit --session DIR` — publishes the changes of a
// session that could not: its final commit failed (the store was down), or
// it was killed whole, or its fetcher died.
//
// No list of changed paths is trusted (the fetcher that kept it may have
// died, or its disk filled): each writable mount's view is compared whole
// with its base snapshot (recover.json), with the journal's renames replayed
// first where there are any, and the difference is committed like any
// other (CommitChanges, full). Which view files hold their content and which
// are still the snapshot's comes from the session's presence table
// (NewDeadViewIndex). Refused while the session's `vol run` or fetcher is
// alive. On success the session directory is removed — unless files cut
// short by a kill (their writers died before closing them, write_tracker.h)
// were left out: then it stays, with them, and the report names them
// (`skipped`); `include_cut_short` publishes them as the kill left them.
#ifndef VOL_FETCHER_SESSION_SESSION_RECOVERY_H_
#define VOL_FETCHER_SESSION_SESSION_RECOVERY_H_

#include <string>

#include "absl/status/statusor.h"
#include "fetcher/session/committer.h"

namespace vol {

absl::StatusOr<CommitReport> RecoverSession(const std::string& session_dir, bool include_cut_short = false);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_RECOVERY_H_
