// PresenceTable: the fetcher's side of the shared-memory presence table
// (include/vol/session.h), a file mapped MAP_SHARED by the fetcher
// (read-write) and by every shimmed process (read-only).
//
// Invariants:
//   - The file is sized once, at Create, with room for `max_files` slots and
//     `max_words` bitmap words; it never grows, because shims map it once at
//     start-up. Spare room is left so that a reload can add files.
//   - A slot's fields are written before its `ino`, which is stored last with
//     release order: a reader that sees the ino sees a whole slot.
//   - A bit is set (atomic OR, release) only after the block's bytes are in
//     the view file; `complete` is set (release) only after every bit is.
//   - The file number a shim sends in vol_request.index is the slot index.
//   - A slot describes a content file linked into a view or a view directory
//     (session.h, vol_slot_kind); directories use no bitmap words.
//   - Insert is called by one thread at a time; SetPresent from any thread.
#ifndef VOL_FETCHER_SESSION_PRESENCE_TABLE_H_
#define VOL_FETCHER_SESSION_PRESENCE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "fetcher/format/object_id.h"
#include "vol/session.h"

namespace vol {

static_assert(sizeof(::vol_presence_file) == 88, "the presence slot is shared with the shim");

// What a slot says about its object (session.h).
struct SlotInfo {
  uint32_t kind = VOL_SLOT_FILE;
  uint64_t size = 0;        // files
  uint64_t block_size = 0;  // files: bytes per bitmap bit
  uint32_t mode = 0;        // files: the mode a program sees
  ObjectId origin_tree;
  uint32_t origin_index = VOL_ORIGIN_ROOT;
  bool complete = false;    // files: all present; dirs: populated
  bool shared = false;      // files: a content file of the shared cache
};

class PresenceTable {
 public:
  // Creates (replacing) the table file at `path`, with room for at least
  // `max_files` files and `max_words` bitmap words.
  static absl::StatusOr<std::unique_ptr<PresenceTable>> Create(const std::string& path,
                                                               uint64_t max_files,
                                                               uint64_t max_words);
  ~PresenceTable();
  PresenceTable(const PresenceTable&) = delete;
  PresenceTable& operator=(const PresenceTable&) = delete;

  // Adds an object; returns its slot. ResourceExhausted when the table or the
  // bitmap area is full. When (dev, ino) already has a slot (a freed inode
  // reused), that slot is reset for the new object.
  absl::StatusOr<uint32_t> Insert(uint64_t dev, uint64_t ino, const SlotInfo& info);
  // A file of `size` bytes in blocks of `block_size` (no origin).
  absl::StatusOr<uint32_t> Insert(uint64_t dev, uint64_t ino, uint64_t size, uint64_t block_size) {
    SlotInfo i;
    i.size = size;
    i.block_size = block_size;
    return Insert(dev, ino, i);
  }
  std::optional<uint32_t> Find(uint64_t dev, uint64_t ino) const;

  uint64_t Blocks(uint32_t slot) const;
  bool IsPresent(uint32_t slot, uint64_t block) const;
  // True when every block in [first, last] is present.
  bool RangePresent(uint32_t slot, uint64_t first, uint64_t last) const;
  void SetPresent(uint32_t slot, uint64_t block);
  void SetComplete(uint32_t slot);
  bool IsComplete(uint32_t slot) const;
  // The mode a program sees for a content file (chmod in the session).
  void SetMode(uint32_t slot, uint32_t mode);
  // Listings (session.h): the epoch a new one records, and its move when
  // those made before may no longer describe their directories.
  uint64_t ListingEpoch() const;
  void NewListingEpoch();

  const vol_presence_header& header() const { return *header_; }
  const vol_presence_file& file(uint32_t slot) const { return Slots()[slot]; }
  uint64_t files() const { return files_; }

 private:
  PresenceTable(void* base, size_t len);
  vol_presence_file* Slots() const;
  uint64_t* Words() const;

  void* base_;
  size_t len_;
  vol_presence_header* header_;
  uint64_t files_ = 0;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_PRESENCE_TABLE_H_
