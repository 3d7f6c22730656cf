// What this build of vol is: its version, the commit it was built from
// (embedded by the Makefile), and the store format versions it reads and
// writes. `vol --version` prints VersionText(); libvol returns the same.
#ifndef VOL_FETCHER_UTIL_VERSION_H_
#define VOL_FETCHER_UTIL_VERSION_H_

#include <string>

namespace vol {

// "0.1.0" (VERSION at the top of the source tree).
const char* Version();
// "8623b67a1b2c", with "-dirty" when built from uncommitted changes;
// "unknown" when built outside a git checkout.
const char* GitCommit();
int FormatVersionRead();     // the newest store format this build reads (from 1)
int FormatVersionWritten();  // the newest it writes (version 2 only where a tree needs it)

// Two lines:
//   vol 0.1.0 (commit 8623b67a1b2c)
//   store format: reads versions 1 to 2, writes versions 1 to 2
std::string VersionText();

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_VERSION_H_
