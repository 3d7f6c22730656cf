// An errno value carried by an absl::Status, for the callers that must tell
// "is a directory" from "not a directory" (libvol, and through it Python's
// IsADirectoryError / NotADirectoryError), where the status code alone
// (FailedPrecondition for both) cannot.
#ifndef VOL_FETCHER_UTIL_ERRNO_STATUS_H_
#define VOL_FETCHER_UTIL_ERRNO_STATUS_H_

#include "absl/status/status.h"

namespace vol {

// `s` with `err` attached (s unchanged when OK).
absl::Status WithErrno(absl::Status s, int err);

// The errno a status stands for: the attached one, else one derived from its
// code (NotFound ENOENT, AlreadyExists EEXIST, PermissionDenied and
// Unauthenticated EACCES, InvalidArgument EINVAL, DataLoss EIO,
// ResourceExhausted ENOSPC, Unavailable/DeadlineExceeded/Unknown
// EHOSTUNREACH — a store that did not answer — and EPROTO for the rest).
// 0 for OK.
int ErrnoOf(const absl::Status& s);

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_ERRNO_STATUS_H_
