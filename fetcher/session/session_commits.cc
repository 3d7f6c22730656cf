#include "fetcher/session/session_commits.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_server.h"
#include "fetcher/session/view_reload.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

using nlohmann::json;

bool AtOrBelow(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && absl::StartsWith(path, dir) && path[dir.size()] == '/');
}

json EntryJson(const Entry& e) {
  json chunks = json::array();
  for (const ChunkRef& c : e.chunks) chunks.push_back({c.id.Hex(), c.size});
  return {{"type", static_cast<int>(e.type)}, {"mode", e.mode}, {"mtime_ns", e.mtime_ns},
          {"size", e.size}, {"target", e.target}, {"chunks", chunks}};
}

absl::StatusOr<Entry> EntryFromJson(const json& j) {
  Entry e;
  e.type = static_cast<EntryType>(j.at("type").get<int>());
  e.mode = j.at("mode").get<uint32_t>();
  e.mtime_ns = j.at("mtime_ns").get<int64_t>();
  e.size = j.at("size").get<uint64_t>();
  e.target = j.at("target").get<std::string>();
  for (const json& c : j.at("chunks")) {
    std::optional<ObjectId> id = ObjectId::FromHex(c.at(0).get<std::string>());
    if (!id) return absl::DataLossError("pending.json: bad chunk id");
    e.chunks.push_back({*id, c.at(1).get<uint64_t>()});
  }
  return e;
}

}  // namespace

SessionCommits::SessionCommits(ObjectStore& store, FetchEngine& engine, std::vector<SessionMount> mounts,
                               std::string session_dir)
    : store_(store), engine_(engine), mounts_(std::move(mounts)), session_dir_(std::move(session_dir)),
      changed_(mounts_.size()) {
  if (!session_dir_.empty()) {
    WriteRecover();
    journal_fd_ = open(absl::StrCat(session_dir_, "/journal").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  }
  thread_ = std::thread([this] { Worker(); });
}

// What a later `vol commit --session` needs if this session is killed whole.
void SessionCommits::WriteRecover() {
  json rec = {{"store", store_.Url()}, {"mounts", json::array()}};
  for (const SessionMount& m : mounts_) {
    rec["mounts"].push_back({{"mount", m.mount}, {"view", m.view}, {"env", m.volume.env},
                             {"name", m.volume.name}, {"id", m.volume.id}, {"read_only", m.read_only},
                             {"base", m.base_root.Hex()}});
  }
  WriteFileAtomic(absl::StrCat(session_dir_, "/recover.json"), rec.dump(), 0600).IgnoreError();
}

// Records are NUL-separated fields: "P", mount, path — or "R", mount, from, mount, to.
// One write(2) each: a kill leaves at most a torn last record, which the reader drops.
void SessionCommits::Journal(const std::string& record) {
  if (journal_fd_ >= 0) WriteFull(journal_fd_, record.data(), record.size()).IgnoreError();
}

void SessionCommits::Settled() {
  if (!marked_dirty_ || HasChanges() || journal_fd_ < 0) return;
  // Renames stay: they map view paths back to the base snapshot's paths.
  if (ftruncate(journal_fd_, 0) == 0) {
    Journal(renames_);
    unlink(absl::StrCat(session_dir_, "/changed").c_str());
    marked_dirty_ = false;
  }
}

SessionCommits::~SessionCommits() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (journal_fd_ >= 0) close(journal_fd_);
}

void SessionCommits::Worker() {
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SessionCommits* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || s->work_ != nullptr; },
          this));
      if (work_ == nullptr) return;  // stopping, nothing left
      work = std::move(work_);
      work_ = nullptr;
    }
    work();
  }
}

