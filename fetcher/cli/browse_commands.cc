// vol ls / rm / cp: look at and rearrange what a volume holds. rm and cp
// change only trees (cp copies entries, which name the same chunks: no data
// is copied), each as one atomic commit. cp -r into an existing directory
// merges like cp -r (CopyPaths): files only the target has stay.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fetcher/cli/cli.h"
#include "fetcher/util/progress.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/volume/copy_paths.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {
namespace {

using nlohmann::json;

// As ls -l shows it, from the mode as stored: s/S for setuid and setgid
// (with and without execute), t/T for sticky.
std::string ModeString(const Entry& e) {
  std::string s = e.is_dir() ? "d" : e.is_symlink() ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back((e.mode >> (8 - i)) & 1 ? rwx[i] : '-');
  auto special = [&s](size_t at, bool set, char with_x, char without_x) {
    if (set) s[at] = s[at] == 'x' ? with_x : without_x;
  };
  special(3, e.mode & 04000, 's', 'S');
  special(6, e.mode & 02000, 's', 'S');
  special(9, e.mode & 01000, 't', 'T');
  return s;
}

json EntryJson(const Entry& e, const std::string& path) {
  // Names and targets that are not UTF-8 in FORMAT.md's {"base64": ...} form.
  json j = {{"name", BytesToJson(e.name)}, {"path", BytesToJson(path)}, {"type", EntryTypeName(e.type)},
            {"size", e.size}, {"mode", absl::StrFormat("%04o", e.mode)},
            {"mtime", FormatTime(e.mtime_ns)}, {"mtime_ns", e.mtime_ns}};
  if (e.is_symlink()) j["target"] = BytesToJson(e.target);
  if (e.is_dir()) j["files"] = e.files;
  return j;
}

absl::StatusOr<int> Ls(const GlobalOptions& g, const std::string& name, const std::string& path,
                       bool long_form, bool as_json) {
  absl::StatusOr<HeadLookup> found = LookupAtHead(g, name, path);
  if (!found.ok()) return found.status();
  const VolumePath* p = &found->path;
  std::vector<Entry> entries;
  std::string dir = p->ToString();
  if (found->entry.is_dir()) {
    absl::StatusOr<Tree> listed = ReadTree(*found->volume.store, found->entry.tree);
    if (!listed.ok()) return listed.status();
    entries = std::move(listed->entries);
  } else {
    entries.push_back(found->entry);
    dir = p->Parent().ToString();
  }
  auto full = [&](const Entry& e) { return dir == "/" ? "/" + e.name : dir + "/" + e.name; };
  if (as_json) {
    json out = json::array();
    for (const Entry& e : entries) out.push_back(EntryJson(e, full(e)));
    printf("%s\n", DumpJson(out, 2).c_str());
    return 0;
  }
  for (const Entry& e : entries) {
    std::string shown = e.name + (e.is_dir() ? "/" : "");
    if (!long_form) {
      printf("%s\n", shown.c_str());
      continue;
    }
    std::string suffix = e.is_symlink() ? " -> " + e.target : "";
    printf("%s  %12llu  %s  %s%s\n", ModeString(e).c_str(), static_cast<unsigned long long>(e.size),
           FormatTime(e.mtime_ns).c_str(), shown.c_str(), suffix.c_str());
  }
  return 0;
}

uint64_t FilesIn(const Entry& e) { return e.is_dir() ? e.files : 1; }

absl::StatusOr<int> Rm(const GlobalOptions& g, const std::string& name, const std::string& path,
                       bool recursive) {
  absl::StatusOr<OpenedVolume> v = OpenVolumeFor(g, name);
  if (!v.ok()) return v.status();
  absl::StatusOr<VolumePath> p = ParseVolumePath(path);
  if (!p.ok()) return p.status();
  if (p->is_root()) return absl::InvalidArgumentError("refusing to remove the volume root");
  absl::StatusOr<MutationResult> r = CommitMutation(
      *v->store, v->info, absl::StrCat("rm ", p->ToString()),
      [&](TreeEditor& tree, ChangeStats& stats) -> absl::Status {
        absl::StatusOr<std::optional<Entry>> e = tree.Lookup(*p);
        if (!e.ok()) return e.status();
        if (!e->has_value()) {
          return absl::NotFoundError(absl::StrCat("no such path in volume '", name, "': ", p->ToString()));
        }
        if ((*e)->is_dir() && !recursive) {
          return absl::FailedPreconditionError(
              absl::StrCat(p->ToString(), " is a directory (use -r to remove it and its contents)"));
        }
        stats.files += FilesIn(**e);
        return tree.Remove(*p);
      });
  if (!r.ok()) return r.status();
  return 0;
}

absl::StatusOr<int> Cp(const GlobalOptions& g, const std::string& name,
                       std::vector<std::string> args, bool recursive) {
  if (args.size() < 2) return absl::InvalidArgumentError("cp needs a source and a destination");
  absl::StatusOr<OpenedVolume> v = OpenVolumeFor(g, name);
  if (!v.ok()) return v.status();
  std::string dst_arg = args.back();
  args.pop_back();
  absl::StatusOr<VolumePath> dst = ParseVolumePath(dst_arg);
  if (!dst.ok()) return dst.status();
  std::vector<VolumePath> sources;
  for (const std::string& a : args) {
    absl::StatusOr<VolumePath> p = ParseVolumePath(a);
    if (!p.ok()) return p.status();
    sources.push_back(*std::move(p));
  }
  CopyOptions options;
  options.recursive = recursive;
  options.dst_is_dir = absl::EndsWith(dst_arg, "/");
  options.volume_name = name;
  absl::StatusOr<MutationResult> r = CommitMutation(
      *v->store, v->info, absl::StrCat("cp ", absl::StrJoin(args, " "), " ", dst->ToString()),
      [&](TreeEditor& tree, ChangeStats& stats) { return CopyPaths(tree, sources, *dst, options, stats); });
  if (!r.ok()) return r.status();
  return 0;
}

}  // namespace

