// vol get NAME REMOTE [LOCAL]: download a file or a directory tree.
//
// A directory lands like `cp -r`: LOCAL is created holding what REMOTE holds
// when it does not exist, and LOCAL/<name> is made when LOCAL is an existing
// directory. '-' writes a file to standard output. Existing local files are
// replaced only with --force, and every conflict is found before anything is
// written. setuid, setgid and world-writable bits stored in the volume are
// dropped unless --preserve-special-modes (MaterialMode).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fetcher/cli/cli.h"
#include "fetcher/transfer/download.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/tree_editor.h"

namespace vol {
namespace {

absl::StatusOr<int> Get(const GlobalOptions& g, const std::string& name, const std::string& remote,
                        std::string local, const DownloadOptions& options) {
  absl::StatusOr<HeadLookup> found = LookupAtHead(g, name, remote);
  if (!found.ok()) return found.status();
  ObjectStore& store = *found->volume.store;
  const VolumePath* path = &found->path;
  const Entry& entry = found->entry;

  if (local == "-") {
    if (!entry.is_file()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path->ToString(), " is a ", EntryTypeName(entry.type), "; only a file can go to standard output"));
    }
    Progress progress("Downloading", entry.size);
    if (absl::Status s = StreamFile(store, entry, STDOUT_FILENO, &progress); !s.ok()) return s;
    return 0;
  }

  while (local.size() > 1 && local.back() == '/') local.pop_back();
  struct stat st;
  if (stat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string base = path->is_root() ? "" : path->Name();
    if (!base.empty()) local = absl::StrCat(local, "/", base);
  }
  std::vector<RemoteItem> items;
  if (absl::Status s = PlanDownload(store, entry, local, items); !s.ok()) return s;
  uint64_t total = 0;
  for (const RemoteItem& item : items) total += item.entry.is_file() ? item.entry.size : 0;
  int64_t start = absl::GetCurrentTimeNanos();
  absl::StatusOr<uint64_t> written;
  {
    Progress progress("Downloading", total);
    written = DownloadItems(store, items, options, &progress);
  }
  if (!written.ok()) return written.status();
  if (isatty(STDERR_FILENO)) {
    double secs = static_cast<double>(absl::GetCurrentTimeNanos() - start) / 1e9;
    fprintf(stderr, "Downloaded %s to %s in %.1fs.\n", HumanBytes(*written).c_str(), local.c_str(), secs);
  }
  return 0;
}

}  // namespace

void AddGetCommand(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  auto name = std::make_shared<std::string>(), remote = std::make_shared<std::string>();
  auto local = std::make_shared<std::string>(".");
  auto options = std::make_shared<DownloadOptions>();
  CLI::App* c = AddCommand(
      app, selected, "get",
      "Download a file or directory: vol get NAME REMOTE [LOCAL].\n"
      "LOCAL defaults to the current directory; an existing directory receives\n"
      "REMOTE by its name, a new path receives REMOTE's contents; '-' is stdout.",
      [&g, name, remote, local, options] { return Get(g, *name, *remote, *local, *options); });
  c->add_option("NAME", *name, "Volume")->required();
  c->add_option("REMOTE", *remote, "Path in the volume")->required();
  c->add_option("LOCAL", *local, "Local destination (default .), or - for standard output");
  c->add_flag("-f,--force", options->force, "Overwrite existing local files");
  c->add_flag("--preserve-special-modes", options->preserve_special_modes,
              "Keep the setuid, setgid and world-writable bits stored in the volume (dropped by default)");
  AddStoreOptions(c, g);
}

}  // namespace vol
