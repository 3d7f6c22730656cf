// MaterialMode: the permission bits a stored entry gets when vol writes it
// to local disk (`vol get`, a session's view).
//
// A mode in the store is data anyone with write access to the store chose,
// not a decision of the user who materialises it. So by default the bits
// that hand power to other users are dropped: setuid and setgid (a program
// that runs as its owner or group), write for others (a file or directory
// anyone can change), and sticky on files (meaningless there). Sticky stays
// on directories, where it only restricts. The user asks for the stored
// mode as it is with `--preserve-special-modes` (`preserve`).
#ifndef VOL_FETCHER_FORMAT_MATERIAL_MODE_H_
#define VOL_FETCHER_FORMAT_MATERIAL_MODE_H_

#include <cstdint>

#include "fetcher/format/tree.h"

namespace vol {

// The bits removed unless `preserve` (S_ISUID | S_ISGID | S_IWOTH, and S_ISVTX on non-directories).
uint32_t MaterialMode(uint32_t stored_mode, EntryType type, bool preserve);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_MATERIAL_MODE_H_
