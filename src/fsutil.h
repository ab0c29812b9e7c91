/* Small file-system helpers shared by the supervisor and the tools. */
#ifndef CX_FSUTIL_H
#define CX_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* The runtime directory holds directories that other users own (a root
 * councild's run directories belong to their tenants' owners), and a
 * supervisor that reads, writes or removes there must not be led
 * elsewhere by a symlink one of them planted: every path below is
 * resolved beneath its dirfd and through no symlink. */

/* openat(2) of path beneath dirfd, following no symlink (openat2's
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; before Linux 5.6, O_NOFOLLOW,
 * which guards the last component only). A path a user gave (dirfd
 * AT_FDCWD, or an absolute path) is opened as given. Returns the fd or
 * -errno. */
int cx_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Removes dirfd/name and all below it, through descriptors: a symlink is
 * removed, never followed. Returns 0 or -errno. */
int cx_remove_tree(int dirfd, const char *name);

/* Writes data to dirfd/name through a temporary name beside it (made
 * anew, never one that was there) and rename, so a reader never sees a
 * torn file. name may be a relative path ("<run_id>/status"). Returns 0
 * or -errno. */
int cx_write_atomic(int dirfd, const char *name, const char *data, size_t len);
/* Writes all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
int cx_write_all(int fd, const void *buf, size_t len);
/* Opens dirfd/name (beneath it, through no symlink) with flags, if it is
 * a regular file: never blocking in open(), as a FIFO put in its place
 * would make it. Its fstat goes to st (may be NULL). Returns the fd
 * (O_NONBLOCK), -EINVAL when it is no regular file, or -errno. */
struct stat;
int cx_open_regular(int dirfd, const char *name, int flags, struct stat *st);
/* Reads a whole regular file (NUL-terminated) of at most max bytes, as
 * cx_open_regular opens it; a bigger one is refused (-EFBIG) before any
 * of it is read. Returns 0, -EINVAL when it is no regular file, or
 * -errno. */
int cx_read_file(int dirfd, const char *name, size_t max, char **out, size_t *len);
/* Calls fn for each whole line of the regular file dirfd/name (opened as
 * cx_open_regular does), in order, without its '\n', until fn returns
 * other than 0; a last line without '\n' is not given. Holds one line at
 * a time, a line over line_max ending the read with -EFBIG. *whole (may
 * be NULL) gets the offset past the last line given. Returns 0, what fn
 * returned, or -errno. */
typedef int cx_line_fn(const char *line, size_t len, void *arg);
int cx_read_lines(int dirfd, const char *name, size_t line_max, cx_line_fn *fn, void *arg,
		  off_t *whole);
/* mkdir -p with mode for every component created. Returns 0 or -errno. */
int cx_mkdir_p(const char *path, mode_t mode);

#endif
