// vol run / vol shell: run a program (or an interactive shell) with volumes
// mounted through the preload shim. The work is fetcher/session/launcher.h's.
#include <cstdlib>

#include "fetcher/cli/cli.h"
#include "fetcher/session/launcher.h"

namespace vol {
namespace {

struct RunArgs {
  std::vector<std::string> volumes;
  bool read_only = false;
  int commit_every = 5;
  bool no_commit = false;
  bool preserve_special_modes = false;
  std::vector<std::string> argv;
  CLI::App* cmd = nullptr;  // for the arguments CLI11 leaves over
};

RunOptions OptionsFor(const GlobalOptions& g, const RunArgs& a) {
  RunOptions o;
  o.store_url = g.store;
  o.env = EnvName(g);
  o.volumes = a.volumes;
  o.read_only = a.read_only;
  o.commit_every = a.commit_every;
  o.no_commit = a.no_commit;
  o.preserve_special_modes = a.preserve_special_modes;
  o.argv = a.argv;
  return o;
}

}  // namespace

void AddRunCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  auto run = std::make_shared<RunArgs>();
  CLI::App* r = AddCommand(
      app, selected, "run",
      "Run a program with volumes mounted: vol run -v NAME[:MOUNT]… -- PROGRAM [ARGS…].\n"
      "MOUNT defaults to /mnt/NAME; it need not exist and needs no root. The exit\n"
      "status is the program's (128+N when signal N killed it).",
      [&g, run] {
        RunOptions o = OptionsFor(g, *run);
        for (const std::string& a : run->cmd->remaining()) {
          if (a != "--") o.argv.push_back(a);  // CLI11 echoes the separator here
        }
        return RunSession(o);
      });
  run->cmd = r;
  // Everything after "--" belongs to the program; without "--", the first
  // argument that is not an option of `run` starts the program (whose own
  // options then need the "--").
  r->add_option("-v,--volume", run->volumes, "Volume to mount: NAME or NAME:/mount/path (repeatable)")
      ->allow_extra_args(false);
  r->add_flag("--read-only", run->read_only, "Mount every volume read-only (writes fail with EROFS)");
  r->add_option("--commit-every", run->commit_every,
                "Commit the session's changes in the background every N seconds (default 5; 0: only at the end)")
      ->check(CLI::NonNegativeNumber);
  r->add_flag("--no-commit", run->no_commit, "Discard the session's changes instead of committing them");
  r->add_flag("--preserve-special-modes", run->preserve_special_modes,
              "Give view files the setuid, setgid and world-writable bits stored in the volume (dropped by default)");
  r->add_option("PROGRAM", run->argv, "The program and its arguments (after --)");
  r->prefix_command();
  AddStoreOptions(r, g);

  auto shell = std::make_shared<RunArgs>();
  CLI::App* s = AddCommand(
      app, selected, "shell",
      "Start an interactive shell ($SHELL, else /bin/bash) with volumes mounted:\n"
      "vol shell -v NAME[:MOUNT]…  (MOUNT defaults to /mnt/NAME).",
      [&g, shell] {
        RunOptions o = OptionsFor(g, *shell);
        const char* sh = getenv("SHELL");
        o.argv = {sh && *sh ? sh : "/bin/bash"};
        o.interactive = true;
        return RunSession(o);
      });
  s->add_option("-v,--volume", shell->volumes, "Volume to mount: NAME or NAME:/mount/path (repeatable)")
      ->allow_extra_args(false);
  s->add_flag("--read-only", shell->read_only, "Mount every volume read-only");
  s->add_option("--commit-every", shell->commit_every, "Background commits every N seconds (default 5; 0: off)")
      ->check(CLI::NonNegativeNumber);
  s->add_flag("--no-commit", shell->no_commit, "Discard the session's changes");
  s->add_flag("--preserve-special-modes", shell->preserve_special_modes,
              "Give view files the setuid, setgid and world-writable bits stored in the volume");
  AddStoreOptions(s, g);
}

}  // namespace vol
