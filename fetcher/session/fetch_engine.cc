#include "fetcher/session/fetch_engine.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

// Chunks of one bitmap block each when every chunk but the last has
// kChunkSize bytes (what `vol put` writes); otherwise the file is one block.
bool UniformChunks(const Entry& e) {
  for (size_t i = 0; i + 1 < e.chunks.size(); ++i) {
    if (e.chunks[i].size != kChunkSize) return false;
  }
  return !e.chunks.empty() && e.chunks.back().size <= kChunkSize;
}

// Opens a view file for writing even when its mode has no write bit.
UniqueFd OpenForWrite(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.ok() || errno != EACCES) return fd;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return fd;
  if (chmod(path.c_str(), (st.st_mode & 07777) | S_IWUSR) != 0) return fd;
  fd.reset(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  int err = errno;
  chmod(path.c_str(), st.st_mode & 07777);
  errno = err;
  return fd;
}

}  // namespace

FetchEngine::FetchEngine(ObjectStore& store, ChunkCache* cache, PresenceTable& presence,
                         int workers, ReadAheadParams read_ahead)
    : store_(store), cache_(cache), presence_(presence), ra_params_(read_ahead) {
  event_fd_ = eventfd(0, EFD_CLOEXEC);
  for (int i = 0; i < std::max(workers, 1); ++i) threads_.emplace_back([this] { Work(); });
}

FetchEngine::~FetchEngine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  if (event_fd_ >= 0) close(event_fd_);
  auto close_fd = [](File& f) {
    absl::MutexLock lock(&f.write_mu);
    if (f.fd >= 0) close(f.fd);
  };
  for (auto& [slot, f] : files_) close_fd(*f);
  for (auto& f : retired_) close_fd(*f);
}

absl::Status FetchEngine::AddFile(const ViewFile& view) {
  bool uniform = UniformChunks(view.entry);
  uint64_t block = uniform ? kChunkSize : std::max<uint64_t>(view.entry.size, 1);
  absl::StatusOr<uint32_t> slot = presence_.Insert(view.dev, view.ino, view.entry.size, block);
  if (!slot.ok()) return slot.status();
  auto f = std::make_unique<File>(ra_params_);
  f->view = view;
  f->slot = *slot;
  f->uniform = uniform;
  uint64_t off = 0;
  for (const ChunkRef& c : view.entry.chunks) {
    f->offsets.push_back(off);
    off += c.size;
  }
  if (off != view.entry.size) {
    return absl::DataLossError(absl::StrCat("the tree gives ", view.path, " ", view.entry.size,
                                            " bytes but its chunks hold ", off));
  }
  f->state.assign(view.entry.chunks.size(), ChunkState::kAbsent);
  by_path_[view.path] = f.get();
  if (auto old = files_.find(*slot); old != files_.end()) retired_.push_back(std::move(old->second));
  files_[*slot] = std::move(f);
  return absl::OkStatus();
}

void FetchEngine::Fetch(uint32_t index, uint64_t offset, uint64_t length, bool all, Done done) {
  ++requests_;
  auto it = files_.find(index);
  if (it == files_.end()) {
    done(absl::InvalidArgumentError(absl::StrCat("no view file has number ", index)));
    return;
  }
  File& f = *it->second;
  uint64_t n = f.state.size();
  if (f.present == n || n == 0) {
    done(absl::OkStatus());
    return;
  }
  bool uniform = f.uniform;
  uint64_t first = 0, last = n - 1;
  if (!all && uniform) {
    if (length == 0 || offset >= f.view.entry.size) {
      done(absl::OkStatus());
      return;
    }
    uint64_t end = std::min(f.view.entry.size, offset + length);
    first = offset / kChunkSize;
    last = (end - 1) / kChunkSize;
  }
  auto req = std::make_shared<Request>();
  req->done = std::move(done);
  for (uint64_t c = first; c <= last; ++c) {
    if (f.state[c] == ChunkState::kPresent) continue;
    ++req->waiting;
    f.waiters[c].push_back(req);
    Schedule(f, c, /*demand=*/true);
  }
  if (!all && uniform) {
    ReadAhead::Range ra = f.read_ahead.OnRequest(first, last, n);
    for (uint64_t c = ra.first; c < ra.first + ra.count; ++c) {
      if (ra_inflight_ >= ra_params_.max_inflight) break;
      Schedule(f, c, /*demand=*/false);
    }
  }
  if (req->waiting == 0) Finish(req);
}

