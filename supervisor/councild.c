/* councild: the root supervisor (DESIGN §1). One per runtime directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "council/supervisor.h"
#include "daemon.h"
#include "fsutil.h"
#include "rundir.h"

#define MMAP_THRESHOLD (128 * 1024)

static const char usage[] =
	"usage: councild [--runtime-dir DIR] [--foreground] [--max-connections N]\n"
	"                [--retention-ms MS] [--retention-count N]\n"
	"\n"
	"  --runtime-dir DIR  serve DIR (default: $COUNCIL_RUNTIME_DIR, $XDG_RUNTIME_DIR/council,\n"
	"                     /run/council for root, else /tmp/council-<uid>)\n"
	"  --foreground       do not detach; log to stderr\n"
	"  --max-connections N  per uid, at once (default 64)\n"
	"  --retention-ms MS    finished runs stay visible this long (default 3600000)\n"
	"  --retention-count N  and at most this many per tenant (default 1000)\n";

/* systemd's readiness protocol, by hand: one datagram to $NOTIFY_SOCKET. */
static void notify_systemd(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (!path || !*path || strlen(path) >= sizeof addr.sun_path)
		return;
	memcpy(addr.sun_path, path, strlen(path));
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&addr, len) < 0)
		fprintf(stderr, "councild: notifying systemd: %s\n", strerror(errno));
	close(fd);
}

/* The socket accepts: the process that detached us may exit 0 (ready_fd),
 * and systemd may start what waits for us. */
static void on_ready(void *data)
{
	int ready_fd = *(int *)data;
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "1", 1);
		(void)w;
		close(ready_fd);
	}
	notify_systemd();
}

/* Detaches: the caller's process waits for the daemon's ready byte and
 * exits 0 once its socket accepts (so `councild && councilctl ...` works),
 * 1 if it died first. Returns the ready pipe's write end in the daemon. */
static int detach(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char c;
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the daemon is no session leader: it can never get a tty */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	if (chdir("/") < 0)
		_exit(1);
	return p[1];
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "runtime-dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "retention-ms", required_argument, NULL, 'r' },
		{ "retention-count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char root[PATH_MAX] = "";
	bool foreground = false;
	struct cx_daemon_options dopts = { .root = root };
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!realpath(optarg, root) && (cx_mkdir_p(optarg, 0755) < 0 || !realpath(optarg, root))) {
				fprintf(stderr, "councild: runtime directory %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		case 'f':
			foreground = true;
			break;
		case 'm':
		case 'r':
		case 'n': {
			long long v = atoll(optarg);
			if (v <= 0 || v > INT32_MAX) {
				fprintf(stderr, "councild: %s wants a positive number\n", argv[optind - 1]);
				return 2;
			}
			if (opt == 'm')
				dopts.connections_per_uid = (int)v;
			else if (opt == 'r')
				dopts.retention_ms = v;
			else
				dopts.retention_count = (unsigned)v;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return 2;
	}
	char why[PATH_MAX + 160];
	if (!root[0] && cx_runtime_dir_ready(NULL, true, root, sizeof root, why, sizeof why) < 0) {
		fprintf(stderr, "councild: %s\n", why);
		return 1;
	}
	int r = cx_mkdir_p(root, 0755);
	if (r < 0) {
		fprintf(stderr, "councild: runtime directory %s: %s\n", root, strerror(-r));
		return 1;
	}
	char pidpath[PATH_MAX + 16];
	snprintf(pidpath, sizeof pidpath, "%s/" CX_PIDFILE_NAME, root);
	pid_t other;
	struct pidfh *pidfile = pidfile_open(pidpath, 0644, &other);
	if (!pidfile) {
		if (errno == EEXIST)
			fprintf(stderr, "councild: already running on %s as pid %d\n", root, (int)other);
		else
			fprintf(stderr, "councild: %s: %s\n", pidpath, strerror(errno));
		return 1;
	}
	int ready = foreground ? -1 : detach();
	if (!foreground && ready < 0) {
		fprintf(stderr, "councild: detaching: %s\n", strerror(errno));
		pidfile_remove(pidfile);
		return 1;
	}
	pidfile_write(pidfile);
	setproctitle("-councild %s", root);
	if (foreground)
		fprintf(stderr, "councild: serving %s (pid %d)\n", root, (int)getpid());
	dopts.ready = on_ready;
	dopts.ready_data = &ready;
	/* A fixed threshold: glibc's moves up with every large block freed, and
	 * then the backlogs and long lines councild passes through come from
	 * the heap and stay there; above this they are mapped and given back. */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	r = cx_daemon_run(&dopts);
	if (r)
		fprintf(stderr, "councild: %s: %s\n", root, strerror(r));
	pidfile_remove(pidfile);
	return r ? 1 : 0;
}
