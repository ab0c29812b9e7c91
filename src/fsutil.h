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
/* Reads a whole file (NUL-terminated). Returns 0 or -errno. */
int cx_read_file(int dirfd, const char *name, size_t max, char **out, size_t *len);
/* mkdir -p with mode for every component created. Returns 0 or -errno. */
int cx_mkdir_p(const char *path, mode_t mode);

#endif
