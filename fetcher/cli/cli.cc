#include "fetcher/cli/cli.h"

#include <cstdlib>

#include "absl/time/time.h"

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

std::string FormatTime(int64_t ns) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixNanos(ns), absl::LocalTimeZone());
}

}  // namespace vol
