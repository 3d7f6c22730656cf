// SessionCall: one request to the fetcher of the session named by
// $VOL_SESSION (how `vol commit` and `vol reload` reach it from inside).
#ifndef VOL_FETCHER_SESSION_SESSION_CLIENT_H_
#define VOL_FETCHER_SESSION_SESSION_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "vol/session.h"

namespace vol {

// FailedPrecondition outside a session; the fetcher's error as a status.
absl::StatusOr<vol_response> SessionCall(uint32_t op, const std::string& path);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_CLIENT_H_
