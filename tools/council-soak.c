/* council-soak: starts a councild of its own in a private runtime directory,
 * runs a warm-up, measures it, starts N runs across several tenants with
 * faults injected at random (seeded: a failure replays with --seed), and
 * checks what must hold once they are all over (docs/supervision.md, Soak):
 *
 *   - nothing left: councild's descendants are its tenant supervisors (and
 *     their launchers), and none once they are stopped; no zombie; no
 *     tenant supervisor died; nothing of a SIGKILLed councild's tree
 *     (kill_councild) outlived it;
 *   - councild's descriptors and memory back to where the warm-up left
 *     them (and each tenant supervisor's descriptors), unless councild was
 *     SIGKILLed since and the one now started after the warm-up;
 *   - every run started has its directory, its events contiguous from 1
 *     with one terminal event, last; status and summary.json final and
 *     agreeing; the outcome one its fault allows;
 *   - councild stops cleanly on SIGTERM.
 *
 * Each violation is printed on its own line; exit status 1 if any, 0 if
 * none, 2 for a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autostart.h"
#include "fsutil.h"
#include "proc.h"
#include "soak.h"

#define RSS_SLACK_KIB 2048        /* councild's RSS may end this much above the warm-up's:
				   * the heap it used at its busiest, given back in part */
#define SETTLE_MS 30000           /* for what is left to go, after the runs are all DOWN */
#define COUNCILD_UP_MS 60000      /* for councild's socket to answer */
#define COUNCILD_STOP_MS 60000    /* for councild to exit on SIGTERM */
#define RETENTION "2000000000"    /* keep every run: ms and count */

static const char usage[] =
	"usage: council-soak [--runs N] [--faults] [--seed S] [--tenants T] [--concurrency C]\n"
	"                    [--warmup W] [--rss-slack KIB] [--councild PATH] [--keep]\n"
	"\n"
	"  --runs N         runs to start (default 2000)\n"
	"  --faults         inject faults: kill, cancel, terminate, crash, hang, transient,\n"
	"                   slow subscribers, embedded supervisors (SIGKILLed or not),\n"
	"                   tenant stops, terminate_all, SIGKILL of a guardian, of councild\n"
	"  --seed S         the random seed (default: a fresh one, printed)\n"
	"  --tenants T      tenants to spread the runs over (default 4)\n"
	"  --concurrency C  runs in flight at most (default 64)\n"
	"  --warmup W       runs before the baseline is measured (default 32)\n"
	"  --rss-slack KIB  how far councild's RSS may end above the baseline's (default 2048;\n"
	"                   more for a councild built with a sanitizer, whose allocator keeps\n"
	"                   what is freed)\n"
	"  --councild PATH  the councild to test (default: as councilctl finds it)\n"
	"  --keep           keep the runtime directory even when all held\n";

struct options {
	unsigned runs, tenants, concurrency, warmup, rss_slack_kib;
	bool faults, keep;
	uint64_t seed;
	const char *councild;
};

/* A process of a SIGKILLed councild's tree, which must not outlive it. */
struct doomed {
	struct cx_proc proc;
	char title[80];
	unsigned kill;            /* which kill_councild, from 1 */
	uint64_t killed_ms;       /* when */
};

/* What the warm-up left, to compare the end with. */
struct baseline {
	int fds;
	long rss_kib;
	int *sup_fds;             /* per tenant; -1: its supervisor was not found */
};

struct soak {
	struct options opt;
	char root[PATH_MAX];
	int root_fd;
	struct cx_proc councild;
	struct soak_violations v;
	uint64_t rng;
	struct soak_run *runs;    /* the warm-up's, then the soak's */
	unsigned n_runs;
	unsigned warmed;          /* of them, the warm-up's */
	struct soak_tally tally;
	struct baseline base;
	bool fresh;               /* councild was restarted since the baseline */
	unsigned kills;           /* of councild */
	struct doomed *doomed;    /* of their trees, those that had not exited at the last look */
	size_t n_doomed;
	uint64_t elapsed_ms;      /* of the soak's runs, warm-up aside */
	long peak_rss_kib;        /* councild's, at the end */
};

