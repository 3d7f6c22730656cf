#include "fetcher/cli/cli.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fetcher/volume/tree_editor.h"

namespace vol {

CLI::App* AddCommand(CLI::App& app, CommandBody& selected, const std::string& name,
                     const std::string& help, std::function<absl::StatusOr<int>()> body) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->callback([&selected, body = std::move(body)] { selected = body; });
  return cmd;
}

void AddStoreOptions(CLI::App* cmd, GlobalOptions& g) {
  cmd->add_option("--store", g.store,
                  "Object store URL: file:///path or s3://bucket/prefix "
                  "(default: $VOL_STORE, else file://~/.local/share/vol/store)");
  cmd->add_option("--env", g.env, "Environment the volume names live in (default: $VOL_ENV, else main)");
}

std::string EnvName(const GlobalOptions& g) {
  if (!g.env.empty()) return g.env;
  if (const char* e = getenv("VOL_ENV"); e != nullptr && *e != '\0') return e;
  return "main";
}

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStoreFor(const GlobalOptions& g) {
  return OpenStore(g.store);
}

absl::StatusOr<OpenedVolume> OpenVolumeFor(const GlobalOptions& g, const std::string& name) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  absl::StatusOr<VolumeInfo> info = LookupVolume(**store, EnvName(g), name);
  if (!info.ok()) return info.status();
  return OpenedVolume{*std::move(store), *std::move(info)};
}

absl::StatusOr<HeadLookup> LookupAtHead(const GlobalOptions& g, const std::string& name,
                                        const std::string& path) {
  absl::StatusOr<OpenedVolume> v = OpenVolumeFor(g, name);
  if (!v.ok()) return v.status();
  absl::StatusOr<VolumePath> parsed = ParseVolumePath(path);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<CommitInfo> head = ReadHead(*v->store, v->info.id);
  if (!head.ok()) return head.status();
  absl::StatusOr<std::optional<Entry>> found = TreeEditor(*v->store, head->root).Lookup(*parsed);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no such path in volume '", name, "': ", parsed->ToString()));
  }
  HeadLookup out{*std::move(v), *head, *parsed, **found};
  if (out.path.is_root()) out.entry.mtime_ns = head->time_ns;
  return out;
}

std::string FormatTime(int64_t ns) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixNanos(ns), absl::LocalTimeZone());
}

}  // namespace vol
