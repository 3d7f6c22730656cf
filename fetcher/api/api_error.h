// How libvol's C functions report errors: an errno-valued code returned,
// and the one-line message kept for the calling thread (vol_last_error).
#ifndef VOL_FETCHER_API_API_ERROR_H_
#define VOL_FETCHER_API_API_ERROR_H_

#include <string>

#include "absl/status/status.h"

namespace vol::api {

// Records `s` as this thread's last error and returns its code (0 for OK,
// which leaves the last error as it was).
int Fail(const absl::Status& s);
// An error with an explicit code.
int Fail(int code, std::string message);
const char* LastError();

// Runs `body`, turning any C++ exception that would otherwise cross the C
// boundary into EPROTO with its text.
template <typename Body>
int Guard(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(71 /* EPROTO */, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(71 /* EPROTO */, "internal error");
  }
}

}  // namespace vol::api

#endif  // VOL_FETCHER_API_API_ERROR_H_
