// libvol: volumes, listing, reading, removing and copying (include/vol/volume.h).
//
// Invariants: no C++ exception and no absl::Status crosses the C boundary
// (every entry point runs under Guard and returns an errno-valued code); each
// call opens nothing it does not close; a handle owns its store connection.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/api/api_error.h"
#include "fetcher/api/api_volume.h"
#include "fetcher/api/session_mounts.h"
#include "fetcher/format/chunk.h"
#include "fetcher/util/errno_status.h"
#include "fetcher/util/version.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/copy_paths.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_writer.h"
#include "vol/volume.h"

using nlohmann::json;
using vol::api::Fail;
using vol::api::Guard;

namespace vol::api {

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStoreArg(const char* store) {
  if (store != nullptr && *store != '\0') return OpenStore(store);
  const char* env = std::getenv("VOL_STORE");
  if (env == nullptr || *env == '\0') {
    // Inside a session, the session's store (vol run --store URL).
    absl::StatusOr<std::optional<SessionInfo>> session = CurrentSession();
    if (session.ok() && session->has_value()) return OpenStore((*session)->store);
  }
  return OpenStore("");
}

std::string EnvArg(const char* env) {
  if (env != nullptr && *env != '\0') return env;
  if (const char* e = std::getenv("VOL_ENV"); e != nullptr && *e != '\0') return e;
  return "main";
}

absl::StatusOr<VolumePath> PathArg(const char* path) {
  if (path == nullptr) return WithErrno(absl::InvalidArgumentError("no path given"), EINVAL);
  return ParseVolumePath(path);
}

int ReadOnlyError(const vol_volume* v) {
  return Fail(EROFS, absl::StrCat("volume '", v->info.name, "' was opened read-only"));
}

char* Dup(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

std::string Dump(const json& j) {
  // Names are bytes (a tree may hold any): never throw on invalid UTF-8.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

absl::StatusOr<std::optional<Entry>> LookupAtHead(vol_volume* v, const VolumePath& path,
                                                  CommitInfo* head) {
  absl::StatusOr<CommitInfo> h = ReadHead(*v->store, v->info.id);
  if (!h.ok()) return h.status();
  if (head != nullptr) *head = *h;
  absl::StatusOr<std::optional<Entry>> e = TreeEditor(*v->store, h->root).Lookup(path);
  if (!e.ok()) return e.status();
  if (e->has_value() && path.is_root()) (*e)->mtime_ns = h->seq == 0 ? v->info.created_ns : h->time_ns;
  return e;
}

absl::Status NoSuchPath(const vol_volume* v, const VolumePath& path) {
  return absl::NotFoundError(
      absl::StrCat("no such path in volume '", v->info.name, "': ", path.ToString()));
}

json EntryJson(const Entry& e, const std::string& path) {
  json j = {{"path", path}, {"type", EntryTypeName(e.type)}, {"mtime_ns", e.mtime_ns},
            {"size", e.size}, {"mode", e.mode}};
  if (e.is_symlink()) j["target"] = e.target;
  return j;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : absl::StrCat(dir, "/", name);
}

absl::Status ListInto(ObjectStore& store, const ObjectId& tree_id, const std::string& dir,
                      bool recursive, json& out) {
  absl::StatusOr<Tree> tree = ReadTree(store, tree_id);
  if (!tree.ok()) return tree.status();
  for (const Entry& e : tree->entries) {
    std::string path = Join(dir, e.name);
    out.push_back(EntryJson(e, path));
    if (recursive && e.is_dir()) {
      if (absl::Status s = ListInto(store, e.tree, path, true, out); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace vol::api

using namespace vol;
using namespace vol::api;

struct vol_reader {
  ObjectStore* store;
  Entry file;
  size_t next = 0;  // the next chunk to hand out
  std::deque<std::future<absl::StatusOr<std::string>>> ahead;  // chunks next, next+1, …
  std::string current;
  static constexpr size_t kAhead = 4;
};

extern "C" {

const char* vol_last_error(void) { return LastError(); }
void vol_free(void* p) { std::free(p); }

const char* vol_version(void) { return Version(); }

const char* vol_version_json(void) {
  static const std::string* text = new std::string(Dump(json{{"version", Version()},
                                                             {"commit", GitCommit()},
                                                             {"format_reads", FormatVersionRead()},
                                                             {"format_writes", FormatVersionWritten()}}));
  return text->c_str();
}

int vol_open(const char* store, const char* env, const char* name, unsigned flags, vol_volume** out) {
  return Guard([&] {
    if (name == nullptr || out == nullptr) return Fail(EINVAL, "vol_open: no name or no out pointer");
    *out = nullptr;
    absl::StatusOr<std::unique_ptr<ObjectStore>> s = OpenStoreArg(store);
    if (!s.ok()) return Fail(s.status());
    std::string env_name = EnvArg(env);
    absl::StatusOr<VolumeInfo> info = LookupVolume(**s, env_name, name);
    if (absl::IsNotFound(info.status()) && (flags & VOL_OPEN_CREATE)) {
      info = CreateVolume(**s, env_name, name, /*allow_existing=*/true);
    }
    if (!info.ok()) return Fail(info.status());
    auto v = std::make_unique<vol_volume>();
    v->store = *std::move(s);
    v->info = *std::move(info);
    v->read_only = (flags & VOL_OPEN_READ_ONLY) != 0;
    *out = v.release();
    return 0;
  });
}

void vol_close(vol_volume* v) { delete v; }

int vol_describe(vol_volume* v, char** out) {
  return Guard([&] {
    if (v == nullptr || out == nullptr) return Fail(EINVAL, "vol_describe: no volume");
    *out = Dup(Dump(json{{"name", v->info.name}, {"env", v->info.env}, {"id", v->info.id},
                         {"store", v->store->Url()}, {"created_ns", v->info.created_ns},
                         {"read_only", v->read_only}}));
    return 0;
  });
}

int vol_create(const char* store, const char* env, const char* name, int allow_existing) {
  return Guard([&] {
    if (name == nullptr) return Fail(EINVAL, "vol_create: no name");
    absl::StatusOr<std::unique_ptr<ObjectStore>> s = OpenStoreArg(store);
    if (!s.ok()) return Fail(s.status());
    absl::StatusOr<VolumeInfo> v = CreateVolume(**s, EnvArg(env), name, allow_existing != 0);
    if (absl::IsAlreadyExists(v.status())) {
      return Fail(EEXIST, absl::StrCat("volume '", name, "' already exists in environment '",
                                       EnvArg(env), "' (use allow_existing=True to accept it)"));
    }
    return Fail(v.status());
  });
}

int vol_delete(const char* store, const char* env, const char* name, int allow_missing) {
  return Guard([&] {
    if (name == nullptr) return Fail(EINVAL, "vol_delete: no name");
    absl::StatusOr<std::unique_ptr<ObjectStore>> s = OpenStoreArg(store);
    if (!s.ok()) return Fail(s.status());
    absl::Status st = DeleteVolume(**s, EnvArg(env), name);
    if (allow_missing && absl::IsNotFound(st)) return 0;
    return Fail(st);
  });
}

int vol_list(const char* store, const char* env, char** out) {
  return Guard([&] {
    if (out == nullptr) return Fail(EINVAL, "vol_list: no out pointer");
    absl::StatusOr<std::unique_ptr<ObjectStore>> s = OpenStoreArg(store);
    if (!s.ok()) return Fail(s.status());
    absl::StatusOr<std::vector<VolumeInfo>> volumes = ListVolumes(**s, EnvArg(env));
    if (!volumes.ok()) return Fail(volumes.status());
    json j = json::array();
    for (const VolumeInfo& v : *volumes) {
      j.push_back({{"name", v.name}, {"id", v.id}, {"created_ns", v.created_ns}});
    }
    *out = Dup(Dump(j));
    return 0;
  });
}

int vol_listdir(vol_volume* v, const char* path, int recursive, char** out) {
  return Guard([&] {
    if (v == nullptr || out == nullptr) return Fail(EINVAL, "vol_listdir: no volume");
    absl::StatusOr<VolumePath> p = PathArg(path);
    if (!p.ok()) return Fail(p.status());
    absl::StatusOr<std::optional<Entry>> e = LookupAtHead(v, *p, nullptr);
    if (!e.ok()) return Fail(e.status());
    if (!e->has_value()) return Fail(NoSuchPath(v, *p));
    json j = json::array();
    std::string rel = p->ToString().substr(1);
    if ((*e)->is_dir()) {
      if (absl::Status s = ListInto(*v->store, (*e)->tree, rel, recursive != 0, j); !s.ok()) return Fail(s);
    } else {
      j.push_back(EntryJson(**e, rel));
    }
    *out = Dup(Dump(j));
    return 0;
  });
}

int vol_reader_open(vol_volume* v, const char* path, vol_reader** out, uint64_t* size) {
  return Guard([&] {
    if (v == nullptr || out == nullptr) return Fail(EINVAL, "vol_reader_open: no volume");
    *out = nullptr;
    absl::StatusOr<VolumePath> p = PathArg(path);
    if (!p.ok()) return Fail(p.status());
    absl::StatusOr<std::optional<Entry>> e = LookupAtHead(v, *p, nullptr);
    if (!e.ok()) return Fail(e.status());
    if (!e->has_value()) return Fail(NoSuchPath(v, *p));
    if ((*e)->is_dir()) {
      return Fail(EISDIR, absl::StrCat(p->ToString(), " is a directory in volume '", v->info.name, "'"));
    }
    if (!(*e)->is_file()) {
      return Fail(EINVAL, absl::StrCat(p->ToString(), " is a symlink to '", (*e)->target,
                                       "' in volume '", v->info.name, "'; read its target"));
    }
    auto r = std::make_unique<vol_reader>();
    r->store = v->store.get();
    r->file = **std::move(e);
    if (size != nullptr) *size = r->file.size;
    *out = r.release();
    return 0;
  });
}

int vol_reader_next(vol_reader* r, const void** data, size_t* len) {
  return Guard([&] {
    if (r == nullptr || data == nullptr || len == nullptr) return Fail(EINVAL, "vol_reader_next: no reader");
    // Keep kAhead chunks in flight, in order.
    size_t queued = r->next + r->ahead.size();
    while (r->ahead.size() < vol_reader::kAhead && queued < r->file.chunks.size()) {
      ChunkRef ref = r->file.chunks[queued++];
      ObjectStore* store = r->store;
      r->ahead.push_back(std::async(std::launch::async, [store, ref] { return FetchChunk(*store, ref); }));
    }
    if (r->ahead.empty()) {
      *data = nullptr;
      *len = 0;
      return 0;
    }
    absl::StatusOr<std::string> chunk = r->ahead.front().get();
    r->ahead.pop_front();
    ++r->next;
    if (!chunk.ok()) return Fail(chunk.status());
    r->current = *std::move(chunk);
    *data = r->current.data();
    *len = r->current.size();
    return 0;
  });
}

void vol_reader_close(vol_reader* r) { delete r; }

int vol_remove(vol_volume* v, const char* path, int recursive) {
  return Guard([&] {
    if (v == nullptr) return Fail(EINVAL, "vol_remove: no volume");
    if (v->read_only) return ReadOnlyError(v);
    absl::StatusOr<VolumePath> p = PathArg(path);
    if (!p.ok()) return Fail(p.status());
    if (p->is_root()) return Fail(EINVAL, "refusing to remove the volume root");
    absl::StatusOr<MutationResult> r = CommitMutation(
        *v->store, v->info, absl::StrCat("rm ", p->ToString()),
        [&](TreeEditor& tree, ChangeStats& stats) -> absl::Status {
          absl::StatusOr<std::optional<Entry>> e = tree.Lookup(*p);
          if (!e.ok()) return e.status();
          if (!e->has_value()) return NoSuchPath(v, *p);
          if ((*e)->is_dir() && !recursive) {
            return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                                 p->ToString(), " is a directory (use recursive=True to remove it and its contents)")),
                             EISDIR);
          }
          stats.files += (*e)->is_dir() ? (*e)->files : 1;
          return tree.Remove(*p);
        });
    return Fail(r.status());
  });
}

int vol_copy(vol_volume* v, const char* const* srcs, size_t n, const char* dst, int recursive) {
  return Guard([&] {
    if (v == nullptr) return Fail(EINVAL, "vol_copy: no volume");
    if (v->read_only) return ReadOnlyError(v);
    if (n == 0 || srcs == nullptr) return Fail(EINVAL, "copy_files needs at least one source");
    absl::StatusOr<VolumePath> to = PathArg(dst);
    if (!to.ok()) return Fail(to.status());
    std::vector<VolumePath> sources;
    std::string message = "cp";
    for (size_t i = 0; i < n; ++i) {
      absl::StatusOr<VolumePath> p = PathArg(srcs[i]);
      if (!p.ok()) return Fail(p.status());
      absl::StrAppend(&message, " ", p->ToString());
      sources.push_back(*std::move(p));
    }
    absl::StrAppend(&message, " ", to->ToString());
    CopyOptions options;
    options.recursive = recursive != 0;
    options.dst_is_dir = absl::EndsWith(dst, "/");
    options.volume_name = v->info.name;
    options.recursive_hint = "recursive=True";
    absl::StatusOr<MutationResult> r =
        CommitMutation(*v->store, v->info, message, [&](TreeEditor& tree, ChangeStats& stats) {
          return CopyPaths(tree, sources, *to, options, stats);
        });
    return Fail(r.status());
  });
}

}  // extern "C"
