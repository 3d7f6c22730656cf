// ViewIndex: what a commit needs to know about objects of a session's view
// that came from a snapshot unchanged, so that it neither re-uploads content
// the program never wrote nor reads an unpopulated directory as empty.
//
// SessionViewIndex answers for a live session (the fetcher's records);
// DeadViewIndex for a session whose fetcher is gone (from the presence table
// it left, whose slots name each object's origin in the snapshot trees).
#ifndef VOL_FETCHER_SESSION_VIEW_INDEX_H_
#define VOL_FETCHER_SESSION_VIEW_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "vol/session.h"

namespace vol {

class FetchEngine;
class ViewPopulator;

class ViewIndex {
 public:
  virtual ~ViewIndex() = default;
  // The snapshot entry this inode is an unmodified copy of: a content file
  // (programs write private copies, never these) or an unpopulated directory
  // (its tree: its contents). nullopt: written, created by the program, a
  // populated directory (its contents may have changed), or unknown.
  virtual std::optional<Entry> Origin(uint64_t dev, uint64_t ino) = 0;
  // True for a directory never populated: its contents are exactly its
  // Origin's tree, whatever the (empty) directory on disk shows.
  virtual bool Unpopulated(uint64_t dev, uint64_t ino) = 0;
};

class SessionViewIndex : public ViewIndex {
 public:
  SessionViewIndex(FetchEngine& engine, ViewPopulator& populator) : engine_(engine), populator_(populator) {}
  std::optional<Entry> Origin(uint64_t dev, uint64_t ino) override;
  bool Unpopulated(uint64_t dev, uint64_t ino) override;

 private:
  FetchEngine& engine_;
  ViewPopulator& populator_;
};

// Over the presence table of a dead session (read-only) and the store.
class DeadViewIndex : public ViewIndex {
 public:
  static absl::StatusOr<std::unique_ptr<DeadViewIndex>> Open(const std::string& presence_path,
                                                             ObjectStore& store);
  ~DeadViewIndex() override;
  std::optional<Entry> Origin(uint64_t dev, uint64_t ino) override;
  bool Unpopulated(uint64_t dev, uint64_t ino) override;
  // The last error reading an origin's tree (a recovery must not guess).
  absl::Status status() const { return status_; }

 private:
  DeadViewIndex(void* base, size_t len, ObjectStore& store) : base_(base), len_(len), store_(store) {}
  const ::vol_presence_file* Find(uint64_t dev, uint64_t ino) const;

  void* base_;
  size_t len_;
  ObjectStore& store_;
  absl::flat_hash_map<ObjectId, Tree> trees_;
  absl::Status status_;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_INDEX_H_