static bool parse_count(const char *arg, unsigned min, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || n < min || n > 10000000)
		return false;
	*out = (unsigned)n;
	return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "faults", no_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ "tenants", required_argument, NULL, 't' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "rss-slack", required_argument, NULL, 'r' },
		{ "councild", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct options){ .runs = 2000, .tenants = 4, .concurrency = 64, .warmup = 32,
			       .rss_slack_kib = RSS_SLACK_KIB };
	arc4random_buf(&o->seed, sizeof o->seed);
	int opt, which = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, &which)) != -1) {
		bool ok = true;
		char *end;
		switch (opt) {
		case 'n': ok = parse_count(optarg, 1, &o->runs); break;
		case 't': ok = parse_count(optarg, 1, &o->tenants) && o->tenants <= 1000; break;
		case 'c': ok = parse_count(optarg, 1, &o->concurrency) && o->concurrency <= 4096; break;
		case 'w': ok = parse_count(optarg, 0, &o->warmup); break;
		case 'r': ok = parse_count(optarg, 0, &o->rss_slack_kib); break;
		case 'f': o->faults = true; break;
		case 'k': o->keep = true; break;
		case 'd': o->councild = optarg; break;
		case 's':
			errno = 0;
			o->seed = strtoull(optarg, &end, 10);
			ok = !errno && end != optarg && !*end && optarg[0] != '-';
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
		if (!ok) {
			fprintf(stderr, "council-soak: --%s %s: not a number it takes\n%s",
				longopts[which].name, optarg, usage);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "council-soak: unexpected argument %s\n%s", argv[optind], usage);
		return -1;
	}
	return 0;
}

/* councild. */

/* councild --foreground over our directory, keeping every run, its stderr
 * in councild.log there. It dies with us (PDEATHSIG), and its tenants and
 * runs with it. */
