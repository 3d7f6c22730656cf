// Which files some process has open for writing: the one certain answer,
// because a process killed with SIGKILL never says it closed anything. Read
// from /proc/PID/fdinfo (flags) and /proc/PID/fd (the inode) of every process
// this user can see, except the caller, and from /proc/PID/maps: a shared
// writable mapping keeps a file being written after its fd is closed.
#ifndef VOL_FETCHER_SESSION_OPEN_WRITERS_H_
#define VOL_FETCHER_SESSION_OPEN_WRITERS_H_

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace vol {

using FileKey = std::pair<uint64_t, uint64_t>;  // (dev, ino)

absl::flat_hash_set<FileKey> FilesOpenForWriting();

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_OPEN_WRITERS_H_
