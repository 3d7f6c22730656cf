// vol: volumes for unmodified programs. This file wires the subcommands
// together; each lives in fetcher/cli/.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "absl/synchronization/mutex.h"
#include "fetcher/cli/cli.h"
#include "fetcher/util/version.h"

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex for lock-order cycles, at a cost on
  // each lock and each destruction (a fetcher makes and drops a Mutex per
  // file: 4% of populating a 100,000-entry directory). Release builds of
  // Abseil skip it; so does vol.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{
      "vol: write-once, read-many volumes on object storage, mounted into unmodified\n"
      "programs without root or FUSE.\n\n"
      "  vol create weights\n"
      "  vol put weights ./llama/ /llama/\n"
      "  vol ls weights /llama -l\n"
      "  vol get weights /llama/config.json -\n\n"
      "Store: --store URL or $VOL_STORE (file:///path, s3://bucket/prefix);\n"
      "default file://$HOME/.local/share/vol/store. Environment: --env or $VOL_ENV (main).",
      "vol"};
  app.set_version_flag("--version", vol::VersionText(), "Print the version, the commit it was built from and the store formats");
  app.require_subcommand(1);
  app.fallthrough(false);
  vol::GlobalOptions globals;
  vol::CommandBody selected;
  vol::AddVolumeCommands(app, selected, globals);
  vol::AddBrowseCommands(app, selected, globals);
  vol::AddPutCommand(app, selected, globals);
  vol::AddGetCommand(app, selected, globals);
  vol::AddRunCommands(app, selected, globals);
  vol::AddSessionCommands(app, selected, globals);
  vol::AddMaintenanceCommands(app, selected, globals);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // A usage error is one line on stderr like every other error: what was
    // wrong, and where the usage is (CLI11 alone prints two lines, and calls
    // an unknown command "A subcommand is required").
    std::string where = "vol";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::string what = e.what();
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      what = std::string("unknown command '") + argv[1] + "'";
    }
    fprintf(stderr, "vol: error: %s (see: %s --help)\n", what.c_str(), where.c_str());
    return 2;
  }
  absl::StatusOr<int> rc = selected();
  if (!rc.ok()) {
    fprintf(stderr, "vol: error: %s\n", std::string(rc.status().message()).c_str());
    return 1;
  }
  return *rc;
}
