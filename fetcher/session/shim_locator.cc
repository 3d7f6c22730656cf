#include "fetcher/session/shim_locator.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {

absl::StatusOr<std::string> LocateShim() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return ErrnoError("cannot find the vol executable (/proc/self/exe)", errno);
  exe[n] = '\0';
  std::string dir(exe);
  dir.resize(dir.rfind('/'));
  std::string candidates[] = {absl::StrCat(dir, "/libvolshim.so"),
                              absl::StrCat(dir, "/../lib/libvolshim.so")};
  for (const std::string& c : candidates) {
    char real[PATH_MAX];
    if (access(c.c_str(), R_OK) == 0 && realpath(c.c_str(), real) != nullptr) return std::string(real);
  }
  return absl::NotFoundError(absl::StrCat("cannot find libvolshim.so (looked for ", candidates[0],
                                          " and ", candidates[1],
                                          "): build it with `make`, or install vol with `make install`"));
}

}  // namespace vol
