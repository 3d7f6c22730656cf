#include "fetcher/api/api_error.h"

#include <utility>

#include "fetcher/util/errno_status.h"

namespace vol::api {
namespace {
thread_local std::string t_last_error;
}  // namespace

int Fail(const absl::Status& s) {
  if (s.ok()) return 0;
  t_last_error = std::string(s.message());
  return ErrnoOf(s);
}

int Fail(int code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

const char* LastError() { return t_last_error.c_str(); }

}  // namespace vol::api
