#include <cstdlib>

#include "absl/strings/string_view.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/store/file_store.h"
#include "fetcher/store/object_store.h"
#include "fetcher/store/s3_store.h"

namespace vol {

std::string DefaultStoreUrl() {
  if (const char* env = getenv("VOL_STORE"); env != nullptr && *env != '\0') return env;
  const char* data = getenv("XDG_DATA_HOME");
  if (data != nullptr && *data == '/') return absl::StrCat("file://", data, "/vol/store");
  const char* home = getenv("HOME");
  return absl::StrCat("file://", home != nullptr ? home : "", "/.local/share/vol/store");
}

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url) {
  std::string chosen = url.empty() ? DefaultStoreUrl() : std::string(url);
  if (absl::StartsWith(chosen, "file://")) return NewFileStore(chosen.substr(7));
  if (!chosen.empty() && chosen[0] == '/') return NewFileStore(chosen);
  if (absl::StartsWith(chosen, "s3://")) return NewS3Store(chosen);
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported store URL '", chosen, "': use file:///absolute/path or s3://bucket/prefix"));
}

}  // namespace vol
