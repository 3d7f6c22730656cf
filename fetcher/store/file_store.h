// FileStore: the file:// object store, a directory on a local disk or NFS.
//
// Each key is a file at ROOT/KEY. Every write goes to ROOT/tmp/ first, is
// fsynced, and is then published with rename (Put) or link (PutIfAbsent):
// both are atomic on one file system, including NFS, so readers never see a
// partial object and exactly one of many racing PutIfAbsent calls wins.
// Many processes on many hosts may share one root.
#ifndef VOL_FETCHER_STORE_FILE_STORE_H_
#define VOL_FETCHER_STORE_FILE_STORE_H_

#include <memory>
#include <string>

#include "fetcher/store/object_store.h"

namespace vol {

// `root` is an absolute directory path; it is created if missing.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewFileStore(const std::string& root);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_FILE_STORE_H_
