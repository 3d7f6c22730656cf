#include "fetcher/gc/tree_walk.h"

#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace vol {
namespace {

struct Walk {
  ObjectStore& store;
  ThreadPool& pool;
  const TreeVisitor& visitor;
  absl::Mutex mu;
  absl::flat_hash_set<ObjectId> seen ABSL_GUARDED_BY(mu);

  // Schedules `id` unless it was seen before.
  void Visit(const ObjectId& id) {
    if (id == EmptyTreeId()) return;
    {
      absl::MutexLock lock(&mu);
      if (!seen.insert(id).second) return;
    }
    pool.Submit([this, id] {
      absl::StatusOr<Tree> tree = ReadTree(store, id);
      if (!tree.ok()) {
        visitor.on_error(id, tree.status());
        return;
      }
      visitor.on_tree(id, *tree);
      for (const Entry& e : tree->entries) {
        if (e.is_dir()) Visit(e.tree);
      }
    });
  }
};

}  // namespace

void WalkTrees(ObjectStore& store, const std::vector<ObjectId>& roots, ThreadPool& pool,
               const TreeVisitor& visitor) {
  Walk walk{store, pool, visitor, {}, {}};
  for (const ObjectId& root : roots) walk.Visit(root);
  pool.Wait();
}

}  // namespace vol
