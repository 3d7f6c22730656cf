#include "fetcher/gc/verifier.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/gc/tree_walk.h"
#include "fetcher/util/thread_pool.h"
#include "fetcher/volume/commit_log.h"

namespace vol {
namespace {

// Missing or damaged, from a reader's error. Anything else (the store is
// down, credentials) is not a verdict about the object: verify stops.
bool IsVerdict(const absl::Status& s) { return absl::IsNotFound(s) || absl::IsDataLoss(s); }

absl::Status CheckChunk(ObjectStore& store, const ChunkRef& ref) {
  std::string key = ChunkKey(ref.id);
  absl::StatusOr<std::string> bytes = store.Get(key);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::string> raw = DecodeObjectWithId(ObjectKind::kChunk, *bytes, ref.id, key);
  if (!raw.ok()) return raw.status();
  if (raw->size() != ref.size) {
    return absl::DataLossError(absl::StrCat("chunk ", key, " has ", raw->size(),
                                            " bytes where the tree says ", ref.size));
  }
  return absl::OkStatus();
}

// Whether the tree's own object is there at all: ReadTree turns "missing"
// into DataLoss, and verify tells the two apart.
bool TreeMissing(ObjectStore& store, const ObjectId& id) {
  return absl::IsNotFound(store.Head(TreeKey(id)).status());
}

struct Root {
  uint64_t seq;
  ObjectId tree;
};

// The second walk: the paths under `root` that use a bad object. Trees with
// nothing bad below them are skipped through `clean`, so this costs one read
// per tree on a path to damage.
class PathFinder {
 public:
  PathFinder(ObjectStore& store, const absl::flat_hash_set<ObjectId>& bad_chunks,
             const absl::flat_hash_set<ObjectId>& bad_trees, bool history,
             std::map<std::string, BadObject>& bad)
      : store_(store), bad_chunks_(bad_chunks), bad_trees_(bad_trees), history_(history), bad_(bad) {}

  void Walk(const Root& root) { Visit(root.tree, "", root.seq); }

 private:
  // Returns whether anything bad is at or below `id`.
  bool Visit(const ObjectId& id, const std::string& path, uint64_t seq) {
    if (id == EmptyTreeId() || clean_.contains(id)) return false;
    std::string shown = path.empty() ? "/" : path;
    if (bad_trees_.contains(id)) {
      Use(TreeKey(id), shown, seq);
      return true;
    }
    absl::StatusOr<Tree> tree = ReadTree(store_, id);
    if (!tree.ok()) return false;  // was readable in the first walk; changed since
    bool any = false;
    for (const Entry& e : tree->entries) {
      std::string child = absl::StrCat(path, "/", e.name);
      if (e.is_dir()) {
        any = Visit(e.tree, child, seq) || any;
        continue;
      }
      for (const ChunkRef& c : e.chunks) {
        if (!bad_chunks_.contains(c.id)) continue;
        Use(ChunkKey(c.id), child, seq);
        any = true;
      }
    }
    if (!any) clean_.insert(id);
    return any;
  }

  void Use(const std::string& key, const std::string& path, uint64_t seq) {
    BadObject& b = bad_[key];
    std::string use = history_ ? absl::StrCat(path, " (commit ", seq, ")") : path;
    if (!seen_[key].insert(history_ ? path : use).second) return;  // newest commit first: keep it
    if (b.used_by.size() < kMaxUses) {
      b.used_by.push_back(std::move(use));
    } else {
      ++b.more_uses;
    }
  }

  ObjectStore& store_;
  const absl::flat_hash_set<ObjectId>& bad_chunks_;
  const absl::flat_hash_set<ObjectId>& bad_trees_;
  const bool history_;
  std::map<std::string, BadObject>& bad_;
  absl::flat_hash_set<ObjectId> clean_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> seen_;
};

}  // namespace

absl::StatusOr<VerifyReport> VerifyVolume(ObjectStore& store, const VolumeInfo& volume,
                                          bool history) {
  VerifyReport report;
  std::map<std::string, BadObject> bad;  // by key
  std::vector<Root> roots;               // newest first
  absl::StatusOr<CommitInfo> head = ReadHead(store, volume.id);
  if (!head.ok()) return head.status();
  report.head = head->seq;
  if (history) {
    absl::StatusOr<std::vector<std::string>> keys = store.List(CommitPrefix(volume.id));
    if (!keys.ok()) return keys.status();
    for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
      uint64_t seq = 0;
      if (!absl::SimpleAtoi(it->substr(CommitPrefix(volume.id).size()), &seq)) continue;
      absl::StatusOr<CommitInfo> c = ReadCommit(store, volume.id, seq);
      if (IsVerdict(c.status())) {
        bad[*it] = {*it, "commit", absl::IsNotFound(c.status()), std::string(c.status().message()), {}, 0};
        continue;
      }
      if (!c.ok()) return c.status();
      roots.push_back({seq, c->root});
    }
  } else if (head->seq > 0) {
    roots.push_back({head->seq, head->root});
  }
  report.commits = roots.size();

  // First walk: every tree once, collecting the chunks.
  ThreadPool pool(ThreadPool::DefaultWorkers());
  absl::Mutex mu;
  absl::flat_hash_map<ObjectId, uint64_t> chunks;  // id → size
  absl::flat_hash_set<ObjectId> bad_trees;
  absl::Status stop;
  std::vector<ObjectId> root_trees;
  for (const Root& r : roots) root_trees.push_back(r.tree);
  WalkTrees(store, root_trees, pool,
            {[&](const ObjectId& id, const Tree& tree) {
               absl::MutexLock lock(&mu);
               ++report.trees;
               for (const Entry& e : tree.entries) {
                 for (const ChunkRef& c : e.chunks) chunks.emplace(c.id, c.size);
               }
             },
             [&](const ObjectId& id, const absl::Status& error) {
               bool missing = IsVerdict(error) && TreeMissing(store, id);
               absl::MutexLock lock(&mu);
               if (!IsVerdict(error)) {
                 if (stop.ok()) stop = error;
                 return;
               }
               ++report.trees;
               bad_trees.insert(id);
               bad[TreeKey(id)] = {TreeKey(id), "tree", missing, std::string(error.message()), {}, 0};
             }});
  if (!stop.ok()) return stop;

  // Every chunk once, in parallel.
  absl::flat_hash_set<ObjectId> bad_chunks;
  for (const auto& [id, size] : chunks) {
    pool.Submit([&, id = id, size = size] {
      absl::Status s = CheckChunk(store, {id, size});
      absl::MutexLock lock(&mu);
      ++report.chunks;
      report.bytes += size;
      if (s.ok()) return;
      if (!IsVerdict(s)) {
        if (stop.ok()) stop = s;
        return;
      }
      bad_chunks.insert(id);
      std::string detail(s.message());
      if (absl::IsNotFound(s)) detail = absl::StrCat("chunk ", ChunkKey(id), " is missing from store ", store.Url());
      bad[ChunkKey(id)] = {ChunkKey(id), "chunk", absl::IsNotFound(s), detail, {}, 0};
    });
  }
  pool.Wait();
  if (!stop.ok()) return stop;

  if (!bad_chunks.empty() || !bad_trees.empty()) {
    PathFinder finder(store, bad_chunks, bad_trees, history, bad);
    for (const Root& r : roots) finder.Walk(r);
  }
  for (auto& [key, b] : bad) report.bad.push_back(std::move(b));
  return report;
}

}  // namespace vol