static int councild_start(struct soak *s)
{
	char found[PATH_MAX], log[PATH_MAX + 16];
	const char *exe = cx_councild_path(s->opt.councild, found, sizeof found);
	snprintf(log, sizeof log, "%s/councild.log", s->root);
	int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "council-soak: %s: %s\n", log, strerror(errno));
		return -1;
	}
	pid_t parent = getpid();
	int r = cx_proc_fork(&s->councild);
	if (r == 0) {
		char *const argv[] = { (char *)exe, "--foreground", "--runtime-dir", s->root,
				       "--retention-ms", RETENTION, "--retention-count", RETENTION, NULL };
		if (!cx_proc_child_init(parent) || dup2(log_fd, STDERR_FILENO) < 0)
			_exit(126);
		if (strchr(exe, '/'))
			execv(exe, argv);
		else
			execvp(exe, argv);
		fprintf(stderr, "council-soak: %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(log_fd);
	if (r < 0) {
		fprintf(stderr, "council-soak: fork: %s\n", strerror(-r));
		return -1;
	}
	printf("council-soak: councild %s, pid %d, runtime directory %s\n", exe,
	       (int)s->councild.pid, s->root);
	return 0;
}

/* A connection, once councild answers; NULL (said why) if it died first
 * or never answered. */
static struct cx_client *connect_councild(struct soak *s)
{
	struct cx_client_options o = { .runtime_dir = s->root };
	struct cx_client *cl = NULL;
	struct cx_error err = { 0 };
	uint64_t deadline = cx_mono_ms() + COUNCILD_UP_MS;
	while (cx_client_connect(&o, &cl, &err) != CX_OK) {
		siginfo_t info;
		if (err.code != CX_EUNAVAILABLE || cx_proc_reap(&s->councild, &info) != 0 ||
		    cx_mono_ms() > deadline) {
			soak_violation(&s->v, "connecting to councild (log: %s/councild.log): %s: %s",
				       s->root, cx_code_word(err.code), err.message);
			return NULL;
		}
		usleep(20000);
	}
	return cl;
}

/* SIGTERM: every tenant stopped, then exit 0. */
static void councild_stop(struct soak *s)
{
	siginfo_t info;
	int r = 0;
	cx_proc_signal(&s->councild, SIGTERM);
	uint64_t deadline = cx_mono_ms() + COUNCILD_STOP_MS;
	while ((r = cx_proc_reap(&s->councild, &info)) == 0 && cx_mono_ms() < deadline) {
		struct pollfd p = { .fd = s->councild.pidfd, .events = POLLIN };
		poll(&p, 1, 1000);
	}
	if (r == 0) {
		soak_violation(&s->v, "councild did not exit %d s after SIGTERM", COUNCILD_STOP_MS / 1000);
		cx_proc_signal(&s->councild, SIGKILL);
		while (cx_proc_reap(&s->councild, &info) == 0)
			usleep(10000);
	} else if (r > 0 && (info.si_code != CLD_EXITED || info.si_status != 0)) {
		char how[64];
		cx_exit_describe(&info, how, sizeof how);
		soak_violation(&s->v, "councild %s on SIGTERM", how);
	}
	cx_proc_release(&s->councild);
}

/* Processes. */

/* Drops the doomed that have exited (reaped or not), and names each one
 * alive SETTLE_MS after its councild's SIGKILL (with all, each one alive):
 * a guardian kills its runs, waits for them, finalizes them and exits. */
static void doomed_sweep(struct soak *s, bool all)
{
	uint64_t now = cx_mono_ms();
	size_t kept = 0;
	for (size_t i = 0; i < s->n_doomed; i++) {
		struct doomed *p = &s->doomed[i];
		bool alive = cx_proc_alive(&p->proc);
		if (alive && (all || now - p->killed_ms > SETTLE_MS)) {
			char title[80];
			soak_title(p->proc.pid, title, sizeof title);
			soak_violation(&s->v, "process %d (%s; now %s) alive %.1f s after councild's "
				       "SIGKILL (kill_councild %u)", (int)p->proc.pid, p->title, title,
				       (double)(now - p->killed_ms) / 1000, p->kill);
			alive = false;
		}
		if (alive)
			s->doomed[kept++] = *p;
		else
			cx_proc_release(&p->proc);
	}
	s->n_doomed = kept;
}

/* Takes a handle on each of councild's descendants, before its SIGKILL.
 * Nothing forks in the tree meanwhile: runs start only at our request,
 * and we are here. */
static void doomed_add(struct soak *s)
{
	struct soak_proc *procs;
	int n = soak_descendants(s->councild.pid, &procs);
	if (n < 0) {
		soak_violation(&s->v, "reading /proc: %s", strerror(-n));
		return;
	}
	struct doomed *more = realloc(s->doomed, (s->n_doomed + (size_t)n + 1) * sizeof *more);
	for (int i = 0; more && i < n; i++) {
		struct doomed *p = &more[s->n_doomed];
		if (procs[i].state == 'Z' || cx_proc_open(&p->proc, procs[i].pid) < 0)
			continue;
		snprintf(p->title, sizeof p->title, "%s", procs[i].title);
		p->kill = s->kills;
		p->killed_ms = cx_mono_ms();
		s->n_doomed++;
	}
	if (more)
		s->doomed = more;
	free(procs);
}

/* Nothing of a SIGKILLed councild's tree is left: no worker, tenant
 * supervisor or launcher. Waits generously, then names each one left. */
static void expect_doomed_gone(struct soak *s)
{
	uint64_t deadline = cx_mono_ms() + SETTLE_MS;
	for (doomed_sweep(s, false); s->n_doomed && cx_mono_ms() < deadline; doomed_sweep(s, false))
		usleep(50000);
	doomed_sweep(s, true);
}

/* The tenant a supervisor's title names ("council-sup soak-3"), or -1. */
static int tenant_of(const struct soak *s, const struct soak_proc *p)
{
	unsigned i;
	if (p->ppid != s->councild.pid || sscanf(p->title, "council-sup soak-%u", &i) != 1 ||
	    i >= s->opt.tenants)
		return -1;
	return (int)i;
}

/* Whether p is the launcher (supervisor/launcher.h) of one of the tenant
 * supervisors among procs[0..n). */
static bool is_launcher(const struct soak *s, const struct soak_proc *p,
			const struct soak_proc *procs, int n)
{
	if (strncmp(p->title, "council-launch", 14))
		return false;
	for (int i = 0; i < n; i++)
		if (procs[i].pid == p->ppid && tenant_of(s, &procs[i]) >= 0)
			return true;
	return false;
}

/* True when councild's descendants are only its tenant supervisors and
 * their launchers (with sups), or none at all; with report, each other one
 * is a violation. */
static bool only_supervisors(struct soak *s, bool sups, bool report)
{
	struct soak_proc *procs;
	int n = soak_descendants(s->councild.pid, &procs);
	if (n < 0) {
		soak_violation(&s->v, "reading /proc: %s", strerror(-n));
		return true;
	}
	bool clean = true;
	for (int i = 0; i < n; i++) {
		struct soak_proc *p = &procs[i];
		if (sups && p->state != 'Z' && (tenant_of(s, p) >= 0 || is_launcher(s, p, procs, n)))
			continue;
		clean = false;
		if (report)
			soak_violation(&s->v, "process %d (%s, state %c, parent %d) left under councild",
				       (int)p->pid, p->state == 'Z' ? "a zombie" : p->title, p->state,
				       (int)p->ppid);
	}
	free(procs);
	return clean;
}

/* Waits (generously: the machine may be loaded) for what is left to go. */
static void expect_only_supervisors(struct soak *s, bool sups)
{
	uint64_t deadline = cx_mono_ms() + SETTLE_MS;
	while (!only_supervisors(s, sups, false) && cx_mono_ms() < deadline)
		usleep(50000);
	only_supervisors(s, sups, true);
}

/* Descriptors of each tenant's supervisor into fds (-1: none found). */
static void supervisor_fds(struct soak *s, int *fds)
{
	struct soak_proc *procs;
	int n = soak_descendants(s->councild.pid, &procs);
	for (unsigned t = 0; t < s->opt.tenants; t++)
		fds[t] = -1;
	for (int i = 0; i < n; i++) {
		int t = tenant_of(s, &procs[i]);
		if (t >= 0)
			fds[t] = soak_fd_count(procs[i].pid);
	}
	if (n >= 0)
		free(procs);
}

/* The warm-up's state, once councild has seen its client go and let go
 * of what it served: the count of descriptors unchanged for longer than
 * councild's sweep of finished subscriptions (a second). */
static void measure_baseline(struct soak *s)
{
	int last = -1, same = 0;
	uint64_t deadline = cx_mono_ms() + SETTLE_MS;
	while (same < 50 && cx_mono_ms() < deadline) {
		int n = soak_fd_count(s->councild.pid);
		same = n == last ? same + 1 : 0;
		last = n;
		usleep(50000);
	}
	s->base.fds = last;
	s->base.rss_kib = soak_memory_kib(s->councild.pid, "VmRSS");
	supervisor_fds(s, s->base.sup_fds);
	s->fresh = false;
}

static bool all_within(struct soak *s, int *fds)
{
	supervisor_fds(s, fds);
	bool ok = soak_fd_count(s->councild.pid) <= s->base.fds;
	for (unsigned t = 0; t < s->opt.tenants; t++)
		ok &= fds[t] <= s->base.sup_fds[t];
	return ok;
}

/* Descriptors back to the warm-up's (waiting for councild to see its
 * clients go), memory within RSS_SLACK_KIB of it. */
static void check_resources(struct soak *s, int *end_fds, long *end_rss)
{
	if (s->fresh) { /* no baseline of this councild's to compare with */
		*end_fds = soak_fd_count(s->councild.pid);
		*end_rss = soak_memory_kib(s->councild.pid, "VmRSS");
		s->peak_rss_kib = soak_memory_kib(s->councild.pid, "VmHWM");
		return;
	}
	int *fds = calloc(s->opt.tenants, sizeof *fds);
	uint64_t deadline = cx_mono_ms() + SETTLE_MS;
	while (fds && !all_within(s, fds) && cx_mono_ms() < deadline)
		usleep(50000);
	*end_fds = soak_fd_count(s->councild.pid);
	*end_rss = soak_memory_kib(s->councild.pid, "VmRSS");
	s->peak_rss_kib = soak_memory_kib(s->councild.pid, "VmHWM");
	if (*end_fds > s->base.fds)
		soak_violation(&s->v, "councild holds %d descriptors, %d after the warm-up", *end_fds,
			       s->base.fds);
	if (*end_rss > s->base.rss_kib + (long)s->opt.rss_slack_kib)
		soak_violation(&s->v, "councild's RSS is %ld KiB, %ld after the warm-up (%u allowed above)",
			       *end_rss, s->base.rss_kib, s->opt.rss_slack_kib);
	for (unsigned t = 0; fds && t < s->opt.tenants; t++)
		if (fds[t] > s->base.sup_fds[t])
			soak_violation(&s->v, "the supervisor of soak-%u holds %d descriptors, %d after the "
				       "warm-up", t, fds[t], s->base.sup_fds[t]);
	free(fds);
}

/* No tenant supervisor died: stops are not crashes, and nothing else of
 * the soak may take one down (councild would restart it, and only its
 * restart count would tell). */
static void check_no_restarts(struct soak *s, struct cx_client *cl)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	struct cx_error err = { 0 };
	cJSON_AddStringToObject(req, "op", "tenant_ls");
	int r = cx_client_call(cl, req, &reply, NULL, -1, &err);
	if (r != CX_OK)
		soak_violation(&s->v, "tenant_ls: %s: %s", cx_code_word(r), err.message);
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reply, "tenants")) {
		double restarts = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "restarts"));
		const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "status"));
		if (restarts != 0 || !status || !strcmp(status, "failed"))
			soak_violation(&s->v, "the supervisor of %s died: %.0f restarts, status %s",
				       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "tenant")),
				       restarts, status ? status : "(none)");
	}
	cJSON_Delete(reply);
}

