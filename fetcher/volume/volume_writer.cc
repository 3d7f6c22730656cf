#include "fetcher/volume/volume_writer.h"

#include <unistd.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vol {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

absl::StatusOr<MutationResult> CommitMutation(ObjectStore& store, const VolumeInfo& volume,
                                              const std::string& message, const Mutation& mutate) {
  constexpr int kMaxAttempts = 1000;  // a race lost 1000 times in a row is a livelock: give up
  std::minstd_rand jitter(static_cast<unsigned>(getpid() ^ absl::GetCurrentTimeNanos()));
  MutationResult result;
  for (result.attempts = 1; result.attempts <= kMaxAttempts; ++result.attempts) {
    absl::StatusOr<CommitInfo> head = ReadHead(store, volume.id);
    if (!head.ok()) return head.status();
    TreeEditor editor(store, head->root);
    ChangeStats stats;
    if (absl::Status s = mutate(editor, stats); !s.ok()) return s;
    if (!editor.changed()) {
      result.commit = *head;
      return result;
    }
    absl::StatusOr<ObjectId> root = editor.Flush();
    if (!root.ok()) return root.status();
    if (*root == head->root) {
      // Edited back to the same snapshot (cp of a path onto itself, put of
      // what is already there): a commit would record a change that is not.
      result.commit = *head;
      return result;
    }
    CommitInfo next;
    next.seq = head->seq + 1;
    next.parent = head->seq;
    next.root = *root;
    next.time_ns = absl::GetCurrentTimeNanos();
    next.host = HostName();
    next.message = message;
    next.files = editor.total_files();
    next.bytes = editor.total_bytes();
    next.files_changed = stats.files;
    next.bytes_changed = stats.bytes;
    result.trees_written += editor.trees_written();
    absl::Status s = AppendCommit(store, volume.id, next);
    if (s.ok()) {
      result.committed = true;
      result.commit = next;
      return result;
    }
    if (!absl::IsAlreadyExists(s)) return s;
    // Another writer took this number: back off a little, then re-apply on its commit.
    std::this_thread::sleep_for(std::chrono::microseconds(
        std::uniform_int_distribution<int>(0, 1000 * std::min(result.attempts, 50))(jitter)));
  }
  return absl::AbortedError(absl::StrCat("gave up committing to volume '", volume.name, "' after ",
                                         kMaxAttempts, " lost races with other writers"));
}

}  // namespace vol
