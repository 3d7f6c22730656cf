// WalkTrees: reads every tree reachable from a set of roots exactly once,
// in parallel — the traversal `vol gc` marks with and `vol verify` checks with.
//
// Invariants: each distinct tree id is read at most once however many roots,
// commits and directories share it; the empty tree is implied and never read;
// a tree that cannot be read is reported to on_error and the walk goes on
// with the others. Callbacks run on the pool's threads, concurrently.
#ifndef VOL_FETCHER_GC_TREE_WALK_H_
#define VOL_FETCHER_GC_TREE_WALK_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/util/thread_pool.h"

namespace vol {

struct TreeVisitor {
  std::function<void(const ObjectId& id, const Tree& tree)> on_tree;
  std::function<void(const ObjectId& id, const absl::Status& error)> on_error;
};

// Returns when every reachable tree has been visited. `pool` must be idle.
void WalkTrees(ObjectStore& store, const std::vector<ObjectId>& roots, ThreadPool& pool,
               const TreeVisitor& visitor);

}  // namespace vol

#endif  // VOL_FETCHER_GC_TREE_WALK_H_
