/* The contract between `vol run` (the launcher and its fetcher) and the preload
 * shim inside the program. Plain C layout: the shim includes it with no C++
 * runtime, and both sides must agree byte for byte.
 *
 * A session is a directory, named by $VOL_SESSION in the program's environment
 * (an absolute path). It holds:
 *
 *   mounts    text, one line per mount: "MOUNT\tVIEW\tFLAGS\n"
 *             MOUNT: absolute mount path as the program sees it, no trailing '/'
 *                    (e.g. "/mnt/weights"); it need not exist on the host.
 *             VIEW:  absolute path of the real local directory that mirrors the
 *                    volume (names, types, sizes, modes, mtimes; file content is
 *                    sparse until fetched).
 *             FLAGS: "ro" or "rw".
 *   sock      the fetcher's AF_UNIX SOCK_SEQPACKET socket: one vol_request per
 *             datagram, answered by one vol_response.
 *   presence  shared memory (mmap MAP_SHARED, read-only in the shim): which
 *             blocks of each view file hold fetched content.
 *   fetcher.pid  the fetcher's process id (decimal text). Optional; a shim
 *             waiting on a reply checks it every second, so a fetcher that
 *             died without its socket being closed is noticed.
 *   features  optional text, one word per line, what this fetcher implements
 *             beyond reads. "writes": it takes VOL_OP_CHANGED and commits, so
 *             the shim lets programs write to "rw" mounts; without it every
 *             write under a mount fails with EROFS. (VOL_SHIM_WRITES=1 in the
 *             program's environment forces writes on, for tests.)
 *   parents/  made by the shim, not the fetcher: parents/<k> is an empty
 *             directory that stands for the k-th ancestor of the mounts when it
 *             does not exist on the host (/data for a mount at /data/x), so
 *             that `ls /data` and `cd /data` work. The shim lists the mounts in it.
 *
 * $VOL_SHIM holds the absolute path of libvolshim.so, so that the shim can put
 * LD_PRELOAD back when a program strips it from a child's environment.
 *
 * Invariant: a view file that has no slot in the presence table, or whose slot
 * says complete, holds all of its content; the shim may read it without asking.
 * Otherwise a block's content is present iff its bit is set, and a bit is set
 * (release) only after the bytes are written to the view file.
 */
#ifndef VOL_SESSION_H_
#define VOL_SESSION_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOL_SESSION_ENV "VOL_SESSION"
#define VOL_SHIM_ENV "VOL_SHIM"
#define VOL_SESSION_MOUNTS "mounts"
#define VOL_SESSION_SOCK "sock"
#define VOL_SESSION_PRESENCE "presence"
#define VOL_SESSION_FEATURES "features"
#define VOL_SESSION_FETCHER_PID "fetcher.pid"
#define VOL_SESSION_PARENTS "parents"
#define VOL_FEATURE_WRITES "writes"
/* The lifeline: an fd (decimal, in the program's environment) that every
 * process of the session inherits, without FD_CLOEXEC. It is the write end of
 * the session's `lifeline` FIFO; the fetcher reads the other end and sees EOF
 * when the last process holding it has exited, which ends the session. Each
 * holder also has it locked with flock(LOCK_SH) (the lock belongs to the
 * shared open file description), so anyone can ask whether the session still
 * has processes: flock(LOCK_EX | LOCK_NB) on the FIFO fails while they live.
 * The shim keeps it open: close, dup2 onto it, close_range and closefrom
 * leave it alone. */
#define VOL_LIFELINE_ENV "VOL_LIFELINE"
#define VOL_SESSION_LIFELINE "lifeline"

#define VOL_PRESENCE_MAGIC 0x45525056u /* "VPRE" */
#define VOL_PRESENCE_VERSION 3u

struct vol_presence_header {
  uint32_t magic;
  uint32_t version;
  uint64_t table_slots;   /* a power of two */
  uint64_t table_offset;  /* file offset of struct vol_presence_file[table_slots] */
  uint64_t bitmap_offset; /* file offset of the uint64_t bitmap words */
  uint64_t bitmap_words;  /* capacity of the bitmap area */
  uint64_t bitmap_used;   /* words handed out so far (the fetcher's, informative) */
  uint64_t listing_epoch; /* moves (release) when listings made before may no longer
                             describe their directories (a reload): see vol_listing_header */
};

