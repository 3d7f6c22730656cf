#include "fetcher/format/material_mode.h"

#include <sys/stat.h>

namespace vol {

uint32_t MaterialMode(uint32_t stored_mode, EntryType type, bool preserve) {
  uint32_t mode = stored_mode & 07777;
  if (preserve) return mode;
  mode &= ~static_cast<uint32_t>(S_ISUID | S_ISGID | S_IWOTH);
  if (type != EntryType::kDir) mode &= ~static_cast<uint32_t>(S_ISVTX);
  return mode;
}

}  // namespace vol
