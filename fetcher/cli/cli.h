// The pieces every `vol` subcommand shares: global options, how a command is
// registered with CLI11, and how its result becomes an exit status and one
// line on stderr.
#ifndef VOL_FETCHER_CLI_CLI_H_
#define VOL_FETCHER_CLI_CLI_H_

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volumes.h"

namespace vol {

struct GlobalOptions {
  std::string store;  // --store / VOL_STORE
  std::string env;    // --env / VOL_ENV
};

// A command's body runs after parsing; it returns a process exit status or an error.
using CommandBody = std::function<absl::StatusOr<int>()>;

// Adds a subcommand whose body is stored in `selected` when it is chosen.
CLI::App* AddCommand(CLI::App& app, CommandBody& selected, const std::string& name,
                     const std::string& help, std::function<absl::StatusOr<int>()> body);

// Adds --store and --env to a subcommand.
void AddStoreOptions(CLI::App* cmd, GlobalOptions& g);
std::string EnvName(const GlobalOptions& g);

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStoreFor(const GlobalOptions& g);

struct OpenedVolume {
  std::unique_ptr<ObjectStore> store;
  VolumeInfo info;
};
// Opens the store and looks up volume `name` in the chosen environment.
absl::StatusOr<OpenedVolume> OpenVolumeFor(const GlobalOptions& g, const std::string& name);

// The registrations, one per file in fetcher/cli/.
void AddVolumeCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddBrowseCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddPutCommand(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddGetCommand(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddRunCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddSessionCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g);
void AddMaintenanceCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g);

// A path in a volume's newest snapshot. The root's entry carries the
// snapshot's root tree id and the commit's time as its mtime.
struct HeadLookup {
  OpenedVolume volume;
  CommitInfo head;
  VolumePath path;
  Entry entry;
};
// NotFound names the volume and the path.
absl::StatusOr<HeadLookup> LookupAtHead(const GlobalOptions& g, const std::string& name,
                                        const std::string& path);

// "2026-11-26 13:28:41" in local time.
std::string FormatTime(int64_t ns);

}  // namespace vol

#endif  // VOL_FETCHER_CLI_CLI_H_
