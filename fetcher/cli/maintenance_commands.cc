// vol gc / vol verify: keeping a store clean and checking what it holds.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "fetcher/cli/cli.h"
#include "fetcher/format/gc_protocol.h"
#include "fetcher/gc/collector.h"
#include "fetcher/gc/verifier.h"
#include "fetcher/util/progress.h"

namespace vol {
namespace {

std::string Plural(uint64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

absl::StatusOr<absl::Duration> ParseAge(const std::string& flag, const std::string& text) {
  absl::Duration d;
  if (text == "0") return absl::ZeroDuration();
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", flag, " '", text,
                                                   "': use a duration such as 1h, 90m, 3600s or 0"));
  }
  return d;
}

absl::StatusOr<int> Gc(const GlobalOptions& g, const std::string& grace_text,
                       const std::string& history_text, bool dry_run, bool exclusive) {
  GcOptions options;
  options.dry_run = dry_run;
  options.exclusive = exclusive;
  options.grace = gc_protocol::MinSafeGrace();  // 1h
  if (!grace_text.empty()) {
    absl::StatusOr<absl::Duration> grace = ParseAge("--grace", grace_text);
    if (!grace.ok()) return grace.status();
    options.grace = *grace;
  }
  if (history_text != "all") {
    absl::StatusOr<absl::Duration> keep = ParseAge("--keep-history", history_text);
    if (!keep.ok()) return keep.status();
    options.keep_history = *keep;
  }
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  absl::StatusOr<GcReport> r = CollectGarbage(**store, options);
  if (!r.ok()) return r.status();
  const char* verb = dry_run ? "Would free" : "Freed";
  if (r->dropped_commits > 0) {
    printf("%s %s older than %s.\n", dry_run ? "Would drop" : "Dropped",
           Plural(r->dropped_commits, "commit", "commits").c_str(), history_text.c_str());
  }
  printf("Store %s: %s (%s), %s reachable (%s).\n", (*store)->Url().c_str(),
         Plural(r->volumes, "volume", "volumes").c_str(), Plural(r->commits, "commit", "commits").c_str(),
         Plural(r->reachable_objects, "object", "objects").c_str(), HumanBytes(r->reachable_bytes).c_str());
  printf("%s %s and %s: %s.\n", verb, Plural(r->freed_chunks, "chunk", "chunks").c_str(),
         Plural(r->freed_trees, "tree", "trees").c_str(), HumanBytes(r->freed_bytes).c_str());
  if (r->deleted_volumes > 0) {
    printf("%s the commit logs of %s (%s).\n", dry_run ? "Would remove" : "Removed",
           Plural(r->deleted_volumes, "deleted volume", "deleted volumes").c_str(),
           Plural(r->deleted_commits, "commit", "commits").c_str());
  }
  if (r->temp_files > 0) {
    printf("%s %s of killed uploads (%s).\n", dry_run ? "Would remove" : "Removed",
           Plural(r->temp_files, "temporary file", "temporary files").c_str(),
           HumanBytes(r->temp_bytes).c_str());
  }
  if (r->stale_locks > 0) {
    printf("%s %s of writers that stopped.\n", dry_run ? "Would remove" : "Removed",
           Plural(r->stale_locks, "stale lock", "stale locks").c_str());
  }
  if (r->young_objects > 0) {
    std::string why = r->live_locks > 0
                          ? absl::StrCat(Plural(r->live_locks, "writer", "writers"), " at work")
                          : absl::StrCat("grace ", absl::FormatDuration(options.grace));
    printf("Kept %s (%s) that nothing reaches, changed since %s (%s).\n",
           Plural(r->young_objects, "unreachable object", "unreachable objects").c_str(),
           HumanBytes(r->young_bytes).c_str(), FormatTime(r->cutoff_ns).c_str(), why.c_str());
  }
  return 0;
}

