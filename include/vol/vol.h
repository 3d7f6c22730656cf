/* The C API a program running under `vol run` may call. The preload shim
 * exports these symbols; reach them with dlsym(RTLD_DEFAULT, "vol_commit") or
 * Python's ctypes.CDLL(None).vol_commit. Outside a session they fail with ENOTCONN. */
#ifndef VOL_VOL_H_
#define VOL_VOL_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Publishes the session's changes under `mount` (NULL or "" for every mount) as
 * a new commit of its volume. Returns 0, or -1 with errno set. */
int vol_commit(const char *mount);

/* Commits, then moves `mount` (NULL or "" for all) to its volume's newest
 * commit. Files already open keep reading the content they opened. */
int vol_reload(const char *mount);

#ifdef __cplusplus
}
#endif

#endif /* VOL_VOL_H_ */
