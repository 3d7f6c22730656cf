// VerifyVolume: `vol verify`. Reads every tree and chunk reachable from a
// volume's head (or from every commit), checks each against its name, and
// reports every missing or damaged object with the paths that use it.
//
// Invariants:
//   - Each distinct object is read once, however many paths and commits
//     share it; chunks are read in parallel.
//   - Nothing is written: repairing is `vol put` of the same content (a
//     writer stores again an object that is not what it would store, see
//     fetcher/format/content_object.h).
//   - The paths of a bad object are found by a second walk only when
//     something is bad, so a healthy volume costs one read per object.
#ifndef VOL_FETCHER_GC_VERIFIER_H_
#define VOL_FETCHER_GC_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/volumes.h"

namespace vol {

struct BadObject {
  std::string key;     // "chunks/ab/ab12…"
  std::string kind;    // "chunk", "tree" or "commit"
  bool missing = false;  // else damaged
  std::string detail;  // the reader's one-line error
  // "/path" (head), or "/path (commit N)" with history; at most kMaxUses.
  std::vector<std::string> used_by;
  uint64_t more_uses = 0;  // uses beyond those listed
};

struct VerifyReport {
  uint64_t head = 0;     // the newest commit
  uint64_t commits = 0;  // commits checked
  uint64_t trees = 0, chunks = 0, bytes = 0;  // distinct objects read
  std::vector<BadObject> bad;  // in key order
};

inline constexpr size_t kMaxUses = 10;

absl::StatusOr<VerifyReport> VerifyVolume(ObjectStore& store, const VolumeInfo& volume,
                                          bool history);

}  // namespace vol

#endif  // VOL_FETCHER_GC_VERIFIER_H_
