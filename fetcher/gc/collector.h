// CollectGarbage: `vol gc`. Marks every chunk and tree reachable from every
// commit of every volume of the store (all environments), and deletes the
// unreachable ones modified before the cutoff, the commit logs of volumes no
// name refers to any more, a file store's leftover temporary files, and stale
// writer locks.
//
// Invariants (the protocol and its argument: docs/FORMAT.md, "Garbage
// collection", and fetcher/format/gc_protocol.h):
//   - An object is deleted only if no commit the collector read reaches it
//     and it was last modified before
//       cutoff = min(start - grace, min over live locks (created - LockShadow())).
//     So a commit in flight anywhere — one that will land after the commit
//     logs were read — never loses an object it relies on.
//   - Nothing is deleted when anything reachable cannot be read (a missing or
//     damaged tree, commit or volume record): the collector cannot tell what
//     lies below it. The error names it; `vol verify` tells more.
//   - A volume id no name refers to (its volume was deleted) is reclaimed
//     once its whole log is older than the cutoff: its commits are deleted
//     and its objects become unreachable in the same run. Names are listed
//     twice, before and after marking, so that a rename in progress (new name
//     created, then old one deleted) is never mistaken for a deletion.
//   - History is kept: every commit is a root. With keep_history, commits
//     older than that (by their object's last-modified time) are dropped —
//     except each volume's newest, and those a live lock pins (a writer that
//     still relies on them, fetcher/volume/write_lock.h).
//   - With dry_run nothing is deleted; the report says what would be.
#ifndef VOL_FETCHER_GC_COLLECTOR_H_
#define VOL_FETCHER_GC_COLLECTOR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct GcOptions {
  absl::Duration grace = absl::Hours(1);
  bool dry_run = false;
  // The caller promises that nothing else writes to the store while this
  // runs, which makes a grace shorter than gc_protocol::MinSafeGrace() safe.
  bool exclusive = false;
  // Drop commits older than this (never a volume's newest); unset: keep all.
  std::optional<absl::Duration> keep_history;
};

struct GcReport {
  int64_t cutoff_ns = 0;  // objects last modified before this could go
  uint64_t live_locks = 0;
  uint64_t volumes = 0;  // named volumes
  uint64_t commits = 0;  // commits read (and so kept)
  uint64_t dropped_commits = 0;  // old history (keep_history)
  uint64_t reachable_objects = 0, reachable_bytes = 0;
  // Deleted (or, with dry_run, that would be).
  uint64_t freed_chunks = 0, freed_trees = 0, freed_bytes = 0;
  uint64_t deleted_volumes = 0, deleted_commits = 0;
  uint64_t temp_files = 0, temp_bytes = 0;
  uint64_t stale_locks = 0;
  // Unreachable but kept: modified after the cutoff.
  uint64_t young_objects = 0, young_bytes = 0;
};

absl::StatusOr<GcReport> CollectGarbage(ObjectStore& store, const GcOptions& options);

}  // namespace vol

#endif  // VOL_FETCHER_GC_COLLECTOR_H_
