// Where libvolshim.so is: beside the running `vol` (the build tree:
// build/vol and build/libvolshim.so) or in ../lib (after `make install`:
// $PREFIX/bin/vol and $PREFIX/lib/libvolshim.so).
#ifndef VOL_FETCHER_SESSION_SHIM_LOCATOR_H_
#define VOL_FETCHER_SESSION_SHIM_LOCATOR_H_

#include <string>

#include "absl/status/statusor.h"

namespace vol {

// The absolute path of libvolshim.so, or NotFound naming where it looked.
absl::StatusOr<std::string> LocateShim();

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SHIM_LOCATOR_H_
