// make_volume: writes a volume of many small files straight into a store with
// vol's own encoder, in seconds where `vol put` of a local tree of a million
// files would take many minutes (and a million local files first).
//
//   make_volume STORE_URL ENV VOLUME DIRS FILES_PER_DIR
//
// The volume (created, or refused if it already has a commit) gets one commit
// holding DIRS directories /dNNNNN, each with FILES_PER_DIR files fNNNNNN of
// 64 bytes. File contents repeat every 1,000 files (so the store holds at most
// 1,000 chunks), but every directory's tree is distinct (the mtimes differ),
// so a reader pays for each directory it loads, as it would on real data.
// Prints the root tree id and the totals.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volume_writer.h"
#include "fetcher/volume/volumes.h"

namespace vol {
namespace {

constexpr uint64_t kDistinctContents = 1000;
constexpr size_t kFileSize = 64;

std::string Content(uint64_t i) {
  std::string s = absl::StrFormat("vol bench file content %06d\n", i % kDistinctContents);
  s.resize(kFileSize, '.');
  s.back() = '\n';
  return s;
}

absl::Status Make(const std::string& url, const std::string& env, const std::string& name,
                  uint64_t dirs, uint64_t files_per_dir) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(url);
  if (!store.ok()) return store.status();
  absl::StatusOr<VolumeInfo> volume = CreateVolume(**store, env, name, /*allow_existing=*/true);
  if (!volume.ok()) return volume.status();
  absl::StatusOr<CommitInfo> head = ReadHead(**store, volume->id);
  if (!head.ok()) return head.status();
  if (head->seq != 0) {
    return absl::AlreadyExistsError(absl::StrCat("volume '", name, "' already has commits; delete it first"));
  }

  std::vector<ChunkRef> contents;
  for (uint64_t i = 0; i < std::min(files_per_dir, kDistinctContents); ++i) {
    absl::StatusOr<StoredChunk> c = StoreChunk(**store, Content(i));
    if (!c.ok()) return c.status();
    contents.push_back(c->ref);
  }

  const int64_t base_ns = absl::GetCurrentTimeNanos() - int64_t{86400} * 1000000000;
  std::vector<Entry> top;
  for (uint64_t d = 0; d < dirs; ++d) {
    Tree tree;
    tree.entries.reserve(files_per_dir);
    for (uint64_t f = 0; f < files_per_dir; ++f) {
      Entry e;
      e.name = absl::StrFormat("f%06d", f);
      e.type = EntryType::kFile;
      e.mode = 0644;
      e.mtime_ns = base_ns + static_cast<int64_t>((d * files_per_dir + f) * 1000);
      e.size = kFileSize;
      e.chunks = {contents[f % contents.size()]};
      e.files = 1;
      tree.entries.push_back(std::move(e));
    }
    absl::StatusOr<ObjectId> id = WriteTree(**store, tree);
    if (!id.ok()) return id.status();
    Entry dir;
    dir.name = absl::StrFormat("d%05d", d);
    dir.type = EntryType::kDir;
    dir.mode = 0755;
    dir.mtime_ns = base_ns + static_cast<int64_t>(d);
    dir.tree = *id;
    dir.files = tree.TotalFiles();
    dir.size = tree.TotalBytes();
    top.push_back(std::move(dir));
  }

  absl::StatusOr<MutationResult> r = CommitMutation(
      **store, *volume, "bench: generated", [&](TreeEditor& editor, ChangeStats& stats) -> absl::Status {
        for (const Entry& e : top) {
          absl::StatusOr<VolumePath> path = ParseVolumePath("/" + e.name);
          if (!path.ok()) return path.status();
          if (absl::Status s = editor.Put(*path, e); !s.ok()) return s;
          stats.files += e.files;
          stats.bytes += e.size;
        }
        return absl::OkStatus();
      });
  if (!r.ok()) return r.status();
  printf("make_volume: %s: %llu directories x %llu files, root %s\n", name.c_str(),
         static_cast<unsigned long long>(dirs), static_cast<unsigned long long>(files_per_dir),
         r->commit.root.Hex().c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace vol

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: make_volume STORE_URL ENV VOLUME DIRS FILES_PER_DIR\n");
    return 2;
  }
  char* end1;
  char* end2;
  unsigned long long dirs = strtoull(argv[4], &end1, 10), files = strtoull(argv[5], &end2, 10);
  if (*end1 != '\0' || *end2 != '\0' || files == 0) {
    fprintf(stderr, "make_volume: DIRS and FILES_PER_DIR must be numbers (FILES_PER_DIR > 0)\n");
    return 2;
  }
  absl::Status s = vol::Make(argv[1], argv[2], argv[3], dirs, files);
  if (!s.ok()) {
    fprintf(stderr, "make_volume: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
