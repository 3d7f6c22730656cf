// vol create / list / rename / delete / history: volumes as a whole.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "fetcher/cli/cli.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/util/progress.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volume_writer.h"
#include "absl/time/clock.h"

namespace vol {
namespace {

using nlohmann::json;

absl::StatusOr<int> Create(const GlobalOptions& g, const std::string& name, bool allow_existing) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  bool created = false;
  absl::StatusOr<VolumeInfo> v = CreateVolume(**store, EnvName(g), name, allow_existing, &created);
  if (!v.ok()) return v.status();
  if (created) {
    printf("Created volume '%s' in environment '%s'.\n", name.c_str(), v->env.c_str());
  } else {
    printf("Volume '%s' already exists in environment '%s'.\n", name.c_str(), v->env.c_str());
  }
  return 0;
}

absl::StatusOr<int> List(const GlobalOptions& g, bool as_json) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<VolumeInfo>> volumes = ListVolumes(**store, EnvName(g));
  if (!volumes.ok()) return volumes.status();
  json out = json::array();
  std::vector<std::array<std::string, 4>> rows;
  for (const VolumeInfo& v : *volumes) {
    absl::StatusOr<CommitInfo> head = ReadHead(**store, v.id);
    if (!head.ok()) return head.status();
    out.push_back({{"name", v.name}, {"id", v.id}, {"created_at", FormatTime(v.created_ns)},
                   {"created_ns", v.created_ns}, {"files", head->files}, {"bytes", head->bytes},
                   {"commit", head->seq}});
    rows.push_back({v.name, FormatTime(v.created_ns), std::to_string(head->files),
                    HumanBytes(head->bytes)});
  }
  if (as_json) {
    printf("%s\n", DumpJson(out, 2).c_str());
    return 0;
  }
  size_t w = 4;
  for (const auto& r : rows) w = std::max(w, r[0].size());
  printf("%-*s  %-19s  %9s  %10s\n", static_cast<int>(w), "NAME", "CREATED", "FILES", "SIZE");
  for (const auto& r : rows) {
    printf("%-*s  %-19s  %9s  %10s\n", static_cast<int>(w), r[0].c_str(), r[1].c_str(),
           r[2].c_str(), r[3].c_str());
  }
  return 0;
}

absl::StatusOr<int> Rename(const GlobalOptions& g, const std::string& from, const std::string& to) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  if (absl::Status s = RenameVolume(**store, EnvName(g), from, to); !s.ok()) return s;
  printf("Renamed volume '%s' to '%s' in environment '%s'.\n", from.c_str(), to.c_str(),
         EnvName(g).c_str());
  return 0;
}

absl::StatusOr<int> Delete(const GlobalOptions& g, const std::string& name, bool yes) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  std::string env = EnvName(g);
  absl::StatusOr<VolumeInfo> v = LookupVolume(**store, env, name);
  if (!v.ok()) return v.status();
  if (!yes) {
    if (!isatty(STDIN_FILENO)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "refusing to delete volume '%s' without confirmation: pass --yes", name));
    }
    fprintf(stderr, "Delete volume '%s' in environment '%s' and everything in it? [y/N] ",
            name.c_str(), env.c_str());
    std::string answer;
    std::getline(std::cin, answer);
    answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
    if (answer != "y" && answer != "yes") {
      fprintf(stderr, "Not deleted.\n");
      return 1;
    }
  }
  if (absl::Status s = DeleteVolume(**store, env, name); !s.ok()) return s;
  printf("Deleted volume '%s' from environment '%s'.\n", name.c_str(), env.c_str());
  return 0;
}

absl::StatusOr<int> History(const GlobalOptions& g, const std::string& name, bool as_json) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStoreFor(g);
  if (!store.ok()) return store.status();
  absl::StatusOr<VolumeInfo> v = LookupVolume(**store, EnvName(g), name);
  if (!v.ok()) return v.status();
  absl::StatusOr<std::vector<CommitInfo>> log = ReadHistory(**store, v->id);
  if (!log.ok()) return log.status();
  if (as_json) {
    json out = json::array();
    for (const CommitInfo& c : *log) {
      out.push_back({{"commit", c.seq}, {"parent", c.parent}, {"time", FormatTime(c.time_ns)},
                     {"time_ns", c.time_ns}, {"host", c.host}, {"message", c.message},
                     {"files", c.files}, {"bytes", c.bytes}, {"files_changed", c.files_changed},
                     {"bytes_changed", c.bytes_changed}, {"root", c.root.Hex()}});
    }
    printf("%s\n", DumpJson(out, 2).c_str());
    return 0;
  }
  printf("%-7s  %-19s  %-16s  %13s  %13s  %s\n", "COMMIT", "TIME", "HOST", "FILES CHANGED",
         "BYTES CHANGED", "MESSAGE");
  for (const CommitInfo& c : *log) {
    printf("%-7llu  %-19s  %-16.16s  %13llu  %13s  %s\n", static_cast<unsigned long long>(c.seq),
           FormatTime(c.time_ns).c_str(), c.host.c_str(),
           static_cast<unsigned long long>(c.files_changed), HumanBytes(c.bytes_changed).c_str(),
           c.message.c_str());
  }
  return 0;
}

