// What libvol needs to know about the `vol run`/`vol shell` session it runs
// in ($VOL_SESSION): the session's store, and which mount holds which volume.
// Read from the session's recover.json (written by the fetcher when the
// session starts: {"store", "mounts": [{"mount", "id", "env", "name",
// "read_only", …}]}), so a program can commit a volume by name.
#ifndef VOL_FETCHER_API_SESSION_MOUNTS_H_
#define VOL_FETCHER_API_SESSION_MOUNTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vol::api {

struct SessionMount {
  std::string mount;      // as the program sees it: "/mnt/weights"
  std::string volume_id;  // VolumeInfo::id
  bool read_only = false;
};

struct SessionInfo {
  std::string dir;    // $VOL_SESSION
  std::string store;  // the session's store URL
  std::vector<SessionMount> mounts;
};

// nullopt outside a session; an error when the session's files cannot be read.
absl::StatusOr<std::optional<SessionInfo>> CurrentSession();

}  // namespace vol::api

#endif  // VOL_FETCHER_API_SESSION_MOUNTS_H_
