#include "fetcher/gc/collector.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fetcher/format/gc_protocol.h"
#include "fetcher/format/keys.h"
#include "fetcher/gc/tree_walk.h"
#include "fetcher/util/error_sink.h"
#include "fetcher/util/thread_pool.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volumes.h"

namespace vol {
namespace {

absl::Status NothingDeleted(const absl::Status& why) {
  return absl::Status(why.code(), absl::StrCat(why.message(),
                                               " — vol gc deleted nothing (vol verify --all "
                                               "says what is missing or damaged)"));
}

// Every volume id a name refers to, in every environment.
absl::StatusOr<absl::flat_hash_set<std::string>> NamedVolumeIds(ObjectStore& store,
                                                                 uint64_t* names) {
  absl::StatusOr<std::vector<std::string>> keys = store.List(kEnvsPrefix);
  if (!keys.ok()) return keys.status();
  absl::flat_hash_set<std::string> ids;
  *names = 0;
  for (const std::string& key : *keys) {
    // envs/ENV/volumes/NAME
    std::vector<std::string> parts = absl::StrSplit(key, '/');
    if (parts.size() != 4 || parts[2] != "volumes") continue;
    absl::StatusOr<VolumeInfo> v = LookupVolume(store, parts[1], parts[3]);
    if (absl::IsNotFound(v.status())) continue;        // deleted while listing
    if (absl::IsInvalidArgument(v.status())) continue;  // not a name vol would write
    if (!v.ok()) return v.status();
    ids.insert(v->id);
    ++*names;
  }
  return ids;
}

struct VolumeLog {
  std::vector<ListedObject> objects;  // volumes/VID/…: commits and the head hint
  int64_t newest_ns = 0;
  bool unknown_time = false;
};

// The commits a lock pins: its body's "pins", [[VOLUME_ID, SEQ], …].
absl::StatusOr<std::set<std::string>> LockPins(ObjectStore& store, const std::string& key) {
  absl::StatusOr<std::string> body = store.Get(key);
  if (absl::IsNotFound(body.status())) return std::set<std::string>{};  // released meanwhile
  if (!body.ok()) return body.status();
  nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
  std::set<std::string> out;
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("lock ", key, " is not a lock vol wrote"));
  }
  for (const nlohmann::json& pin : j.value("pins", nlohmann::json::array())) {
    if (!pin.is_array() || pin.size() != 2 || !pin[0].is_string() || !pin[1].is_number_unsigned()) {
      return absl::DataLossError(absl::StrCat("lock ", key, " has a malformed pin"));
    }
    out.insert(CommitKey(pin[0].get<std::string>(), pin[1].get<uint64_t>()));
  }
  return out;
}

// An id from "chunks/ab/ab12…" or "trees/ab/ab12…"; nullopt for anything else.
std::optional<ObjectId> IdOfKey(absl::string_view key, absl::string_view prefix) {
  if (!absl::StartsWith(key, prefix)) return std::nullopt;
  key.remove_prefix(prefix.size());
  if (key.size() != 35 || key[2] != '/' || key.substr(0, 2) != key.substr(3, 2)) return std::nullopt;
  return ObjectId::FromHex(key.substr(3));
}

// Deletes `keys` in parallel; the first failure is returned.
absl::Status DeleteAll(ObjectStore& store, ThreadPool& pool, const std::vector<std::string>& keys) {
  ErrorSink error;
  for (const std::string& key : keys) {
    pool.Submit([&store, &error, &key] { error.Add(store.Delete(key)); });
  }
  pool.Wait();
  return error.status();
}

}  // namespace