void AddBrowseCommands(CLI::App& app, CommandBody& selected, GlobalOptions& g) {
  {
    auto name = std::make_shared<std::string>(), path = std::make_shared<std::string>("/");
    auto long_form = std::make_shared<bool>(false), as_json = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "ls",
                             "List a directory of a volume (type, size, mtime with -l).",
                             [&g, name, path, long_form, as_json] {
                               return Ls(g, *name, *path, *long_form, *as_json);
                             });
    c->add_option("NAME", *name, "Volume")->required();
    c->add_option("PATH", *path, "Directory or file in the volume (default /)");
    c->add_flag("-l,--long", *long_form, "Show mode, size and modification time");
    c->add_flag("--json", *as_json, "Print JSON");
    AddStoreOptions(c, g);
  }
  {
    auto name = std::make_shared<std::string>(), path = std::make_shared<std::string>();
    auto recursive = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(app, selected, "rm", "Remove a file, or a directory with -r.",
                             [&g, name, path, recursive] { return Rm(g, *name, *path, *recursive); });
    c->add_option("NAME", *name, "Volume")->required();
    c->add_option("PATH", *path, "Path in the volume")->required();
    c->add_flag("-r,--recursive", *recursive, "Remove directories and their contents");
    AddStoreOptions(c, g);
  }
  {
    auto name = std::make_shared<std::string>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto recursive = std::make_shared<bool>(false);
    CLI::App* c = AddCommand(
        app, selected, "cp",
        "Copy within a volume: SRC... DST. Only metadata is written; the data is shared.",
        [&g, name, args, recursive] { return Cp(g, *name, *args, *recursive); });
    c->add_option("NAME", *name, "Volume")->required();
    c->add_option("PATHS", *args, "SRC... DST (DST/ or an existing directory receives SRC by name)")
        ->required()
        ->expected(2, -1);
    c->add_flag("-r,--recursive", *recursive, "Copy directories");
    AddStoreOptions(c, g);
  }
}

}  // namespace vol
