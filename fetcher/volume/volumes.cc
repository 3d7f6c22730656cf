#include "fetcher/volume/volumes.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"

namespace vol {
namespace {

using nlohmann::json;

std::string RandomId() {
  unsigned char buf[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
  if (fd >= 0) close(fd);
  if (n != static_cast<ssize_t>(sizeof buf)) {
    // Fall back to time and pid: ids need to be unique, not secret.
    uint64_t a = static_cast<uint64_t>(absl::GetCurrentTimeNanos()), b = static_cast<uint64_t>(getpid());
    memcpy(buf, &a, 8);
    memcpy(buf + 8, &b, 8);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string EncodeRecord(const VolumeInfo& v) {
  return EncodeObject(ObjectKind::kVolume,
                      DumpJson(json{{"id", v.id}, {"name", v.name}, {"created", v.created_ns}}),
                      /*try_compress=*/false)
      .bytes;
}

absl::StatusOr<VolumeInfo> DecodeRecord(absl::string_view env, absl::string_view name,
                                        absl::string_view bytes, absl::string_view key) {
  absl::StatusOr<std::string> raw = DecodeObject(ObjectKind::kVolume, bytes, key);
  if (!raw.ok()) return raw.status();
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string()) {
    return absl::DataLossError(absl::StrCat("volume record ", key, " is malformed"));
  }
  VolumeInfo v{std::string(env), std::string(name), j["id"].get<std::string>(), 0};
  if (auto c = j.find("created"); c != j.end() && c->is_number_integer()) v.created_ns = c->get<int64_t>();
  return v;
}

}  // namespace

absl::Status ValidateVolumeName(absl::string_view name, absl::string_view what) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-');
  if (ok && name != "." && name != "..") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " '", name,
                   "': use 1-64 characters of letters, digits, '.', '_' and '-'"));
}

absl::StatusOr<VolumeInfo> CreateVolume(ObjectStore& store, absl::string_view env,
                                        absl::string_view name, bool allow_existing,
                                        bool* created) {
  if (absl::Status s = ValidateVolumeName(env, "environment name"); !s.ok()) return s;
  if (absl::Status s = ValidateVolumeName(name); !s.ok()) return s;
  VolumeInfo v{std::string(env), std::string(name), RandomId(), absl::GetCurrentTimeNanos()};
  absl::Status s = store.PutIfAbsent(VolumeNameKey(env, name), EncodeRecord(v));
  if (created != nullptr) *created = s.ok();
  if (s.ok()) return v;
  if (absl::IsAlreadyExists(s)) {
    if (allow_existing) return LookupVolume(store, env, name);
    return absl::AlreadyExistsError(absl::StrCat("volume '", name, "' already exists in environment '",
                                                 env, "' (use --allow-existing to accept it)"));
  }
  return s;
}

absl::StatusOr<VolumeInfo> LookupVolume(ObjectStore& store, absl::string_view env,
                                        absl::string_view name) {
  if (absl::Status s = ValidateVolumeName(env, "environment name"); !s.ok()) return s;
  if (absl::Status s = ValidateVolumeName(name); !s.ok()) return s;
  std::string key = VolumeNameKey(env, name);
  absl::StatusOr<std::string> bytes = store.Get(key);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::NotFoundError(absl::StrCat("volume '", name, "' not found in environment '", env,
                                              "' (create it with: vol create ", name, ")"));
    }
    return bytes.status();
  }
  return DecodeRecord(env, name, *bytes, key);
}

absl::StatusOr<std::vector<VolumeInfo>> ListVolumes(ObjectStore& store, absl::string_view env) {
  if (absl::Status s = ValidateVolumeName(env, "environment name"); !s.ok()) return s;
  std::string prefix = VolumeNamePrefix(env);
  absl::StatusOr<std::vector<std::string>> keys = store.List(prefix);
  if (!keys.ok()) return keys.status();
  std::vector<VolumeInfo> out;
  for (const std::string& key : *keys) {
    std::string name = key.substr(prefix.size());
    if (name.find('/') != std::string::npos) continue;
    absl::StatusOr<std::string> bytes = store.Get(key);
    if (absl::IsNotFound(bytes.status())) continue;  // deleted while listing
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<VolumeInfo> v = DecodeRecord(env, name, *bytes, key);
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  return out;
}

absl::Status RenameVolume(ObjectStore& store, absl::string_view env, absl::string_view from,
                          absl::string_view to) {
  absl::StatusOr<VolumeInfo> v = LookupVolume(store, env, from);
  if (!v.ok()) return v.status();
  if (absl::Status s = ValidateVolumeName(to); !s.ok()) return s;
  if (from == to) return absl::OkStatus();
  v->name = std::string(to);
  absl::Status s = store.PutIfAbsent(VolumeNameKey(env, to), EncodeRecord(*v));
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat("cannot rename '", from, "' to '", to, "': volume '",
                                                 to, "' already exists in environment '", env, "'"));
  }
  if (!s.ok()) return s;
  return store.Delete(VolumeNameKey(env, from));
}

absl::Status DeleteVolume(ObjectStore& store, absl::string_view env, absl::string_view name) {
  absl::StatusOr<VolumeInfo> v = LookupVolume(store, env, name);
  if (!v.ok()) return v.status();
  return store.Delete(VolumeNameKey(env, name));
}

}  // namespace vol