void FetchEngine::Schedule(File& f, uint64_t chunk, bool demand) {
  ChunkState& s = f.state[chunk];
  if (s == ChunkState::kPresent || s == ChunkState::kDemand) return;
  if (s == ChunkState::kReadAhead) {
    if (!demand) return;
    // Promote: move it to the demand queue unless a worker already has it.
    s = ChunkState::kDemand;
    --ra_inflight_;
    absl::MutexLock lock(&mu_);
    for (auto it = ahead_.begin(); it != ahead_.end(); ++it) {
      if (it->file == &f && it->chunk == chunk) {
        ahead_.erase(it);
        demand_.push_back({&f, chunk});
        break;
      }
    }
    return;
  }
  s = demand ? ChunkState::kDemand : ChunkState::kReadAhead;
  if (!demand) ++ra_inflight_;
  absl::MutexLock lock(&mu_);
  (demand ? demand_ : ahead_).push_back({&f, chunk});
}

void FetchEngine::Work() {
  for (;;) {
    Task t;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](FetchEngine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
            return e->stopping_ || !e->demand_.empty() || !e->ahead_.empty();
          },
          this));
      if (stopping_) return;
      std::deque<Task>& q = demand_.empty() ? ahead_ : demand_;
      t = q.front();
      q.pop_front();
    }
    absl::Status s = FetchOne(*t.file, t.chunk);
    if (!s.ok()) errors_.fetch_add(1, std::memory_order_relaxed);
    {
      absl::MutexLock lock(&mu_);
      completions_.push_back({t.file, t.chunk, std::move(s)});
    }
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
}

absl::Status FetchEngine::FetchOne(File& f, uint64_t chunk) {
  const ChunkRef& ref = f.view.entry.chunks[chunk];
  std::string raw;
  if (std::optional<std::string> hit = cache_ ? cache_->Get(ref) : std::nullopt) {
    raw = *std::move(hit);
    cache_chunks_.fetch_add(1, std::memory_order_relaxed);
    cache_bytes_.fetch_add(raw.size(), std::memory_order_relaxed);
  } else {
    std::string key = ChunkKey(ref.id);
    absl::StatusOr<std::string> bytes = store_.Get(key);
    if (!bytes.ok()) {
      if (absl::IsNotFound(bytes.status())) {
        return absl::DataLossError(absl::StrCat("chunk ", key, " is missing from store ", store_.Url()));
      }
      return bytes.status();
    }
    store_bytes_.fetch_add(bytes->size(), std::memory_order_relaxed);
    store_chunks_.fetch_add(1, std::memory_order_relaxed);
    absl::StatusOr<std::string> decoded = DecodeObjectWithId(ObjectKind::kChunk, *bytes, ref.id, key);
    if (!decoded.ok()) return decoded.status();
    if (decoded->size() != ref.size) {
      return absl::DataLossError(absl::StrCat("chunk ", key, " has ", decoded->size(),
                                              " bytes where the tree says ", ref.size));
    }
    raw = *std::move(decoded);
    if (cache_) {
      if (absl::Status s = cache_->Put(ref, raw); !s.ok() && !cache_warned_.exchange(true)) {
        fprintf(stderr, "vol: warning: local cache: %s\n", std::string(s.message()).c_str());
      }
    }
  }
  absl::MutexLock lock(&f.write_mu);
  if (f.discarded) return absl::OkStatus();  // the program dropped this content
  UniqueFd owned;
  int fd_num = f.fd;
  if (fd_num < 0) {
    owned = OpenForWrite(f.view.path);
    if (!owned.ok()) return ErrnoError(absl::StrCat("cannot write view file ", f.view.path), errno);
    fd_num = owned.get();
  }
  struct FdRef {
    int n;
    int get() const { return n; }
  } fd{fd_num};
  if (absl::Status s = PwriteFull(fd.get(), raw.data(), raw.size(), f.offsets[chunk]); !s.ok()) {
    return s;
  }
  // Writing moved the mtime; the view must keep the snapshot's.
  int64_t ns = f.view.entry.mtime_ns;
  struct timespec times[2] = {{0, UTIME_OMIT},
                              {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)}};
  futimens(fd.get(), times);
  view_bytes_.fetch_add(raw.size(), std::memory_order_relaxed);
  if (f.uniform) presence_.SetPresent(f.slot, chunk);
  return absl::OkStatus();
}