/* Every tenant started (stop: stopped) through a client of its own. */
static void tenants_all(struct soak *s, bool stop)
{
	struct cx_client *cl = connect_councild(s);
	for (unsigned t = 0; cl && t < s->opt.tenants; t++) {
		char name[CX_NAME_MAX + 1];
		struct cx_error err = { 0 };
		soak_tenant_name(t, name);
		int r = stop ? cx_tenant_stop(cl, name, &err) : cx_tenant_start(cl, name, &err);
		if (r != CX_OK)
			soak_violation(&s->v, "%s %s: %s: %s", stop ? "tenant_stop" : "tenant_start", name,
				       cx_code_word(r), err.message);
	}
	cx_client_close(cl);
}

/* kill_councild (soak_plan): SIGKILL to councild with its runs live, its
 * tree kept to check that none of it survives; then a new councild on the
 * same directory, which must find every tenant stopped. */
static struct cx_client *councild_restart(void *ctx, pid_t *pid)
{
	struct soak *s = ctx;
	siginfo_t info;
	s->kills++;
	doomed_sweep(s, false);
	doomed_add(s);
	cx_proc_signal(&s->councild, SIGKILL);
	while (cx_proc_reap(&s->councild, &info) == 0) {
		struct pollfd p = { .fd = s->councild.pidfd, .events = POLLIN };
		poll(&p, 1, 1000);
	}
	cx_proc_release(&s->councild);
	s->fresh = true;
	if (councild_start(s) < 0)
		return NULL;
	*pid = s->councild.pid;
	struct cx_client *cl = connect_councild(s);
	if (cl)
		soak_check_tenants_stopped(s->root_fd, s->opt.tenants, &s->v);
	return cl;
}