absl::StatusOr<int> Verify(const GlobalOptions& g, const std::vector<std::string>& names, bool all,
                           bool history) {
  if (names.empty() == !all) {
    return absl::InvalidArgumentError("vol verify needs volume names or --all (not both)");
  }
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  std::vector<VolumeInfo> volumes;
  if (all) {
    absl::StatusOr<std::vector<VolumeInfo>> listed = ListVolumes(**store, EnvName(g));
    if (!listed.ok()) return listed.status();
    volumes = *std::move(listed);
  } else {
    for (const std::string& name : names) {
      absl::StatusOr<VolumeInfo> v = LookupVolume(**store, EnvName(g), name);
      if (!v.ok()) return v.status();
      volumes.push_back(*std::move(v));
    }
  }
  int rc = 0;
  for (const VolumeInfo& v : volumes) {
    absl::StatusOr<VerifyReport> r = VerifyVolume(**store, v, history);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("volume '", v.name, "': ", r.status().message()));
    }
    for (const BadObject& b : r->bad) {
      printf("%s %s %s: %s\n", b.missing ? "missing" : "damaged", b.kind.c_str(), b.key.c_str(),
             b.detail.c_str());
      for (const std::string& use : b.used_by) printf("  used by %s:%s\n", v.name.c_str(), use.c_str());
      if (b.more_uses > 0) printf("  and %llu more\n", static_cast<unsigned long long>(b.more_uses));
    }
    std::string what = history ? Plural(r->commits, "commit", "commits")
                               : absl::StrCat("commit ", r->head);
    std::string counted = absl::StrCat(Plural(r->trees, "tree", "trees"), " and ",
                                       Plural(r->chunks, "chunk", "chunks"), " (",
                                       HumanBytes(r->bytes), ")");
    if (r->bad.empty()) {
      printf("Volume '%s' (%s): %s verified, all intact.\n", v.name.c_str(), what.c_str(),
             counted.c_str());
    } else {
      printf("Volume '%s' (%s): %s missing or damaged among %s; re-upload the files above with "
             "`vol put --force` to repair them.\n",
             v.name.c_str(), what.c_str(), Plural(r->bad.size(), "object", "objects").c_str(),
             counted.c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace

void AddMaintenanceCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  {
    auto grace = std::make_shared<std::string>();
    auto history = std::make_shared<std::string>("all");
    auto dry_run = std::make_shared<bool>(false);
    auto exclusive = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(
        app, selected, "gc",
        "Delete what no commit of any volume (every environment of the store) reaches:\n"
        "chunks and trees unchanged for the grace period, deleted volumes' commit logs,\n"
        "leftovers of killed uploads, stale locks. Commits in flight anywhere are safe.\n"
        "History is kept (what `vol rm` removed stays in older commits) unless\n"
        "--keep-history says how much of it to keep.",
        [&g, grace, history, dry_run, exclusive] {
          return Gc(g, *grace, *history, *dry_run, *exclusive);
        });
    c->add_option("--grace", *grace,
                  "Keep unreachable objects changed within this long (default 1h, the shortest "
                  "that is safe with other writers)");
    c->add_option("--keep-history", *history,
                  "Drop commits older than this (each volume's newest stays; 0: keep only the "
                  "newest); default all");
    c->add_flag("-n,--dry-run", *dry_run, "Say what would be deleted; delete nothing");
    c->add_flag("--exclusive", *exclusive,
                "Nothing else writes to the store while gc runs: allows a --grace below 1h");
    AddStoreOptions(c, g);
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto all = std::make_shared<bool>(false);
    auto history = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(
        app, selected, "verify",
        "Read every object a volume's newest commit reaches (every commit with --history)\n"
        "and check it; print each missing or damaged object with the paths that use it.\n"
        "Exit status 1 when anything is wrong.",
        [&g, names, all, history] { return Verify(g, *names, *all, *history); });
    c->add_option("NAME", *names, "Volumes to verify");
    c->add_flag("--all", *all, "Every volume of the environment");
    c->add_flag("--history", *history, "Every commit, not only the newest");
    AddStoreOptions(c, g);
  }
}

}  // namespace vol
