#include "fetcher/volume/write_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "fetcher/format/gc_protocol.h"
#include "fetcher/format/keys.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {
namespace {

std::string RandomHex() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

}  // namespace

absl::StatusOr<std::unique_ptr<WriteLock>> WriteLock::Acquire(ObjectStore& store,
                                                              absl::string_view purpose,
                                                              std::vector<Pin> pins) {
  int64_t created = absl::GetCurrentTimeNanos();
  std::unique_ptr<WriteLock> lock(new WriteLock(store, LockKey(created, RandomHex()),
                                                std::string(purpose), created, std::move(pins)));
  std::string body;
  {
    absl::MutexLock l(&lock->mu_);
    body = lock->Body();
  }
  if (absl::Status s = store.Put(lock->key_, body); !s.ok()) return s;
  lock->thread_ = std::thread([raw = lock.get()] { raw->Refresh(); });
  return lock;
}

WriteLock::WriteLock(ObjectStore& store, std::string key, std::string purpose, int64_t created,
                     std::vector<Pin> pins)
    : store_(store), key_(std::move(key)), purpose_(std::move(purpose)), created_(created) {
  absl::MutexLock lock(&mu_);
  pins_ = std::move(pins);
  last_ok_ = absl::Now();
}

std::string WriteLock::Body() const {
  nlohmann::json pins = nlohmann::json::array();
  for (const Pin& p : pins_) pins.push_back({p.volume_id, p.seq});
  return nlohmann::json{{"host", HostName()}, {"pid", getpid()},   {"created", created_},
                        {"purpose", purpose_}, {"pins", pins}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status WriteLock::SetPins(std::vector<Pin> pins) {
  std::string body;
  {
    absl::MutexLock lock(&mu_);
    pins_ = std::move(pins);
    body = Body();
  }
  absl::Status s = store_.Put(key_, body);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    last_ok_ = absl::Now();
  }
  return s;
}

WriteLock::~WriteLock() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Best effort: a lock left behind only delays collection until it is stale.
  store_.Delete(key_).IgnoreError();
}

void WriteLock::Refresh() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), gc_protocol::LockRefreshEvery());
    if (stopping_) return;
    std::string body = Body();
    mu_.Unlock();
    absl::Status s = store_.Put(key_, body);
    mu_.Lock();
    absl::Time now = absl::Now();
    if (now - last_ok_ >= gc_protocol::LockLapse()) lapsed_ = true;
    if (s.ok()) last_ok_ = now;
  }
}

absl::Status WriteLock::Check() {
  absl::MutexLock lock(&mu_);
  absl::Duration since = absl::Now() - last_ok_;
  if (lapsed_ || since >= gc_protocol::LockLapse()) {
    lapsed_ = true;
    return absl::UnavailableError(absl::StrCat(
        "this upload could not refresh its lock ", key_, " in store ", store_.Url(), " for ",
        absl::FormatDuration(absl::Trunc(since, absl::Seconds(1))),
        ", so a vol gc may have removed what it uploaded: nothing was committed; upload again"));
  }
  return absl::OkStatus();
}

}  // namespace vol
