/* Small file-system helpers shared by the supervisor and the tools. */
#ifndef CX_FSUTIL_H
#define CX_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes data to dirfd/name through a temporary name beside it and rename,
 * so a reader never sees a torn file. name may be a relative path
 * ("<run_id>/status"). Returns 0 or -errno. */
int cx_write_atomic(int dirfd, const char *name, const char *data, size_t len);
/* Writes all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
int cx_write_all(int fd, const void *buf, size_t len);
/* Reads a whole file (NUL-terminated). Returns 0 or -errno. */
int cx_read_file(int dirfd, const char *name, size_t max, char **out, size_t *len);
/* mkdir -p with mode for every component created. Returns 0 or -errno. */
int cx_mkdir_p(const char *path, mode_t mode);

#endif