/* Runs. */

static unsigned drive(struct soak *s, struct cx_client **cl, unsigned runs, bool faults)
{
	struct soak_plan plan = {
		.root = s->root, .councild = s->councild.pid, .councild_restart = councild_restart,
		.ctx = s, .runs = runs, .tenants = s->opt.tenants,
		.concurrency = s->opt.concurrency, .faults = faults, .rng = &s->rng,
		.progress = stderr,
	};
	unsigned started = soak_drive(cl, &plan, s->runs + s->n_runs, &s->tally, &s->v);
	s->n_runs += started;
	return started;
}

/* Every run's files, and nothing in runs/ that no start returned. */
static void check_runs(struct soak *s, unsigned outcomes[OUTCOME_N])
{
	char (*ids)[CX_RUN_ID_MAX + 1] = calloc(s->n_runs ? s->n_runs : 1, sizeof *ids);
	for (unsigned i = 0; i < s->n_runs; i++) {
		struct soak_record rec;
		char tenant[CX_NAME_MAX + 1];
		soak_tenant_name(s->runs[i].tenant, tenant);
		if (!s->runs[i].down && !s->runs[i].cut_off)
			soak_violation(&s->v, "run %s (fault %s): no DOWN came", s->runs[i].run_id,
				       soak_fault_name(s->runs[i].fault));
		soak_check_run(s->root_fd, &s->runs[i], tenant, &rec, &s->v);
		if (rec.outcome < OUTCOME_N)
			outcomes[rec.outcome]++;
		if (ids)
			memcpy(ids[i], s->runs[i].run_id, sizeof ids[i]);
	}
	if (ids)
		soak_check_unaccounted(s->root_fd, ids, s->n_runs, &s->v);
	free(ids);
}

