#include "fetcher/util/errno_status.h"

#include <cerrno>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace vol {
namespace {
constexpr char kErrnoPayload[] = "type.vol/errno";
}  // namespace

absl::Status WithErrno(absl::Status s, int err) {
  if (!s.ok()) s.SetPayload(kErrnoPayload, absl::Cord(std::to_string(err)));
  return s;
}

int ErrnoOf(const absl::Status& s) {
  if (s.ok()) return 0;
  if (auto p = s.GetPayload(kErrnoPayload)) {
    int err = 0;
    if (absl::SimpleAtoi(std::string(*p), &err) && err > 0) return err;
  }
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return ENOENT;
    case absl::StatusCode::kAlreadyExists: return EEXIST;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated: return EACCES;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return EINVAL;
    case absl::StatusCode::kDataLoss: return EIO;
    case absl::StatusCode::kResourceExhausted: return ENOSPC;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnknown: return EHOSTUNREACH;
    default: return EPROTO;
  }
}

}  // namespace vol
