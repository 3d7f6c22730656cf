/* libvol: volumes from any program, without the `vol` command — the C API
 * the Python package `vol` is built on (link with -lvol).
 *
 *   vol_volume *v;
 *   if (vol_open(NULL, NULL, "weights", VOL_OPEN_CREATE, &v) != 0)
 *     fprintf(stderr, "%s\n", vol_last_error());
 *
 * Conventions:
 *   - Every function that can fail returns 0 or an error code, and sets a
 *     one-line message for the calling thread: vol_last_error(). The codes
 *     are errno values, chosen so that each means one thing:
 *       ENOENT   no such volume, path in the volume, or local file
 *       EEXIST   it exists (a volume being created; a file a batch would
 *                replace without force)
 *       ENOTDIR  a directory was needed; EISDIR: a file was needed
 *       EROFS    the volume was opened read-only
 *       EINVAL   a bad argument (a volume name, a path leaving the root…)
 *       EACCES   the store refused this user (credentials, permissions)
 *       EIO      the store holds missing or damaged data for this volume
 *       ENOSPC   the store (or a local disk) is full
 *       EHOSTUNREACH  the store did not answer (down, unreachable, timing
 *                out, after retries); the message names the store
 *       ENOTCONN vol_session_*: not inside a `vol run`/`vol shell` session
 *       EPROTO   anything else (a newer store format: upgrade vol, …)
 *   - Strings are NUL-terminated UTF-8. Paths in a volume are absolute from
 *     its root ("/a/b"); "." and ".." are resolved, never above the root.
 *   - A store URL or environment given as NULL means $VOL_STORE (else, inside
 *     a session, the session's store, else ~/.local/share/vol/store) and
 *     $VOL_ENV (else "main"), as for the `vol` command.
 *   - Memory returned through a `char **` is the caller's: vol_free() it.
 *   - A vol_volume may be used by several threads at once; a reader, batch
 *     or writer by one thread at a time.
 *   - Each call that reads or changes a volume acts on its newest commit at
 *     that moment; each change is one atomic commit (a batch: one for all).
 */
#ifndef VOL_VOLUME_H_
#define VOL_VOLUME_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vol_volume vol_volume; /* an opened volume */
typedef struct vol_reader vol_reader; /* a file of a volume being read */
typedef struct vol_batch vol_batch;   /* changes that become one commit */
typedef struct vol_writer vol_writer; /* a file being written into a batch */

/* The calling thread's message for its last failed call ("" if none). */
const char *vol_last_error(void);
void vol_free(void *p);

/* "0.1.0"; and as JSON, what `vol --version` says:
 * {"version": "0.1.0", "commit": "8623b67a1b2c", "format_reads": 2,
 *  "format_writes": 2} (the newest store formats it reads and writes; every
 * version from 1 up). The string is static: do not free it. */
const char *vol_version(void);
const char *vol_version_json(void);

/* --- volumes ------------------------------------------------------------ */

#define VOL_OPEN_CREATE 1u    /* create the volume if it is missing */
#define VOL_OPEN_READ_ONLY 2u /* every change fails with EROFS */

int vol_open(const char *store, const char *env, const char *name, unsigned flags,
             vol_volume **out);
void vol_close(vol_volume *v);
/* {"name", "env", "id", "store", "created_ns", "read_only"} */
int vol_describe(vol_volume *v, char **json);

/* EEXIST unless allow_existing. */
int vol_create(const char *store, const char *env, const char *name, int allow_existing);
/* ENOENT unless allow_missing. The data is reclaimed by `vol gc`. */
int vol_delete(const char *store, const char *env, const char *name, int allow_missing);
/* A JSON array of {"name", "id", "created_ns"}, by name. */
int vol_list(const char *store, const char *env, char **json);

/* --- reading -------------------------------------------------------------- */

/* The entries of the directory at `path` (with `recursive`, everything below
 * it, parents before children), or the entry of the file at `path`, as a JSON
 * array of {"path" (from the root, no leading '/'), "type" ("file", "dir",
 * "symlink"), "mtime_ns", "size", "mode"} (symlinks also "target"). */
int vol_listdir(vol_volume *v, const char *path, int recursive, char **json);

/* A file's content, chunk by chunk, from the newest commit at open time.
 * vol_reader_next points *data at the next piece (valid until the next call)
 * and sets *len; *len == 0 at the end. Pieces are verified before they are
 * returned, and fetched ahead in parallel. */
int vol_reader_open(vol_volume *v, const char *path, vol_reader **out, uint64_t *size);
int vol_reader_next(vol_reader *r, const void **data, size_t *len);
void vol_reader_close(vol_reader *r);

/* --- changing (each one commit) ------------------------------------------ */

/* A directory needs `recursive` (else EISDIR). The root cannot be removed. */
int vol_remove(vol_volume *v, const char *path, int recursive);

/* Copies like cp: into `dst` when it is a directory (or several sources),
 * else to `dst`. A directory needs `recursive` (else EISDIR) and merges into
 * an existing one like `cp -r` (files already there and not in the source
 * stay). Only metadata is written: the copies share the data. */
int vol_copy(vol_volume *v, const char *const *srcs, size_t n, const char *dst, int recursive);

/* A batch: files and directories uploaded as they are added, committed as
 * one commit by vol_batch_commit (all or nothing). Without `force`, a file
 * the volume (or the batch) already has at a path is EEXIST, found when it is
 * added and again at commit. A file never replaces a directory (EISDIR) nor
 * a directory a file (ENOTDIR). Missing parent directories are created. */
int vol_batch_begin(vol_volume *v, int force, vol_batch **out);
/* A local file (to `remote`, or `remote`/NAME when `remote` ends in '/'). */
int vol_batch_put_file(vol_batch *b, const char *local, const char *remote);
/* The contents of a local directory, recursively, into directory `remote`. */
int vol_batch_put_directory(vol_batch *b, const char *local, const char *remote);
/* A file written piece by piece (from a buffer, a stream…); mode 0 = 0644. */
int vol_batch_open_file(vol_batch *b, const char *remote, uint32_t mode, vol_writer **out);
int vol_writer_write(vol_writer *w, const void *data, size_t len);
/* Adds the file to the batch, and frees w whatever the result. */
int vol_writer_close(vol_writer *w);
/* Drops the file (the batch gets no part of it) and frees w. */
void vol_writer_abort(vol_writer *w);
/* Publishes the batch as one commit (*seq: its number; 0 when it changed
 * nothing), and frees b whatever the result. */
int vol_batch_commit(vol_batch *b, uint64_t *seq);
/* Drops the batch: nothing is committed. */
void vol_batch_abort(vol_batch *b);

/* --- the session this program runs in (vol run / vol shell) -------------- */

/* Commits this session's changes to the mount of volume v now (*files: files
 * changed, *bytes: bytes uploaded; both may be NULL). ENOTCONN outside a
 * session; ENOENT when this session has not mounted v. */
int vol_session_commit(vol_volume *v, uint64_t *files, uint64_t *bytes);
/* Commits, then moves the mount of v to its newest commit. */
int vol_session_reload(vol_volume *v);

/* vol_commit() and vol_reload() of <vol/vol.h> (by mount path) are exported
 * too, so a program linked with libvol need not preload the shim for them. */

#ifdef __cplusplus
}
#endif

#endif /* VOL_VOLUME_H_ */