absl::StatusOr<GcReport> CollectGarbage(ObjectStore& store, const GcOptions& options) {
  using namespace gc_protocol;
  if (options.grace < MinSafeGrace() && !options.exclusive) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a grace period of ", absl::FormatDuration(options.grace), " is shorter than ",
        absl::FormatDuration(MinSafeGrace()),
        ", the shortest with which vol gc cannot break a commit in flight on another machine: "
        "pass --exclusive if nothing else writes to this store while gc runs"));
  }
  GcReport report;
  const absl::Time start = absl::Now();
  ThreadPool pool(ThreadPool::DefaultWorkers());

  // 1. The cutoff: the grace period, pushed back by every live writer's lock.
  absl::Time cutoff = start - options.grace;
  absl::StatusOr<std::vector<ListedObject>> locks = store.ListObjects(kLocksPrefix);
  if (!locks.ok()) return locks.status();
  std::vector<std::string> stale_locks;
  absl::flat_hash_set<std::string> pinned;  // CommitKey()s that live locks pin
  for (const ListedObject& lock : *locks) {
    if (lock.mtime_ns != 0 && absl::FromUnixNanos(lock.mtime_ns) < start - LockStale()) {
      stale_locks.push_back(lock.key);
      continue;
    }
    ++report.live_locks;
    if (options.keep_history) {
      absl::StatusOr<std::set<std::string>> pins = LockPins(store, lock.key);
      if (!pins.ok()) return NothingDeleted(pins.status());
      pinned.insert(pins->begin(), pins->end());
    }
    int64_t created = 0;
    absl::string_view name = absl::string_view(lock.key).substr(kLocksPrefix.size());
    if (!absl::SimpleAtoi(name.substr(0, name.find('-')), &created)) created = 0;  // unknown: keep all
    cutoff = std::min(cutoff, absl::FromUnixNanos(created) - LockShadow());
  }
  report.cutoff_ns = absl::ToUnixNanos(cutoff);
  auto before_cutoff = [&](int64_t mtime_ns) {
    return mtime_ns != 0 && absl::FromUnixNanos(mtime_ns) < cutoff;
  };

  // 2. Which volume ids are named, and the commit logs in the store.
  uint64_t names = 0;
  absl::StatusOr<absl::flat_hash_set<std::string>> named = NamedVolumeIds(store, &names);
  if (!named.ok()) return NothingDeleted(named.status());
  absl::StatusOr<std::vector<ListedObject>> log_keys = store.ListObjects(kVolumesPrefix);
  if (!log_keys.ok()) return log_keys.status();
  absl::flat_hash_map<std::string, VolumeLog> logs;
  for (ListedObject& o : *log_keys) {
    absl::string_view rest = absl::string_view(o.key).substr(kVolumesPrefix.size());
    std::string id(rest.substr(0, rest.find('/')));
    VolumeLog& log = logs[id];
    log.newest_ns = std::max(log.newest_ns, o.mtime_ns);
    log.unknown_time = log.unknown_time || o.mtime_ns == 0;
    log.objects.push_back(std::move(o));
  }
  // A log no name refers to — in two listings, so that a rename in progress
  // is seen under one name or the other — belongs to a deleted volume.
  std::vector<std::string> orphans;
  bool unnamed = false;
  for (const auto& [id, log] : logs) unnamed = unnamed || !named->contains(id);
  if (unnamed) {
    uint64_t ignored = 0;
    absl::StatusOr<absl::flat_hash_set<std::string>> again = NamedVolumeIds(store, &ignored);
    if (!again.ok()) return NothingDeleted(again.status());
    for (const auto& [id, log] : logs) {
      if (named->contains(id) || again->contains(id)) continue;
      if (log.unknown_time || !before_cutoff(log.newest_ns)) continue;  // recently written: keep
      orphans.push_back(id);
    }
  }
  report.volumes = names;

  // 3. Mark: every commit of every volume id not being reclaimed, then every
  // tree and chunk below their roots.
  struct CommitRef {
    std::string volume;
    uint64_t seq;
  };
  std::vector<CommitRef> commits;
  std::vector<std::string> dropped;  // old history
  for (const auto& [id, log] : logs) {
    if (std::find(orphans.begin(), orphans.end(), id) != orphans.end()) continue;
    std::string prefix = CommitPrefix(id);
    const ListedObject* newest = nullptr;  // keys sort in commit order
    for (const ListedObject& o : log.objects) {
      if (absl::StartsWith(o.key, prefix)) newest = &o;
    }
    for (const ListedObject& o : log.objects) {
      uint64_t seq = 0;
      if (!absl::StartsWith(o.key, prefix) || !absl::SimpleAtoi(o.key.substr(prefix.size()), &seq)) continue;
      if (options.keep_history && &o != newest && !pinned.contains(o.key) && o.mtime_ns != 0 &&
          absl::FromUnixNanos(o.mtime_ns) < start - *options.keep_history) {
        dropped.push_back(o.key);
        continue;
      }
      commits.push_back({id, seq});
    }
  }
  report.dropped_commits = dropped.size();
  std::vector<ObjectId> roots(commits.size());
  ErrorSink commit_error;
  for (size_t i = 0; i < commits.size(); ++i) {
    pool.Submit([&, i] {
      absl::StatusOr<CommitInfo> c = ReadCommit(store, commits[i].volume, commits[i].seq);
      if (!c.ok()) return commit_error.Add(c.status());
      roots[i] = c->root;
    });
  }
  pool.Wait();
  if (absl::Status s = commit_error.status(); !s.ok()) return NothingDeleted(s);
  report.commits = commits.size();

  absl::Mutex mark_mu;
  absl::flat_hash_set<ObjectId> marked_trees, marked_chunks;
  // Implied, so never walked; writers may still have stored it: keep it.
  marked_trees.insert(EmptyTreeId());
  ErrorSink tree_error;
  WalkTrees(store, roots, pool,
            {[&](const ObjectId& id, const Tree& tree) {
               absl::MutexLock lock(&mark_mu);
               marked_trees.insert(id);
               for (const Entry& e : tree.entries) {
                 for (const ChunkRef& c : e.chunks) marked_chunks.insert(c.id);
               }
             },
             [&](const ObjectId& id, const absl::Status& error) { tree_error.Add(error); }});
  if (absl::Status s = tree_error.status(); !s.ok()) return NothingDeleted(s);

  // 4. Sweep: unreachable chunks and trees last modified before the cutoff.
  std::vector<std::string> doomed;
  for (auto [prefix, marked, freed] :
       {std::tuple{kChunksPrefix, &marked_chunks, &report.freed_chunks},
        std::tuple{kTreesPrefix, &marked_trees, &report.freed_trees}}) {
    absl::StatusOr<std::vector<ListedObject>> objects = store.ListObjects(prefix);
    if (!objects.ok()) return objects.status();
    for (ListedObject& o : *objects) {
      std::optional<ObjectId> id = IdOfKey(o.key, prefix);
      if (!id) continue;  // not an object vol wrote: leave it alone
      if (marked->contains(*id)) {
        ++report.reachable_objects;
        report.reachable_bytes += o.size;
      } else if (before_cutoff(o.mtime_ns)) {
        ++*freed;
        report.freed_bytes += o.size;
        doomed.push_back(std::move(o.key));
      } else {
        ++report.young_objects;
        report.young_bytes += o.size;
      }
    }
  }
  // Deleted volumes' logs.
  std::vector<std::string> log_objects;
  for (const std::string& id : orphans) {
    ++report.deleted_volumes;
    for (const ListedObject& o : logs[id].objects) {
      if (absl::StartsWith(o.key, CommitPrefix(id))) ++report.deleted_commits;
      log_objects.push_back(o.key);
    }
  }
  // Leftovers of killed uploads in a file store.
  absl::StatusOr<std::vector<ListedObject>> temps = store.ListObjects(kTempPrefix);
  if (!temps.ok()) return temps.status();
  std::vector<std::string> temp_keys;
  for (const ListedObject& o : *temps) {
    if (o.mtime_ns == 0) continue;
    absl::Time t = absl::FromUnixNanos(o.mtime_ns);
    if (t >= cutoff || t >= start - TempFileAge()) continue;
    ++report.temp_files;
    report.temp_bytes += o.size;
    temp_keys.push_back(o.key);
  }
  report.stale_locks = stale_locks.size();
  if (options.dry_run) return report;

  // Commits before the objects they reach: a collector that stops half way
  // leaves only unreachable objects behind, never a commit missing its trees.
  for (const std::vector<std::string>* keys : {&dropped, &log_objects, &doomed, &temp_keys, &stale_locks}) {
    if (absl::Status s = DeleteAll(store, pool, *keys); !s.ok()) return s;
  }
  return report;
}

}  // namespace vol
