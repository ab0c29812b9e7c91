/* Who may use a tenant. A tenant has an owner uid and, optionally, a group;
 * its owner, the members of its group and root may start, inspect,
 * subscribe to, cancel and kill its runs; nobody else learns anything of
 * them.
 *
 * The record of ownership is the tenant's directory, tenants/<tenant>/,
 * as `ls -l` shows it: its uid is the owner, and its mode says whether its
 * gid is the tenant's group (0750) or not (0700). Run directories take the
 * same owner and mode (src/rundir.c), so the files agree with councild.
 *
 * When councild runs as root, a tenant's supervisor becomes its owner
 * before it runs anything (cx_owner_become), and with it every worker and
 * member command of the tenant. */
#ifndef CX_SUP_ACCESS_H
#define CX_SUP_ACCESS_H

#include <stdbool.h>
#include <sys/types.h>

#define CX_PEER_GROUPS_MAX 64

/* A client, as SO_PEERCRED and SO_PEERGROUPS identify it. */
struct cx_peer {
	uid_t uid;
	gid_t gid;
	gid_t groups[CX_PEER_GROUPS_MAX];
	int n_groups;
};

struct cx_owner {
	uid_t uid;
	gid_t gid;
	bool group;   /* members of gid share the tenant */
};

/* Whether tenant name is reserved to one user, and to whom (*uid):
 * "default" to councild's own user, "user-<uid>" to that uid. A name of
 * that shape that is not a uid's canonical form ("user-007") is reserved
 * to nobody: *uid is (uid_t)-1. */
bool cx_tenant_reserved(const char *name, uid_t *uid);

/* The peer on a connected unix socket. Returns 0 or -errno. */
int cx_peer_of(int sock, struct cx_peer *out);
bool cx_peer_in_group(const struct cx_peer *p, gid_t gid);
/* Root, the owner, or a member of the tenant's group. */
bool cx_peer_may(const struct cx_peer *p, const struct cx_owner *o);

/* tenants/<tenant>/ under the runtime directory root_fd. 0, -ENOENT for a
 * tenant never created, or -errno. */
int cx_owner_read(int root_fd, const char *tenant, struct cx_owner *out);
/* Creates tenants/<tenant>/ for o (mode 0700, 0750 with a group), or
 * finds it made already: 0, or -errno. Only root can give a tenant to
 * someone else. */
int cx_owner_create(int root_fd, const char *tenant, const struct cx_owner *o);

/* Makes runs/ and tenants/ for a councild that serves several users:
 * tenants' supervisors, whatever user each runs as, make their run
 * directories in runs/, so it is writable by all, sticky, and not
 * listable (1733): a run id is only known to those it was given to.
 * tenants/ is searchable, not listable (0711). Returns 0 or -errno. */
int cx_runs_dir_share(int root_fd);

/* Resolves a group given by name or number: 0, or -ENOENT. */
int cx_group_lookup(const char *name, gid_t *out);

/* In a freshly forked child that is still root: becomes o for good
 * (setgroups, setgid, setuid, in that order; the supplementary groups are
 * the owner's from the group database, plus the tenant's group). A no-op
 * when the process is not root. Returns 0 or -errno. */
int cx_owner_become(const struct cx_owner *o);

#endif