int SessionCommits::MountOf(const std::string& path, std::string* rel) const {
  for (size_t i = 0; i < mounts_.size(); ++i) {
    const std::string& m = mounts_[i].mount;
    if (AtOrBelow(path, m)) {
      if (rel) *rel = path.size() > m.size() ? path.substr(m.size() + 1) : "";
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool SessionCommits::HasChanges() const {
  for (const auto& c : changed_) {
    if (!c.empty()) return true;
  }
  return false;
}

void SessionCommits::Handle(const vol_request& req, std::function<void(const vol_response&)> reply) {
  auto guarded = [this, reply](const vol_response& r) {
    if (loop_alive_) reply(r);
  };
  switch (req.op) {
    case VOL_OP_CHANGED: {
      std::string path(req.path);
      std::string rel;
      int m = MountOf(path, &rel);
      if (m >= 0) {
        std::string view = rel.empty() ? mounts_[m].view : absl::StrCat(mounts_[m].view, "/", rel);
        if (req.offset == VOL_CHANGED_RENAME) {
          std::string to(req.path + path.size() + 1);
          std::string to_rel;
          int m2 = MountOf(to, &to_rel);
          if (m2 >= 0) {
            engine_.Rename(view, to_rel.empty() ? mounts_[m2].view : absl::StrCat(mounts_[m2].view, "/", to_rel));
            std::string r = absl::StrCat("R", std::string(1, '\0'), m, std::string(1, '\0'), rel,
                                         std::string(1, '\0'), m2, std::string(1, '\0'), to_rel,
                                         std::string(1, '\0'));
            renames_ += r;
            Journal(r);
            if (changed_[m2].insert_or_assign(to_rel, ++generation_).second) {
              Journal(absl::StrCat("P", std::string(1, '\0'), m2, std::string(1, '\0'), to_rel,
                                   std::string(1, '\0')));
            }
          }
        } else if (req.offset == VOL_CHANGED_DISCARD) {
          engine_.Discard(view);
        } else {
          engine_.MarkDirty(view);
        }
        if (changed_[m].insert_or_assign(rel, ++generation_).second) {
          Journal(absl::StrCat("P", std::string(1, '\0'), m, std::string(1, '\0'), rel, std::string(1, '\0')));
        }
        if (!marked_dirty_) {
          // So that `vol run` knows, even if this process dies, that there was something to commit.
          WriteFileAtomic(absl::StrCat(session_dir_, "/changed"), "").IgnoreError();
          marked_dirty_ = true;
        }
      }
      guarded(ResponseFor(absl::OkStatus()));
      return;
    }
    case VOL_OP_COMMIT:
    case VOL_OP_RELOAD: {
      Job job;
      std::string path(req.path);
      if (path.empty()) {
        for (size_t i = 0; i < mounts_.size(); ++i) {
          if (!mounts_[i].read_only) job.mounts.push_back(i);
        }
      } else {
        int m = MountOf(path, nullptr);
        if (m < 0) {
          guarded(ResponseFor(absl::InvalidArgumentError(absl::StrCat(path, " is not a mount of this session"))));
          return;
        }
        job.mounts.push_back(static_cast<size_t>(m));
      }
      job.reload = req.op == VOL_OP_RELOAD;
      job.done = [guarded](absl::StatusOr<CommitReport> r) {
        vol_response resp = ResponseFor(r.status());
        if (r.ok()) {
          resp.value[0] = r->files;
          resp.value[1] = r->bytes_uploaded;
        }
        guarded(resp);
      };
      Enqueue(std::move(job));
      return;
    }
    default:
      guarded(ResponseFor(absl::UnimplementedError(absl::StrCat("unknown request ", req.op))));
  }
}

std::vector<std::string> SessionCommits::ViewRoots(const std::vector<Snapshot>& snaps) const {
  std::vector<std::string> roots;
  for (const Snapshot& s : snaps) {
    for (const auto& [p, g] : s.changed) {
      roots.push_back(p.empty() ? mounts_[s.mount].view : absl::StrCat(mounts_[s.mount].view, "/", p));
    }
  }
  if (roots.size() > 256) {  // many changes: filtering would cost more than it saves
    roots.clear();
    for (const Snapshot& s : snaps) roots.push_back(mounts_[s.mount].view);
  }
  return roots;
}

void SessionCommits::Tick() {
  if (running_ || !jobs_.empty() || !HasChanges()) return;
  Job job;
  for (size_t i = 0; i < mounts_.size(); ++i) {
    if (!mounts_[i].read_only) job.mounts.push_back(i);
  }
  job.skip_open = true;
  job.done = [](absl::StatusOr<CommitReport> r) {
    if (!r.ok()) fprintf(stderr, "vol: background commit failed (will retry): %s\n", std::string(r.status().message()).c_str());
  };
  Enqueue(std::move(job));
}

void SessionCommits::Enqueue(Job job) {
  jobs_.push_back(std::move(job));
  StartNext();
}

void SessionCommits::StartNext() {
  while (!running_ && !jobs_.empty()) {
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    std::vector<Snapshot> snaps;
    for (size_t m : job.mounts) {
      if (changed_[m].empty()) continue;
      Snapshot s{m, {}};
      for (const auto& [p, g] : changed_[m]) s.changed.emplace_back(p, g);
      snaps.push_back(std::move(s));
    }
    if (snaps.empty() && !job.reload) {
      job.done(CommitReport{});
      continue;
    }
    running_ = true;
    std::vector<std::pair<size_t, ObjectId>> bases;
    for (size_t m : job.mounts) bases.emplace_back(m, mounts_[m].base_root);
    std::vector<std::string> roots = ViewRoots(snaps);
    auto records = std::make_shared<absl::flat_hash_map<std::string, FetchEngine::Record>>(engine_.Records(&roots));
    auto shared_job = std::make_shared<Job>(std::move(job));
    absl::MutexLock lock(&mu_);
    work_ = [this, snaps = std::move(snaps), records, shared_job, bases] {
      auto done = std::make_shared<std::vector<std::pair<size_t, std::string>>>();
      auto result = std::make_shared<absl::StatusOr<CommitReport>>(Run(snaps, *records, shared_job->skip_open, done.get()));
      // Reload: what each mount's view must become (read from the store here, off the loop).
      struct Plan {
        size_t mount;
        ObjectId head;
        std::vector<ReloadEdit> edits;
      };
      auto plans = std::make_shared<std::vector<Plan>>();
      if (shared_job->reload && result->ok()) {
        for (const auto& [m, base] : bases) {
          absl::StatusOr<CommitInfo> head = ReadHead(store_, mounts_[m].volume.id);
          absl::StatusOr<std::vector<ReloadEdit>> edits =
              head.ok() ? PlanReload(store_, base, head->root) : absl::StatusOr<std::vector<ReloadEdit>>(head.status());
          if (!edits.ok()) {
            *result = edits.status();
            break;
          }
          plans->push_back({m, head->root, *std::move(edits)});
        }
      }
      engine_.Post([this, snaps, done, result, shared_job, plans] {
        // Clear what was published, unless it changed again meanwhile.
        absl::flat_hash_map<std::string, uint64_t> gen_at_start;
        for (const Snapshot& s : snaps) {
          for (const auto& [p, g] : s.changed) gen_at_start[absl::StrCat(s.mount, "\t", p)] = g;
        }
        for (const auto& [m, p] : *done) {
          auto it = changed_[m].find(p);
          if (it != changed_[m].end() && it->second == gen_at_start[absl::StrCat(m, "\t", p)]) changed_[m].erase(it);
        }
        for (const auto& plan : *plans) {
          if (!result->ok()) break;
          const auto& changed = changed_[plan.mount];
          auto keep = [&changed](const std::string& p) {
            for (const auto& [c, g] : changed) {
              if (AtOrBelow(p, c) || AtOrBelow(c, p)) return true;
            }
            return false;
          };
          absl::Status s = ApplyReload(plan.edits, mounts_[plan.mount].view, mounts_[plan.mount].mount, engine_, keep,
                                       mounts_[plan.mount].preserve_special_modes);
          if (!s.ok()) {
            *result = s;
            break;
          }
          mounts_[plan.mount].base_root = plan.head;
        }
        if (!plans->empty() && !session_dir_.empty()) WriteRecover();
        running_ = false;
        Settled();
        shared_job->done(*result);
        StartNext();
      });
    };
  }
}

absl::StatusOr<CommitReport> SessionCommits::Run(
    const std::vector<Snapshot>& snaps, const absl::flat_hash_map<std::string, FetchEngine::Record>& records,
    bool skip_open, std::vector<std::pair<size_t, std::string>>* done) {
  CommitReport total;
  for (const Snapshot& s : snaps) {
    std::vector<std::string> paths;
    for (const auto& [p, g] : s.changed) paths.push_back(p);
    absl::StatusOr<CommitReport> r = CommitChanges(store_, mounts_[s.mount], paths, records, skip_open);
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat("commit of ", mounts_[s.mount].mount, " (volume '",
                                                          mounts_[s.mount].volume.name, "') failed: ",
                                                          r.status().message()));
    }
    total.committed = total.committed || r->committed;
    total.files += r->files;
    total.bytes_uploaded += r->bytes_uploaded;
    total.trees_written += r->trees_written;
    for (const std::string& p : r->done) done->emplace_back(s.mount, p);
    for (const std::string& p : r->skipped) total.skipped.push_back(p);
  }
  return total;
}

absl::StatusOr<CommitReport> SessionCommits::Final() {
  loop_alive_ = false;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  engine_.OnCompletions();  // applies the last background commit's result
  std::vector<Snapshot> snaps;
  for (size_t m = 0; m < mounts_.size(); ++m) {
    if (changed_[m].empty() || mounts_[m].read_only) continue;
    Snapshot s{m, {}};
    for (const auto& [p, g] : changed_[m]) s.changed.emplace_back(p, g);
    snaps.push_back(std::move(s));
  }
  if (snaps.empty()) return CommitReport{};
  std::vector<std::string> roots = ViewRoots(snaps);
  absl::flat_hash_map<std::string, FetchEngine::Record> records = engine_.Records(&roots);
  std::vector<std::pair<size_t, std::string>> done;
  absl::StatusOr<CommitReport> r = Run(snaps, records, /*skip_open=*/false, &done);
  if (r.ok()) {
    // Published: a session whose `vol run` died meanwhile has nothing to keep.
    for (auto& c : changed_) c.clear();
    Settled();
    return r;
  }

  // Keep everything needed to publish later, with the store gone or the process gone.
  json pending = {{"store", store_.Url()}, {"mounts", json::array()}};
  for (const Snapshot& s : snaps) {
    const SessionMount& m = mounts_[s.mount];
    json changed = json::array(), recs = json::object();
    for (const auto& [p, g] : s.changed) changed.push_back(p);
    for (const auto& [path, rec] : records) {
      if (!AtOrBelow(path, m.view)) continue;
      recs[path] = {{"entry", EntryJson(rec.entry)}, {"complete", rec.complete}, {"dirty", rec.dirty}};
    }
    pending["mounts"].push_back({{"mount", m.mount}, {"view", m.view}, {"env", m.volume.env},
                                 {"name", m.volume.name}, {"id", m.volume.id}, {"changed", changed},
                                 {"records", recs}});
  }
  absl::Status saved = WriteFileAtomic(absl::StrCat(session_dir_, "/pending.json"), pending.dump());
  if (saved.ok()) saved = WriteFileAtomic(absl::StrCat(session_dir_, "/keep"), "final commit failed\n");
  if (!saved.ok()) {
    return absl::Status(r.status().code(), absl::StrCat(r.status().message(), "; and the changes could not be saved: ",
                                                        saved.message()));
  }
  return absl::Status(r.status().code(),
                      absl::StrCat(r.status().message(), ". Nothing is lost: the changes are kept in ", session_dir_,
                                   "; publish them with: vol commit --session ", session_dir_));
}

namespace {

// The fields recover.json and pending.json both record for a mount. Throws
// json::exception on a missing field, as the callers' parsing does.
SessionMount SessionMountFromJson(const json& jm) {
  SessionMount m;
  m.mount = jm.at("mount").get<std::string>();
  m.view = jm.at("view").get<std::string>();
  m.volume.env = jm.at("env").get<std::string>();
  m.volume.name = jm.at("name").get<std::string>();
  m.volume.id = jm.at("id").get<std::string>();
  return m;
}

// The presence table of a dead session, read-only: which view files are complete.
class DeadPresence {
 public:
  ~DeadPresence() {
    if (base_ != nullptr) munmap(base_, len_);
  }
  absl::Status Open(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(absl::StrCat("cannot open ", path), errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(vol_presence_header)) {
      close(fd);
      return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
    }
    len_ = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, len_, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ErrnoError(absl::StrCat("cannot map ", path), errno);
    base_ = p;
    const auto* h = static_cast<const vol_presence_header*>(base_);
    if (h->magic != VOL_PRESENCE_MAGIC || h->table_slots == 0 ||
        h->table_offset + h->table_slots * sizeof(vol_presence_file) > len_) {
      return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
    }
    return absl::OkStatus();
  }
  const vol_presence_file* Find(uint64_t dev, uint64_t ino) const {
    const auto* h = static_cast<const vol_presence_header*>(base_);
    const auto* slots = reinterpret_cast<const vol_presence_file*>(static_cast<const char*>(base_) + h->table_offset);
    uint64_t mask = h->table_slots - 1;
    for (uint64_t i = vol_presence_hash(ino) & mask, n = 0; n < h->table_slots; i = (i + 1) & mask, ++n) {
      if (slots[i].ino == 0) return nullptr;
      if (slots[i].ino == ino && slots[i].dev == dev) return &slots[i];
    }
    return nullptr;
  }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
};

struct RenameRec {
  size_t from_mount;
  std::string from;
  size_t to_mount;
  std::string to;
};

// Every non-empty regular file at or below `local`.
void FilesBelow(const std::string& local, std::vector<std::pair<std::string, struct stat>>* out) {
  struct stat st;
  if (lstat(local.c_str(), &st) != 0) return;
  if (S_ISREG(st.st_mode) && st.st_size > 0) out->emplace_back(local, st);
  if (!S_ISDIR(st.st_mode)) return;
  absl::StatusOr<std::vector<std::string>> names = ListDir(local);
  if (!names.ok()) return;
  for (const std::string& n : *names) FilesBelow(absl::StrCat(local, "/", n), out);
}

bool OwnerAlive(const std::string& session_dir, int* pid) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/owner"));
  *pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), pid) || *pid <= 0) return false;
  return ProcessAlive(*pid);
}

