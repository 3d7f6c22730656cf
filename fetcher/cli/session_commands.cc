// vol commit / vol reload: act on the session a program runs in (found
// through $VOL_SESSION), and `vol commit --session DIR` publishes the changes
// a session kept after its final commit failed or the session was killed.
#include <cstdio>

#include "fetcher/cli/cli.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/session/session_client.h"
#include "fetcher/session/session_recovery.h"
#include "fetcher/util/progress.h"

namespace vol {

void AddSessionCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  auto mount = std::make_shared<std::string>();
  auto session = std::make_shared<std::string>();
  auto include_cut_short = std::make_shared<bool>(false);
  CLI::App* c = AddCommand(
      app, selected, "commit",
      "Inside `vol run`/`vol shell`: publish the session's changes now (all mounts,\n"
      "or MOUNT). With --session DIR: publish the changes a session kept because its\n"
      "final commit failed or it was killed (`vol run` names DIR).",
      [mount, session, include_cut_short]() -> absl::StatusOr<int> {
        if (!session->empty()) {
          absl::StatusOr<CommitReport> r = RecoverSession(*session, *include_cut_short);
          if (!r.ok()) return r.status();
          printf("Committed %llu changed files (%s uploaded).\n", static_cast<unsigned long long>(r->files),
                 HumanBytes(r->bytes_uploaded).c_str());
          if (r->skipped.empty()) return 0;
          fprintf(stderr, "vol: not published, because they were still being written when the session ended\n"
                          "(their writers, or the fetcher, were killed):\n");
          for (const std::string& p : r->skipped) fprintf(stderr, "  %s\n", ShowBytes(p).c_str());
          fprintf(stderr,
                  "vol: they are kept in %s (under its views); publish them as they are with\n"
                  "  vol commit --session %s --include-cut-short\n"
                  "or delete the directory to drop them.\n",
                  session->c_str(), session->c_str());
          return 1;
        }
        absl::StatusOr<vol_response> r = SessionCall(VOL_OP_COMMIT, *mount);
        if (!r.ok()) return r.status();
        printf("Committed %llu changed files (%s uploaded).\n", static_cast<unsigned long long>(r->value[0]),
               HumanBytes(r->value[1]).c_str());
        return 0;
      });
  c->add_option("MOUNT", *mount, "A mount of this session (default: every mount)");
  c->add_option("--session", *session, "A session directory kept by a failed final commit or a killed session");
  c->add_flag("--include-cut-short", *include_cut_short,
              "With --session: also publish files whose writers were killed before closing\n"
              "them, as the kill left them (left out by default: they may be half-written)");

  auto rmount = std::make_shared<std::string>();
  CLI::App* r = AddCommand(app, selected, "reload",
                           "Inside `vol run`/`vol shell`: commit, then move MOUNT (default: all) to the\n"
                           "volume's newest commit.",
                           [rmount]() -> absl::StatusOr<int> {
                             absl::StatusOr<vol_response> resp = SessionCall(VOL_OP_RELOAD, *rmount);
                             if (!resp.ok()) return resp.status();
                             return 0;
                           });
  r->add_option("MOUNT", *rmount, "A mount of this session (default: every mount)");
}

}  // namespace vol