/* One slot of an open-addressing hash table keyed by (dev, ino): start at
 * vol_presence_hash(ino) & (table_slots - 1), probe linearly, stop at ino == 0.
 *
 * A slot describes a view object that came from a snapshot unchanged:
 *  - VOL_SLOT_FILE: a content file of the shared cache, hard-linked into the
 *    view. Its real mode lacks the write bits (so that nothing writes into the
 *    shared copy by accident) and its link count counts every view holding it;
 *    a program is shown `mode` and one link, as a local copy would show. Before
 *    anything modifies it (write-open, truncate, chmod, utimes, chown, xattrs,
 *    link) the shim asks for a private copy (VOL_OP_PRIVATE).
 *  - VOL_SLOT_DIR: a view directory. complete == 0: not populated yet (it is
 *    empty on disk; VOL_OP_POPULATE fills it); its link count is not known and
 *    is shown as 1 (what btrfs shows: "count unknown").
 * origin_tree/origin_index name the snapshot entry the object mirrors (the
 * tree that lists it and its position there; origin_index = VOL_ORIGIN_ROOT
 * for a mount's root, whose tree is origin_tree itself): a dead session's
 * changes are recovered by comparing its view with these. */
enum vol_slot_kind { VOL_SLOT_FILE = 1, VOL_SLOT_DIR = 2 };
/* vol_presence_file.flags */
#define VOL_SLOT_SHARED 1u /* a content file of the shared cache (the fake and old fetchers
                              fill private view files instead) */
#define VOL_ORIGIN_ROOT 0xffffffffu

struct vol_presence_file {
  uint64_t ino;         /* 0: empty slot. Written last, with release order. */
  uint64_t dev;
  uint64_t size;        /* bytes */
  uint64_t block_size;  /* bytes per bitmap bit: the file's chunk size */
  uint64_t bitmap_word; /* index of the file's first word in the bitmap area */
  uint32_t complete;    /* file: every block is present (no more checks); dir: populated */
  uint32_t index;       /* the slot's number in vol_request.index */
  uint32_t kind;        /* enum vol_slot_kind */
  uint32_t mode;        /* VOL_SLOT_FILE: the permission bits a program sees */
  uint8_t origin_tree[16];
  uint32_t origin_index;
  uint32_t flags;       /* VOL_SLOT_SHARED */
  uint64_t reserved2;
};

static inline uint64_t vol_presence_hash(uint64_t ino) {
  ino ^= ino >> 33;
  ino *= 0xff51afd7ed558ccdULL;
  ino ^= ino >> 33;
  return ino;
}

#define VOL_PATH_MAX 4096

enum vol_op {
  VOL_OP_PING = 0,      /* liveness; no arguments */
  VOL_OP_FETCH = 1,     /* make [offset, offset+length) of file `index` present */
  VOL_OP_FETCH_ALL = 2, /* make all of file `index` present (mmap, sendfile, exec…) */
  VOL_OP_CHANGED = 3,   /* `path` (a MOUNT path) was created, written, renamed or removed;
                           offset: enum vol_changed */
  VOL_OP_COMMIT = 4,    /* commit the mount at `path` ("" = every mount) */
  VOL_OP_RELOAD = 5,    /* commit, then move the mount at `path` ("" = all) to the head */
  VOL_OP_POPULATE = 6,  /* populate the view directory passed as an fd (SCM_RIGHTS) */
  VOL_OP_PRIVATE = 7,   /* replace the content file `path` (a name in the directory passed
                           as an fd, SCM_RIGHTS) by a private file; offset: 0 = with its
                           content (copy-up), 1 = empty (it is about to be truncated) */
  VOL_OP_EXIT = 8,      /* process `index` exits normally: every file it opened for writing
                           is as it left it (not cut short by a kill) */
  VOL_OP_LIST = 9,      /* the unpopulated view directory passed as an fd (SCM_RIGHTS) is to
                           be listed: value[0] = 1 when its listing is ready (listings/,
                           below), 0 when the fetcher populated it instead */
};