// A session killed whole: its changed paths come from the journal, its
// committed base from recover.json. A view file that is not complete in the
// presence table was never written (the shim copies up before any write): it
// keeps the chunks of the base entry it came from (through the renames), and
// its sparse holes are never read.
absl::StatusOr<CommitReport> PublishKilled(const std::string& session_dir, const std::string& recover_text) {
  int pid = 0;
  if (OwnerAlive(session_dir, &pid)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the session ", session_dir, " is still running (vol run pid ", pid, "); it commits its own changes"));
  }
  absl::StatusOr<std::string> fetcher = ReadFile(absl::StrCat(session_dir, "/" VOL_SESSION_FETCHER_PID));
  if (fetcher.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*fetcher), &pid) && pid > 0 &&
      ProcessAlive(pid)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the fetcher of session ", session_dir, " (pid ", pid, ") is still running; try again when it has exited"));
  }
  json rec = json::parse(recover_text, nullptr, /*allow_exceptions=*/false);
  if (rec.is_discarded() || !rec.is_object()) {
    return absl::DataLossError(absl::StrCat(session_dir, "/recover.json is not valid JSON"));
  }
  absl::StatusOr<std::string> journal = ReadFile(absl::StrCat(session_dir, "/journal"));
  if (!journal.ok()) journal = std::string();
  DeadPresence presence;
  if (absl::Status s = presence.Open(absl::StrCat(session_dir, "/" VOL_SESSION_PRESENCE)); !s.ok()) return s;
  CommitReport total;
  try {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(rec.at("store").get<std::string>());
    if (!store.ok()) return store.status();
    std::vector<SessionMount> mounts;
    for (const json& jm : rec.at("mounts")) {
      SessionMount m = SessionMountFromJson(jm);
      m.read_only = jm.at("read_only").get<bool>();
      std::optional<ObjectId> base = ObjectId::FromHex(jm.at("base").get<std::string>());
      if (!base) return absl::DataLossError(absl::StrCat(session_dir, "/recover.json: bad base id"));
      m.base_root = *base;
      mounts.push_back(std::move(m));
    }
    // Replay the journal (a torn last record is dropped).
    std::vector<std::string> f = absl::StrSplit(absl::string_view(*journal), '\0');
    std::vector<std::vector<std::string>> changed(mounts.size());
    std::vector<RenameRec> renames;
    auto mount_no = [&](const std::string& t, size_t* m) {
      return absl::SimpleAtoi(t, m) && *m < mounts.size();
    };
    for (size_t i = 0; i < f.size();) {
      size_t m = 0, m2 = 0;
      if (f[i] == "P" && i + 3 < f.size() && mount_no(f[i + 1], &m)) {
        changed[m].push_back(f[i + 2]);
        i += 3;
      } else if (f[i] == "R" && i + 5 < f.size() && mount_no(f[i + 1], &m) && mount_no(f[i + 3], &m2)) {
        renames.push_back({m, f[i + 2], m2, f[i + 4]});
        i += 5;
      } else {
        break;
      }
    }
    for (size_t mi = 0; mi < mounts.size(); ++mi) {
      const SessionMount& m = mounts[mi];
      if (m.read_only || changed[mi].empty()) continue;
      absl::flat_hash_map<std::string, FetchEngine::Record> records;
      std::vector<std::pair<std::string, struct stat>> files;
      for (const std::string& p : changed[mi]) FilesBelow(p.empty() ? m.view : absl::StrCat(m.view, "/", p), &files);
      std::vector<std::unique_ptr<TreeEditor>> bases(mounts.size());
      for (const auto& [local, st] : files) {
        if (records.contains(local)) continue;
        const vol_presence_file* slot = presence.Find(st.st_dev, st.st_ino);
        if (slot == nullptr || __atomic_load_n(&slot->complete, __ATOMIC_ACQUIRE) != 0) continue;  // real content
        // Never fetched whole, so never written: where did it come from?
        size_t om = mi;
        std::string origin = local.size() > m.view.size() ? local.substr(m.view.size() + 1) : "";
        for (auto r = renames.rbegin(); r != renames.rend(); ++r) {
          if (r->to_mount == om && AtOrBelow(origin, r->to)) {
            origin = r->from + origin.substr(r->to.size());
            om = r->from_mount;
          }
        }
        if (!bases[om]) bases[om] = std::make_unique<TreeEditor>(**store, mounts[om].base_root);
        absl::StatusOr<VolumePath> vp = ParseVolumePath(origin);
        absl::StatusOr<std::optional<Entry>> e =
            vp.ok() ? bases[om]->Lookup(*vp) : absl::StatusOr<std::optional<Entry>>(vp.status());
        if (!e.ok()) return e.status();
        if (!e->has_value() || !(*e)->is_file() || (*e)->size != static_cast<uint64_t>(st.st_size)) {
          return absl::DataLossError(absl::StrCat(
              "cannot publish ", local, ": its content was never fetched and its committed version (",
              mounts[om].mount, "/", origin, ") is not known; discard the session with: rm -r ", session_dir));
        }
        records[local] = {**e, /*complete=*/false, /*dirty=*/false};
      }
      absl::StatusOr<CommitReport> r = CommitChanges(**store, m, changed[mi], records, /*skip_open=*/false);
      if (!r.ok()) {
        return absl::Status(r.status().code(), absl::StrCat("commit of ", m.mount, " (volume '", m.volume.name,
                                                            "') failed: ", r.status().message()));
      }
      total.committed = total.committed || r->committed;
      total.files += r->files;
      total.bytes_uploaded += r->bytes_uploaded;
      total.seq = r->seq;
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat(session_dir, "/recover.json: ", e.what()));
  }
  return total;
}

}  // namespace

