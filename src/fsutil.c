#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int cx_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08

struct open_how_v0 {  /* struct open_how of <linux/openat2.h> */
	uint64_t flags, mode, resolve;
};

int cx_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	static bool no_openat2;
	struct open_how_v0 how = {
		(uint64_t)(flags | O_CLOEXEC), flags & O_CREAT ? mode : 0,
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	if (dirfd == AT_FDCWD || path[0] == '/') {
		/* A path a user gave, not one in a directory of ours. */
		int fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
		return fd < 0 ? -errno : fd;
	}
	if (!no_openat2) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return fd < 0 ? -errno : (int)fd;
		no_openat2 = true;  /* older kernel, or a seccomp filter: fall back */
	}
	int fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

int cx_remove_tree(int at, const char *name)
{
	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = cx_open_beneath(at, name, O_RDONLY | O_DIRECTORY, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? fd : -errno;
	}
	int r = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && r == 0)
			r = cx_remove_tree(dirfd(d), e->d_name);
	closedir(d);
	if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int cx_write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
	/* The temporary is made beside the file: "dir/name" gets "dir/.name.tmp". */
	char tmp[PATH_MAX];
	const char *base = strrchr(name, '/');
	int dir_len = base ? (int)(base - name) + 1 : 0;
	if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp", dir_len, name, name + dir_len) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	/* Whatever holds the name (a crash's leftover, or a planted symlink)
	 * goes: the file is made new. */
	unlinkat(dirfd, tmp, 0);
	int fd = cx_open_beneath(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return fd;
	int r = cx_write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

int cx_open_regular(int dirfd, const char *name, int flags, struct stat *st)
{
	/* A FIFO would block open() until a writer came (and a device might
	 * do anything): O_NONBLOCK, then nothing but a regular file is used. */
	struct stat own;
	int fd = cx_open_beneath(dirfd, name, flags | O_NONBLOCK | O_NOCTTY, 0);
	int r = fd < 0 ? fd : fstat(fd, st ? st : &own) < 0 ? -errno
			    : !S_ISREG((st ? st : &own)->st_mode) ? -EINVAL : fd;
	if (r < 0 && fd >= 0)
		close(fd);
	return r;
}

int cx_read_file(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	struct stat st;
	int fd = cx_open_regular(dirfd, name, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	/* Its size is checked before a byte is read: a sparse file of a
	 * gigabyte costs its writer nothing, and its reader the gigabyte. */
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	size_t cap = (size_t)st.st_size < 4094 ? 4096 : (size_t)st.st_size + 2, n = 0;
	char *buf = malloc(cap);
	int r = buf ? 0 : -ENOMEM;
	while (r == 0) {
		if (cap - n < 2) {
			/* It grew since: up to max, still. */
			char *bigger = n > max ? NULL : realloc(buf, cap * 2);
			if (!bigger) {
				r = n > max ? -EFBIG : -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = -errno;
		else if (got == 0)
			break;
		else
			n += (size_t)got;
	}
	close(fd);
	if (r == 0 && n > max)
		r = -EFBIG;
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int cx_read_lines(int dirfd, const char *name, size_t line_max, cx_line_fn *fn, void *arg,
		  off_t *whole)
{
	int fd = cx_open_regular(dirfd, name, O_RDONLY, NULL);
	if (fd < 0)
		return fd;
	/* buf holds what is read and not yet a whole line: one line at most,
	 * however big the file. */
	size_t cap = 64 * 1024, have = 0;
	char *buf = malloc(cap);
	off_t done = 0;
	int r = buf ? 0 : -ENOMEM;
	while (r == 0) {
		if (have == cap) {
			char *bigger = cap > line_max ? NULL : realloc(buf, cap * 2);
			if (!bigger) {
				r = cap > line_max ? -EFBIG : -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + have, cap - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : 0;
			break;
		}
		size_t start = 0, end = have + (size_t)got;
		for (char *nl; r == 0 && (nl = memchr(buf + start, '\n', end - start));) {
			r = fn(buf + start, (size_t)(nl - buf) - start, arg);
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, end - start);
		done += (off_t)start;
		have = end - start;
	}
	close(fd);
	free(buf);
	if (whole)
		*whole = done;
	return r;
}

int cx_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (strlcpy(buf, path, sizeof buf) >= sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			return 0;
	}
}