/* Listings: how a large directory is listed and its entries stat'ed without
 * being populated (creating 100,000 links costs seconds; `ls -l` should not).
 *
 * For an unpopulated view directory of at least VOL_LISTING_MIN_ENTRIES
 * entries, all of them non-empty regular files, VOL_OP_LIST writes
 * listings/<dev>-<ino> in the session directory (dev and ino of the view
 * directory, decimal): a vol_listing_header, `count` vol_listing_entry sorted
 * by name (strcmp), then the names, NUL-terminated. Each entry names the
 * shared cache's content file that populating the directory would link under
 * that name (files/XX/KEY or KEY.part; XX: the first two digits of KEY), which
 * exists when the listing is made. Until the directory is populated, the shim
 * serves readdir from the listing and answers stat and getxattr of its
 * entries from their content files (the same inodes), shown as populate
 * would show them (the entry's mode, one link).
 *
 * A listing describes its directory only while: the directory's slot says
 * unpopulated, has the origin the listing records, and the presence header's
 * listing_epoch is the one it records. A content file missing by then
 * (evicted) sends the shim back to populating. */
#define VOL_SESSION_LISTINGS "listings"
#define VOL_LISTING_MAGIC 0x54534c56u /* "VLST" */
/* Below this, populating costs under 0.1 s, after which a stat is one system
 * call; a listed entry's stat is two. */
#define VOL_LISTING_MIN_ENTRIES 4096
#define VOL_LISTED_PART 1u /* vol_listing_entry.flags: the content file was KEY.part */

struct vol_listing_header {
  uint32_t magic;
  uint32_t count;          /* entries */
  uint64_t epoch;          /* the presence header's listing_epoch when made */
  uint8_t origin_tree[16]; /* the directory's slot's origin when made */
  uint32_t origin_index;
  uint32_t names_size;     /* bytes of names after the entries */
  char files[VOL_PATH_MAX]; /* the content cache's files directory, NUL-terminated */
};

struct vol_listing_entry {
  uint64_t ino;      /* of the content file, for d_ino */
  uint32_t name;     /* offset of the name in the names area */
  uint32_t mode;     /* the permission bits a program sees */
  uint32_t flags;    /* VOL_LISTED_PART */
  uint32_t reserved;
  char key[32];      /* KEY, lowercase hex, not NUL-terminated */
};

/* VOL_OP_CHANGED says in vol_request.offset what happened to `path`, and in
 * vol_request.index which process did it (its pid):
 *
 * The write path's rules, which keep fetched bytes and written bytes apart:
 *  - A view file that is a shared content file (VOL_SLOT_FILE with
 *    VOL_SLOT_SHARED) is never written by a program: before writing into it,
 *    truncating it or changing its metadata, the shim has it replaced by a
 *    private copy (VOL_OP_PRIVATE). Its bytes keep arriving in its own inode,
 *    for whoever holds it, whatever happens to its name.
 *  - A view file still arriving that is not shared (a fetcher that fills
 *    private view files) is fetched whole (VOL_OP_FETCH_ALL) before it is
 *    written or moved; before its content is dropped (O_TRUNC, truncate to 0,
 *    unlink, rename onto it) the shim sends VOL_CHANGED_DISCARD.
 *  - A file is being written from VOL_CHANGED_OPEN_WRITE until its opener
 *    sends VOL_CHANGED_CLOSE_WRITE (each write fd closed, replaced by dup2, or
 *    closed by an exec) or VOL_OP_EXIT (it exits normally). A file whose
 *    opener is gone without either was cut short by a kill: it is not
 *    published (its content is whatever the kill left). */
enum vol_changed {
  VOL_CHANGED_PATH = 0,        /* after: created, removed, or metadata changed */
  VOL_CHANGED_OPEN_WRITE = 1,  /* after: opened for writing; its content is in flux */
  VOL_CHANGED_DISCARD = 2,     /* before: the file's current content is about to be dropped */
  VOL_CHANGED_RENAME = 3,      /* after: `path` holds "OLD\0NEW\0", both mount paths */
  VOL_CHANGED_CLOSE_WRITE = 4, /* after: a write fd of `path` was closed: its content is final */
};

struct vol_request {
  uint32_t op;
  uint32_t index;
  uint64_t offset;
  uint64_t length;
  char path[VOL_PATH_MAX]; /* NUL-terminated; only what is used need be sent */
};

struct vol_response {
  int32_t err;        /* 0, or an errno value (EIO, ENOSPC, EROFS…) */
  uint32_t reserved;
  uint64_t value[2];  /* op-specific: COMMIT → files, bytes uploaded */
  char message[512];  /* NUL-terminated human-readable detail when err != 0 */
};

#ifdef __cplusplus
}
#endif

#endif /* VOL_SESSION_H_ */
