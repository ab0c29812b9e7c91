#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

bool cx_tenant_reserved(const char *name, uid_t *uid)
{
	static const char prefix[] = "user-";
	if (!strcmp(name, "default")) {
		*uid = geteuid();
		return true;
	}
	if (strncmp(name, prefix, sizeof prefix - 1))
		return false;
	const char *digits = name + sizeof prefix - 1;
	if (!*digits || strspn(digits, "0123456789") != strlen(digits))
		return false;
	char *end;
	errno = 0;
	unsigned long n = strtoul(digits, &end, 10);
	bool canonical = errno == 0 && n < (uid_t)-1 && (digits[0] != '0' || !digits[1]);
	*uid = canonical ? (uid_t)n : (uid_t)-1;
	return true;
}

int cx_peer_of(int sock, struct cx_peer *out)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	*out = (struct cx_peer){ .uid = cred.uid, .gid = cred.gid };
	/* Kernels before 4.13 have no SO_PEERGROUPS: the primary group alone
	 * then, which only ever denies more. */
	len = sizeof out->groups;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, out->groups, &len) == 0)
		out->n_groups = (int)(len / sizeof out->groups[0]);
	return 0;
}

bool cx_peer_in_group(const struct cx_peer *p, gid_t gid)
{
	if (p->gid == gid)
		return true;
	for (int i = 0; i < p->n_groups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

bool cx_peer_may(const struct cx_peer *p, const struct cx_owner *o)
{
	return p->uid == 0 || p->uid == o->uid || (o->group && cx_peer_in_group(p, o->gid));
}

int cx_owner_read(int root_fd, const char *tenant, struct cx_owner *out)
{
	char path[CX_TENANT_PATH_MAX];
	struct stat st;
	if (fstatat(root_fd, cx_tenant_dir(tenant, path), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*out = (struct cx_owner){ st.st_uid, st.st_gid, (st.st_mode & 0070) != 0 };
	return 0;
}

int cx_owner_create(int root_fd, const char *tenant, const struct cx_owner *o)
{
	char path[CX_TENANT_PATH_MAX];
	mode_t mode = o->group ? 0750 : 0700;
	cx_tenant_dir(tenant, path);
	if (mkdirat(root_fd, CX_TENANTS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdirat(root_fd, path, mode) < 0)
		return errno == EEXIST ? 0 : -errno;
	/* Made by us: give it away, and set the mode past our umask. */
	int fd = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -errno : 0;
	if (r == 0 && (o->uid != geteuid() || o->gid != getegid()) && fchown(fd, o->uid, o->gid) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlinkat(root_fd, path, AT_REMOVEDIR);
	return r;
}

int cx_runs_dir_share(int root_fd)
{
	/* tenants/ is searched by every tenant's supervisor, for its own
	 * directory, and listed by councild alone: its names are its
	 * tenants', and their owners. */
	if (mkdirat(root_fd, CX_TENANTS_DIR, 0711) < 0 && errno != EEXIST)
		return -errno;
	if (fchmodat(root_fd, CX_TENANTS_DIR, 0711, 0) < 0)
		return -errno;
	if (mkdirat(root_fd, CX_RUNS_DIR, 01733) < 0 && errno != EEXIST)
		return -errno;
	return fchmodat(root_fd, CX_RUNS_DIR, 01733, 0) < 0 ? -errno : 0;
}

int cx_group_lookup(const char *name, gid_t *out)
{
	char *end;
	unsigned long n = strtoul(name, &end, 10);
	if (*name && !*end && n < (gid_t)-1) {
		*out = (gid_t)n;
		return 0;
	}
	struct group *g = getgrnam(name);
	if (!g)
		return -ENOENT;
	*out = g->gr_gid;
	return 0;
}

int cx_owner_become(const struct cx_owner *o)
{
	if (geteuid() != 0 || o->uid == 0)
		return 0;
	struct passwd *pw = getpwuid(o->uid);
	gid_t gid = o->group ? o->gid : pw ? pw->pw_gid : o->gid;
	gid_t groups[CX_PEER_GROUPS_MAX];
	int n = CX_PEER_GROUPS_MAX - 1;
	if (!pw || getgrouplist(pw->pw_name, gid, groups, &n) < 0) {
		groups[0] = gid;
		n = 1;
	}
	if (o->group)
		groups[n++] = o->gid;
	if (setgroups((size_t)n, groups) < 0 || setgid(gid) < 0 || setuid(o->uid) < 0)
		return -errno;
	/* For good: no way back to root. */
	if (setuid(0) == 0)
		return -EPERM;
	return 0;
}