void FetchEngine::OnCompletions() {
  std::vector<Completion> done;
  std::vector<std::function<void()>> posted;
  {
    absl::MutexLock lock(&mu_);
    done.swap(completions_);
    posted.swap(posted_);
  }
  for (auto& fn : posted) fn();
  for (Completion& c : done) {
    File& f = *c.file;
    ChunkState& s = f.state[c.chunk];
    if (s == ChunkState::kReadAhead) --ra_inflight_;
    if (c.status.ok()) {
      s = ChunkState::kPresent;
      if (++f.present == f.state.size()) {
        // A whole-file block (irregular chunks) becomes present only now.
        if (!f.uniform) presence_.SetPresent(f.slot, 0);
        presence_.SetComplete(f.slot);
      }
    } else {
      s = ChunkState::kAbsent;
    }
    auto it = f.waiters.find(c.chunk);
    if (it == f.waiters.end()) continue;
    std::vector<std::shared_ptr<Request>> reqs = std::move(it->second);
    f.waiters.erase(it);
    for (std::shared_ptr<Request>& r : reqs) {
      if (!c.status.ok() && r->status.ok()) r->status = c.status;
      if (--r->waiting == 0) Finish(r);
    }
  }
}

void FetchEngine::Post(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

void FetchEngine::Discard(const std::string& view_path) {
  auto it = by_path_.find(view_path);
  if (it == by_path_.end()) return;
  File& f = *it->second;
  {
    absl::MutexLock lock(&f.write_mu);  // waits for a chunk being written
    f.discarded = true;
  }
  f.dirty = true;
  presence_.SetComplete(f.slot);
}

void FetchEngine::Rename(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, File*>> moved;
  for (auto& [path, f] : by_path_) {
    if (path == from || (path.size() > from.size() && path.compare(0, from.size(), from) == 0 &&
                         path[from.size()] == '/')) {
      moved.emplace_back(path, f);
    }
  }
  // A file renamed onto a recorded path replaces it.
  if (moved.size() == 1 && moved[0].first == from) by_path_.erase(to);
  for (auto& [path, f] : moved) {
    std::string now = to + path.substr(from.size());
    by_path_.erase(path);
    {
      absl::MutexLock lock(&f->write_mu);
      f->view.path = now;
    }
    by_path_[now] = f;
  }
}

void FetchEngine::Detach(const std::string& view_path) {
  auto it = by_path_.find(view_path);
  if (it == by_path_.end()) return;
  File& f = *it->second;
  by_path_.erase(it);
  if (f.present == f.state.size() || presence_.IsComplete(f.slot)) return;
  absl::MutexLock lock(&f.write_mu);
  if (f.fd < 0 && !f.discarded) f.fd = OpenForWrite(f.view.path).release();
}

void FetchEngine::MarkDirty(const std::string& view_path) {
  auto it = by_path_.find(view_path);
  if (it != by_path_.end()) it->second->dirty = true;
}

absl::flat_hash_map<std::string, FetchEngine::Record> FetchEngine::Records(
    const std::vector<std::string>* roots) const {
  absl::flat_hash_map<std::string, Record> out;
  auto wanted = [roots](const std::string& path) {
    if (roots == nullptr) return true;
    for (const std::string& r : *roots) {
      if (path.size() >= r.size() && path.compare(0, r.size(), r) == 0 &&
          (path.size() == r.size() || path[r.size()] == '/')) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [path, f] : by_path_) {
    if (!wanted(path)) continue;
    Record r;
    r.entry = f->view.entry;
    r.complete = f->present == f->state.size() || presence_.IsComplete(f->slot);
    r.dirty = f->dirty;
    r.dev = f->view.dev;
    r.ino = f->view.ino;
    out[path] = std::move(r);
  }
  return out;
}

void FetchEngine::Finish(std::shared_ptr<Request>& r) {
  Done done = std::move(r->done);
  if (done) done(r->status);
}

FetchStats FetchEngine::stats() const {
  FetchStats s;
  s.store_bytes = store_bytes_.load();
  s.store_chunks = store_chunks_.load();
  s.cache_chunks = cache_chunks_.load();
  s.cache_bytes = cache_bytes_.load();
  s.view_bytes = view_bytes_.load();
  s.requests = requests_;
  s.errors = errors_.load();
  return s;
}

}  // namespace vol
