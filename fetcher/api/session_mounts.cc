#include "fetcher/api/session_mounts.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol::api {

absl::StatusOr<std::optional<SessionInfo>> CurrentSession() {
  const char* dir = std::getenv(VOL_SESSION_ENV);
  if (dir == nullptr || *dir != '/') return std::nullopt;
  SessionInfo info;
  info.dir = dir;
  std::string path = absl::StrCat(dir, "/recover.json");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the mounts of session ", dir, " ($VOL_SESSION): ", text.status().message()));
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.value("store", nlohmann::json()).is_string()) {
    return absl::DataLossError(absl::StrCat(path, " is not what vol writes"));
  }
  info.store = j["store"].get<std::string>();
  for (const nlohmann::json& m : j.value("mounts", nlohmann::json::array())) {
    if (!m.is_object() || !m.value("mount", nlohmann::json()).is_string() ||
        !m.value("id", nlohmann::json()).is_string()) {
      continue;
    }
    info.mounts.push_back({m["mount"].get<std::string>(), m["id"].get<std::string>(),
                           m.value("read_only", false)});
  }
  return info;
}

}  // namespace vol::api
