// vol put NAME LOCAL... [REMOTE]: upload files and directories as one commit.
//
// Where things land follows Modal's CLI: a REMOTE ending in '/' (and the
// default, the root) receives LOCAL under its base name, so `put v ./src
// /data/` makes /data/src/…, while a LOCAL directory ending in '/' gives its
// contents: `put v ./src/ /data/` fills /data/. Missing parents are created.
// An existing file is replaced only with --force; a file never replaces a
// directory, and a directory never replaces a file.
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "fetcher/cli/cli.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/volume/place_entry.h"
#include "fetcher/volume/volume_writer.h"
#include "fetcher/volume/write_lock.h"

namespace vol {
namespace {

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<int> Put(const GlobalOptions& g, const std::string& name,
                        std::vector<std::string> args, bool force) {
  std::string remote = "/";
  if (args.size() >= 2) {
    remote = args.back();
    args.pop_back();
  }
  bool remote_is_dir = absl::EndsWith(remote, "/") || args.size() > 1;
  absl::StatusOr<VolumePath> remote_path = ParseVolumePath(remote);
  if (!remote_path.ok()) return remote_path.status();

  absl::StatusOr<OpenedVolume> v = OpenVolumeFor(g, name);
  if (!v.ok()) return v.status();

  std::vector<LocalItem> items;
  for (const std::string& local : args) {
    VolumePath dest = *remote_path;
    if (local == "-") {
      if (remote_is_dir) {
        return absl::InvalidArgumentError(
            "standard input needs a file name: vol put NAME - /path/to/file");
      }
    } else {
      bool contents_of_dir = absl::EndsWith(local, "/");
      if (remote_is_dir && !contents_of_dir) dest = dest.Child(BaseName(local));
    }
    if (absl::Status s = ScanLocal(local, dest, items); !s.ok()) return s;
  }
  for (const LocalItem& item : items) {
    if (item.dest.is_root() && item.type != EntryType::kDir) {
      return absl::InvalidArgumentError("a file cannot replace the volume root; give a remote path");
    }
  }

  // Held from the first upload until the commit lands: vol gc keeps what it uploads.
  absl::StatusOr<std::unique_ptr<WriteLock>> lock =
      WriteLock::Acquire(*v->store, absl::StrCat("vol put ", name));
  if (!lock.ok()) return lock.status();
  uint64_t total = 0;
  for (const LocalItem& item : items) total += item.type == EntryType::kFile ? item.size : 0;
  UploadStats stats;
  int64_t start = absl::GetCurrentTimeNanos();
  absl::StatusOr<std::vector<Entry>> entries;
  {
    Progress progress("Uploading", total);
    entries = UploadItems(*v->store, items, stats, &progress);
  }
  if (!entries.ok()) return entries.status();
  if (absl::Status s = (*lock)->Check(); !s.ok()) return s;

  absl::StatusOr<MutationResult> r = CommitMutation(
      *v->store, v->info, absl::StrCat("put ", remote_path->ToString()),
      [&](TreeEditor& tree, ChangeStats& change) -> absl::Status {
        PlaceOptions place;
        place.force = force;
        for (size_t i = 0; i < items.size(); ++i) {
          const std::string& what = items[i].local == "-" ? "standard input" : items[i].local;
          absl::Status s = PlaceEntry(tree, items[i].dest, (*entries)[i], what, place, change);
          if (!s.ok()) return s;
        }
        return absl::OkStatus();
      });
  if (!r.ok()) return r.status();
  if (isatty(STDERR_FILENO)) {
    double secs = static_cast<double>(absl::GetCurrentTimeNanos() - start) / 1e9;
    fprintf(stderr, "Uploaded %llu files, %s (%s new) to '%s' in %.1fs.\n",
            static_cast<unsigned long long>(stats.files), HumanBytes(stats.bytes).c_str(),
            HumanBytes(stats.uploaded).c_str(), name.c_str(), secs);
  }
  return 0;
}

}  // namespace

void AddPutCommand(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  auto name = std::make_shared<std::string>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  CLI::App* c = AddCommand(
      app, selected, "put",
      "Upload files or directories: vol put NAME LOCAL... [REMOTE].\n"
      "REMOTE defaults to /. A REMOTE ending in '/' receives LOCAL by its name\n"
      "(put v ./src /data/ makes /data/src); a LOCAL directory ending in '/' gives\n"
      "its contents (put v ./src/ /data/ fills /data). '-' reads standard input.",
      [&g, name, args, force] { return Put(g, *name, *args, *force); });
  c->add_option("NAME", *name, "Volume")->required();
  c->add_option("PATHS", *args, "LOCAL... [REMOTE]")->required()->expected(1, -1);
  c->add_flag("-f,--force", *force, "Overwrite existing files in the volume");
  AddStoreOptions(c, g);
}

}  // namespace vol