// A new commit whose snapshot is an older commit's: history is kept, and
// the rollback itself can be rolled back.
absl::StatusOr<int> Rollback(const GlobalOptions& g, const std::string& name, uint64_t seq) {
  absl::StatusOr<OpenedVolume> v = OpenVolumeFor(g, name);
  if (!v.ok()) return v.status();
  absl::StatusOr<CommitInfo> target = ReadCommit(*v->store, v->info.id, seq);
  if (absl::IsNotFound(target.status())) {
    return absl::NotFoundError(absl::StrFormat(
        "volume '%s' has no commit %d (see: vol history %s)", name, seq, name));
  }
  if (!target.ok()) return target.status();
  for (;;) {
    absl::StatusOr<CommitInfo> head = ReadHead(*v->store, v->info.id);
    if (!head.ok()) return head.status();
    CommitInfo next = *target;
    next.seq = head->seq + 1;
    next.parent = head->seq;
    next.time_ns = absl::GetCurrentTimeNanos();
    next.host = HostName();
    next.message = absl::StrFormat("rollback to %d", seq);
    next.files_changed = 0;
    next.bytes_changed = 0;
    absl::Status s = AppendCommit(*v->store, v->info.id, next);
    if (s.ok()) {
      printf("Rolled back volume '%s' to commit %llu (as commit %llu).\n", name.c_str(),
             static_cast<unsigned long long>(seq), static_cast<unsigned long long>(next.seq));
      return 0;
    }
    if (!absl::IsAlreadyExists(s)) return s;
  }
}

}  // namespace

void AddVolumeCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  {
    auto name = std::make_shared<std::string>();
    auto allow = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "create", "Create a volume.",
                             [&g, name, allow] { return Create(g, *name, *allow); });
    c->add_option("NAME", *name, "Volume name: 1-64 of [A-Za-z0-9._-]")->required();
    c->add_flag("--allow-existing", *allow, "Succeed if the volume already exists");
    AddStoreOptions(c, g);
  }
  {
    auto as_json = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "list", "List volumes: name, created at, files, bytes.",
                             [&g, as_json] { return List(g, *as_json); });
    c->add_flag("--json", *as_json, "Print JSON");
    AddStoreOptions(c, g);
  }
  {
    auto from = std::make_shared<std::string>(), to = std::make_shared<std::string>();
    CLI::App* c = AddCommand(app, selected, "rename", "Rename a volume (its contents stay as they are).",
                             [&g, from, to] { return Rename(g, *from, *to); });
    c->add_option("OLD", *from, "Current name")->required();
    c->add_option("NEW", *to, "New name")->required();
    AddStoreOptions(c, g);
  }
  {
    auto name = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "delete",
                             "Delete a volume. Asks first on a terminal; elsewhere needs --yes.",
                             [&g, name, yes] { return Delete(g, *name, *yes); });
    c->add_option("NAME", *name, "Volume to delete")->required();
    c->add_flag("-y,--yes", *yes, "Do not ask for confirmation");
    AddStoreOptions(c, g);
  }
  {
    auto name = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "history",
                             "List a volume's commits, newest first: id, time, host, what changed.",
                             [&g, name, as_json] { return History(g, *name, *as_json); });
    c->add_option("NAME", *name, "Volume")->required();
    c->add_flag("--json", *as_json, "Print JSON");
    AddStoreOptions(c, g);
  }
  {
    auto name = std::make_shared<std::string>();
    auto seq = std::make_shared<uint64_t>(0);
    CLI::App* c = AddCommand(app, selected, "rollback",
                             "Make an older commit's snapshot the newest, as a new commit.",
                             [&g, name, seq] { return Rollback(g, *name, *seq); });
    c->add_option("NAME", *name, "Volume")->required();
    c->add_option("COMMIT", *seq, "Commit number, as vol history shows it")->required();
    AddStoreOptions(c, g);
  }
}

}  // namespace vol