static void print_summary(const struct soak *s, const unsigned outcomes[OUTCOME_N], int end_fds,
			  long end_rss)
{
	const struct soak_tally *t = &s->tally;
	unsigned soak_runs = s->n_runs - s->warmed;
	double secs = (double)s->elapsed_ms / 1000;
	printf("council-soak: %u runs (and %u of warm-up) across %u tenants, up to %u in flight "
	       "(of %u allowed), in %.1f s (%.1f runs/s); %u starts turned away by a stopping "
	       "or stopped tenant\n",
	       soak_runs, s->warmed, s->opt.tenants, t->peak, s->opt.concurrency, secs,
	       secs > 0 ? soak_runs / secs : 0, t->refused);
	printf("  outcomes:");
	for (int o = 0; o < OUTCOME_N; o++)
		printf(" %s %u", soak_outcome_name(o), outcomes[o]);
	printf("\n  faults injected:");
	for (int f = FAULT_KILL; f < FAULT_N; f++)
		printf(" %s %u", soak_fault_name(f), t->faults[f]);
	printf(" (ended before their fault was due:");
	for (int f = FAULT_KILL; f < FAULT_GROUP; f++)
		if (t->missed[f])
			printf(" %s %u", soak_fault_name(f), t->missed[f]);
	printf("); subscribers got %u lagged lines\n", t->lagged);
	if (s->fresh)
		printf("  councild: SIGKILLed %u times, the last after the warm-up: %d descriptors and "
		       "RSS %ld KiB at the end (%ld at its peak), not compared with the warm-up's "
		       "(another councild's)\n", s->kills, end_fds, end_rss, s->peak_rss_kib);
	else
		printf("  councild: %d descriptors after the warm-up, %d at the end; RSS %ld KiB, %ld "
		       "KiB (%+ld, %u allowed; %ld at its peak)\n", s->base.fds, end_fds,
		       s->base.rss_kib, end_rss, end_rss - s->base.rss_kib, s->opt.rss_slack_kib,
		       s->peak_rss_kib);
	printf("council-soak: %u violations (seed %" PRIu64 ")\n", s->v.n, s->opt.seed);
}

int main(int argc, char **argv)
{
	struct soak s = { .root_fd = -1, .councild = CX_PROC_NULL, .v = { .out = stdout } };
	if (parse_options(argc, argv, &s.opt) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	s.rng = s.opt.seed;
	printf("council-soak: seed %" PRIu64 " (--seed %" PRIu64 " replays this soak)\n", s.opt.seed,
	       s.opt.seed);
	const char *tmp = getenv("TMPDIR");
	snprintf(s.root, sizeof s.root, "%s/council-soak-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	s.runs = calloc((size_t)s.opt.runs + s.opt.warmup, sizeof *s.runs);
	s.base.sup_fds = calloc(s.opt.tenants, sizeof *s.base.sup_fds);
	if (!s.runs || !s.base.sup_fds || !mkdtemp(s.root) ||
	    (s.root_fd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "council-soak: %s: %s\n", s.root, strerror(errno));
		return 1;
	}
	if (councild_start(&s) < 0)
		return 1;
	unsigned outcomes[OUTCOME_N] = { 0 };
	int end_fds = -1;
	long end_rss = -1;
	tenants_all(&s, false);
	struct cx_client *cl = connect_councild(&s);
	if (cl) {
		/* The warm-up: every tenant up, councild's allocations at their
		 * working size, before the baseline is taken. */
		s.warmed = drive(&s, &cl, s.opt.warmup, s.opt.faults);
		cx_client_close(cl);
		tenants_all(&s, false); /* what a stop in the warm-up left down */
		measure_baseline(&s);
		cl = connect_councild(&s);
	}
	if (cl) {
		uint64_t start = cx_mono_ms();
		drive(&s, &cl, s.opt.runs, s.opt.faults);
		s.elapsed_ms = cx_mono_ms() - start;
		if (cl)
			check_no_restarts(&s, cl);
		cx_client_close(cl);
		/* Tenants a stop left down are started again, as at the baseline. */
		tenants_all(&s, false);
		expect_only_supervisors(&s, true);
		expect_doomed_gone(&s);
		check_resources(&s, &end_fds, &end_rss);
		tenants_all(&s, true);
		expect_only_supervisors(&s, false);
		check_runs(&s, outcomes);
	}
	councild_stop(&s);
	print_summary(&s, outcomes, end_fds, end_rss);
	close(s.root_fd);
	if (!s.v.n && !s.opt.keep) {
		if (cx_remove_tree(AT_FDCWD, s.root) < 0)
			fprintf(stderr, "council-soak: could not remove %s\n", s.root);
	} else {
		printf("council-soak: runtime directory kept: %s\n", s.root);
	}
	free(s.runs);
	free(s.base.sup_fds);
	free(s.doomed);
	return s.v.n ? 1 : 0;
}
