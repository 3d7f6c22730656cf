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

}  // namespace

SessionCommits::SessionCommits(ObjectStore& store, FetchEngine& engine, ViewPopulator& populator,
                               ViewIndex& index, std::vector<SessionMount> mounts, std::string session_dir)
    : store_(store), engine_(engine), populator_(populator), index_(index), mounts_(std::move(mounts)),
      session_dir_(std::move(session_dir)), changed_(mounts_.size()) {
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
        if (req.offset == VOL_CHANGED_DISCARD) {
          // Content files are shared and never written: nothing to drop.
          guarded(ResponseFor(absl::OkStatus()));
          return;
        }
        if (req.offset == VOL_CHANGED_RENAME) {
          std::string to(req.path + path.size() + 1);
          std::string to_rel;
          int m2 = MountOf(to, &to_rel);
          if (m2 >= 0) {
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
    auto shared_job = std::make_shared<Job>(std::move(job));
    absl::MutexLock lock(&mu_);
    work_ = [this, snaps = std::move(snaps), shared_job, bases] {
      auto done = std::make_shared<std::vector<std::pair<size_t, std::string>>>();
      auto result = std::make_shared<absl::StatusOr<CommitReport>>(Run(snaps, shared_job->skip_open, done.get()));
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
          UniqueFd root(open(mounts_[plan.mount].view.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
          absl::Status s = root.ok() ? populator_.Reload(plan.mount, root.get(), mounts_[plan.mount].base_root,
                                                         plan.head, keep)
                                     : ErrnoError(absl::StrCat("cannot open view ", mounts_[plan.mount].view), errno);
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

absl::StatusOr<CommitReport> SessionCommits::Run(const std::vector<Snapshot>& snaps, bool skip_open,
                                                 std::vector<std::pair<size_t, std::string>>* done) {
  CommitReport total;
  for (const Snapshot& s : snaps) {
    std::vector<std::string> paths;
    for (const auto& [p, g] : s.changed) paths.push_back(p);
    absl::StatusOr<CommitReport> r = CommitChanges(store_, mounts_[s.mount], paths, index_, skip_open);
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
  std::vector<std::pair<size_t, std::string>> done;
  absl::StatusOr<CommitReport> r = Run(snaps, /*skip_open=*/false, &done);
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
    json changed = json::array();
    for (const auto& [p, g] : s.changed) changed.push_back(p);
    pending["mounts"].push_back({{"mount", m.mount}, {"view", m.view}, {"env", m.volume.env},
                                 {"name", m.volume.name}, {"id", m.volume.id}, {"changed", changed}});
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

bool OwnerAlive(const std::string& session_dir, int* pid) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/owner"));
  *pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), pid) || *pid <= 0) return false;
  return ProcessAlive(*pid);
}

// A session whose fetcher is gone: its mounts come from recover.json, its
// changed paths from pending.json (a failed final commit) or else the
// journal, and what each view object is from the presence table it left
// (DeadViewIndex): a content file keeps the chunks of the snapshot entry it
// mirrors, an unpopulated directory its tree, and nothing unfetched is read.
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
  CommitReport total;
  try {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(rec.at("store").get<std::string>());
    if (!store.ok()) return store.status();
    absl::StatusOr<std::unique_ptr<DeadViewIndex>> index =
        DeadViewIndex::Open(absl::StrCat(session_dir, "/" VOL_SESSION_PRESENCE), **store);
    if (!index.ok()) return index.status();
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
    auto mount_no = [&](const std::string& t, size_t* m) {
      return absl::SimpleAtoi(t, m) && *m < mounts.size();
    };
    for (size_t i = 0; i < f.size();) {
      size_t m = 0, m2 = 0;
      if (f[i] == "P" && i + 3 < f.size() && mount_no(f[i + 1], &m)) {
        changed[m].push_back(f[i + 2]);
        i += 3;
      } else if (f[i] == "R" && i + 5 < f.size() && mount_no(f[i + 1], &m) && mount_no(f[i + 3], &m2)) {
        i += 5;
      } else {
        break;
      }
    }
    // A failed final commit listed what it would have published.
    if (absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/pending.json")); text.ok()) {
      json pending = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (pending.is_discarded() || !pending.is_object()) {
        return absl::DataLossError(absl::StrCat(session_dir, "/pending.json is not valid JSON"));
      }
      for (const json& jm : pending.at("mounts")) {
        std::string mount = jm.at("mount").get<std::string>();
        for (size_t mi = 0; mi < mounts.size(); ++mi) {
          if (mounts[mi].mount != mount) continue;
          for (const json& p : jm.at("changed")) changed[mi].push_back(p.get<std::string>());
        }
      }
    }
    for (size_t mi = 0; mi < mounts.size(); ++mi) {
      const SessionMount& m = mounts[mi];
      if (m.read_only || changed[mi].empty()) continue;
      absl::StatusOr<CommitReport> r = CommitChanges(**store, m, changed[mi], **index, /*skip_open=*/false);
      if (!r.ok() || !(*index)->status().ok()) {
        absl::Status why = r.ok() ? (*index)->status() : r.status();
        return absl::Status(why.code(), absl::StrCat("commit of ", m.mount, " (volume '", m.volume.name,
                                                     "') failed: ", why.message()));
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
  absl::StatusOr<std::string> recover = ReadFile(absl::StrCat(session_dir, "/recover.json"));
  if (!recover.ok()) {
    return absl::NotFoundError(absl::StrCat(session_dir, " holds no unpublished changes (no recover.json)"));
  }
  absl::StatusOr<CommitReport> r = PublishKilled(session_dir, *recover);
  if (!r.ok()) return r.status();
  if (absl::Status s = RemoveSessionDir(session_dir); !s.ok()) return s;
  return r;
}

}  // namespace vol