absl::StatusOr<CommitReport> PublishPending(const std::string& session_dir) {
  // Nothing in DIR is trusted before this: another user may have planted it.
  if (absl::Status s = CheckKeptSession(session_dir); !s.ok()) return s;
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/pending.json"));
  if (!text.ok()) {
    absl::StatusOr<std::string> recover = ReadFile(absl::StrCat(session_dir, "/recover.json"));
    if (!recover.ok()) {
      return absl::NotFoundError(
          absl::StrCat(session_dir, " holds no unpublished changes (no pending.json or recover.json)"));
    }
    absl::StatusOr<CommitReport> r = PublishKilled(session_dir, *recover);
    if (!r.ok()) return r.status();
    if (absl::Status s = RemoveSessionDir(session_dir); !s.ok()) return s;
    return r;
  }
  json pending = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (pending.is_discarded() || !pending.is_object()) {
    return absl::DataLossError(absl::StrCat(session_dir, "/pending.json is not valid JSON"));
  }
  CommitReport total;
  try {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(pending.at("store").get<std::string>());
    if (!store.ok()) return store.status();
    for (const json& jm : pending.at("mounts")) {
      SessionMount m = SessionMountFromJson(jm);
      std::vector<std::string> changed = jm.at("changed").get<std::vector<std::string>>();
      absl::flat_hash_map<std::string, FetchEngine::Record> records;
      for (const auto& [path, jr] : jm.at("records").items()) {
        absl::StatusOr<Entry> e = EntryFromJson(jr.at("entry"));
        if (!e.ok()) return e.status();
        records[path] = {*std::move(e), jr.at("complete").get<bool>(), jr.at("dirty").get<bool>()};
      }
      absl::StatusOr<CommitReport> r = CommitChanges(**store, m, changed, records, /*skip_open=*/false);
      if (!r.ok()) return r.status();
      total.committed = total.committed || r->committed;
      total.files += r->files;
      total.bytes_uploaded += r->bytes_uploaded;
      total.seq = r->seq;
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat(session_dir, "/pending.json: ", e.what()));
  }
  if (absl::Status s = RemoveSessionDir(session_dir); !s.ok()) return s;
  return total;
}

}  // namespace vol
