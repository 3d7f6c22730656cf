#include "fetcher/session/presence_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {

namespace {

constexpr uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

absl::StatusOr<std::unique_ptr<PresenceTable>> PresenceTable::Create(const std::string& path,
                                                                     uint64_t max_files,
                                                                     uint64_t max_words) {
  // Load factor at most 1/2 keeps linear probes short.
  uint64_t slots = std::bit_ceil(std::max<uint64_t>(64, max_files * 2));
  uint64_t table_offset = RoundUp(sizeof(vol_presence_header), 64);
  uint64_t bitmap_offset = RoundUp(table_offset + slots * sizeof(vol_presence_file), 4096);
  uint64_t words = std::max<uint64_t>(max_words, 64);
  uint64_t len = RoundUp(bitmap_offset + words * 8, 4096);

  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot create presence table ", path), errno);
  if (ftruncate(fd.get(), static_cast<off_t>(len)) != 0) {
    return ErrnoError(absl::StrCat("cannot size presence table ", path), errno);
  }
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return ErrnoError(absl::StrCat("cannot map presence table ", path), errno);
  std::unique_ptr<PresenceTable> t(new PresenceTable(base, len));
  vol_presence_header* h = t->header_;
  h->table_slots = slots;
  h->table_offset = table_offset;
  h->bitmap_offset = bitmap_offset;
  h->bitmap_words = (len - bitmap_offset) / 8;
  h->bitmap_used = 0;
  h->listing_epoch = 0;
  h->version = VOL_PRESENCE_VERSION;
  std::atomic_ref<uint32_t>(h->magic).store(VOL_PRESENCE_MAGIC, std::memory_order_release);
  return t;
}

PresenceTable::PresenceTable(void* base, size_t len)
    : base_(base), len_(len), header_(static_cast<vol_presence_header*>(base)) {}

PresenceTable::~PresenceTable() { munmap(base_, len_); }

vol_presence_file* PresenceTable::Slots() const {
  return reinterpret_cast<vol_presence_file*>(static_cast<char*>(base_) + header_->table_offset);
}

uint64_t* PresenceTable::Words() const {
  return reinterpret_cast<uint64_t*>(static_cast<char*>(base_) + header_->bitmap_offset);
}

absl::StatusOr<uint32_t> PresenceTable::Insert(uint64_t dev, uint64_t ino, const SlotInfo& info) {
  bool file = info.kind == VOL_SLOT_FILE;
  if (ino == 0 || (file && info.block_size == 0)) return absl::InvalidArgumentError("presence: bad slot");
  uint64_t mask = header_->table_slots - 1;
  if ((files_ + 1) * 2 > header_->table_slots) {
    return absl::ResourceExhaustedError("presence table is full");
  }
  uint64_t blocks = file ? (info.size + info.block_size - 1) / info.block_size : 0;
  uint64_t words = (blocks + 63) / 64;
  if (header_->bitmap_used + words > header_->bitmap_words) {
    return absl::ResourceExhaustedError("presence bitmap is full");
  }
  vol_presence_file* slots = Slots();
  uint64_t i = vol_presence_hash(ino) & mask;
  bool reused = false;
  for (;; i = (i + 1) & mask) {
    uint64_t sino = std::atomic_ref<uint64_t>(slots[i].ino).load(std::memory_order_acquire);
    if (sino == 0) break;
    if (sino == ino && slots[i].dev == dev) {
      // The inode was freed and reused: the slot starts over for the new
      // object, with fresh bitmap words; `complete` is cleared first.
      std::atomic_ref<uint32_t>(slots[i].complete).store(0, std::memory_order_release);
      reused = true;
      break;
    }
  }
  vol_presence_file& s = slots[i];
  s.dev = dev;
  s.size = info.size;
  s.block_size = file ? info.block_size : 0;
  s.bitmap_word = header_->bitmap_used;
  s.index = static_cast<uint32_t>(i);
  s.kind = info.kind;
  s.mode = info.mode;
  memcpy(s.origin_tree, info.origin_tree.bytes().data(), sizeof s.origin_tree);
  s.origin_index = info.origin_index;
  s.flags = info.shared ? VOL_SLOT_SHARED : 0;
  header_->bitmap_used += words;
  std::atomic_ref<uint32_t>(s.complete).store(info.complete ? 1 : 0, std::memory_order_release);
  if (!reused) {
    std::atomic_ref<uint64_t>(s.ino).store(ino, std::memory_order_release);
    ++files_;
  }
  return static_cast<uint32_t>(i);
}

std::optional<uint32_t> PresenceTable::Find(uint64_t dev, uint64_t ino) const {
  uint64_t mask = header_->table_slots - 1;
  const vol_presence_file* slots = Slots();
  for (uint64_t i = vol_presence_hash(ino) & mask, probes = 0; probes <= mask;
       ++probes, i = (i + 1) & mask) {
    uint64_t sino =
        std::atomic_ref<uint64_t>(const_cast<uint64_t&>(slots[i].ino)).load(std::memory_order_acquire);
    if (sino == 0) return std::nullopt;
    if (sino == ino && slots[i].dev == dev) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

uint64_t PresenceTable::Blocks(uint32_t slot) const {
  const vol_presence_file& s = Slots()[slot];
  return (s.size + s.block_size - 1) / s.block_size;
}

bool PresenceTable::IsPresent(uint32_t slot, uint64_t block) const {
  const vol_presence_file& s = Slots()[slot];
  uint64_t& w = Words()[s.bitmap_word + block / 64];
  return (std::atomic_ref<uint64_t>(w).load(std::memory_order_acquire) >> (block % 64)) & 1;
}

bool PresenceTable::RangePresent(uint32_t slot, uint64_t first, uint64_t last) const {
  for (uint64_t b = first; b <= last; ++b) {
    if (!IsPresent(slot, b)) return false;
  }
  return true;
}

void PresenceTable::SetPresent(uint32_t slot, uint64_t block) {
  const vol_presence_file& s = Slots()[slot];
  uint64_t& w = Words()[s.bitmap_word + block / 64];
  std::atomic_ref<uint64_t>(w).fetch_or(uint64_t{1} << (block % 64), std::memory_order_release);
}

void PresenceTable::SetComplete(uint32_t slot) {
  std::atomic_ref<uint32_t>(Slots()[slot].complete).store(1, std::memory_order_release);
}

void PresenceTable::SetMode(uint32_t slot, uint32_t mode) {
  std::atomic_ref<uint32_t>(Slots()[slot].mode).store(mode, std::memory_order_release);
}

uint64_t PresenceTable::ListingEpoch() const {
  return std::atomic_ref<uint64_t>(header_->listing_epoch).load(std::memory_order_acquire);
}

void PresenceTable::NewListingEpoch() {
  std::atomic_ref<uint64_t>(header_->listing_epoch).fetch_add(1, std::memory_order_release);
}

bool PresenceTable::IsComplete(uint32_t slot) const {
  return std::atomic_ref<uint32_t>(Slots()[slot].complete).load(std::memory_order_acquire) != 0;
}

}  // namespace vol
