/* Containment's promises (src/containment.h): a kill reaches every
 * descendant of a run, the ones that setsid() and double-fork away
 * included, through a cgroup or a PID namespace; and each fallback works
 * when the kernel refuses the better way.
 *
 * Each test runs its own process tree and is a subreaper
 * (PR_SET_CHILD_SUBREAPER), so the orphans of a tree are its children: it
 * can see them (th_descendants), and must reap them. Where this machine has
 * no writable cgroup2, or may not create PID namespaces, the test says so
 * and passes. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "containment.h"
#include "harness.h"

#define DEADLINE_MS 10000
#define TREE_MAX 64

static struct cx_cgroup root = { .dir_fd = -1 };  /* this test's, under our own */

static void setup(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static void teardown(void)
{
	if (root.dir_fd >= 0) {
		cx_cgroup_kill(&root);
		cx_cgroup_wait_empty(&root, DEADLINE_MS);
	}
	cx_reap_orphans(NULL, NULL);
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	if (root.dir_fd >= 0)
		ck_assert_int_eq(cx_cgroup_remove(&root), 0);
}

/* A failed assertion ends the test process at once, without teardown: its
 * cgroup, and whatever escaped into it, stays. The next run kills and
 * removes the cgroups of test processes that are gone. */
static void remove_stale_test_cgroups(void)
{
	struct cx_cgroup self;
	if (cx_cgroup_open_self(&self) < 0)
		return;
	DIR *d = opendir(self.path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int pid;
		if (sscanf(e->d_name, "council-test-%d", &pid) != 1 || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		struct cx_cgroup stale;
		if (cx_cgroup_create(&self, e->d_name, &stale) < 0)
			continue;
		cx_cgroup_kill(&stale);
		cx_cgroup_wait_empty(&stale, DEADLINE_MS);
		if (cx_cgroup_remove(&stale) < 0)
			cx_cgroup_close(&stale);
	}
	if (d)
		closedir(d);
	cx_cgroup_close(&self);
}

/* This test's root cgroup and one run cgroup in it; false (the test skips)
 * without a writable cgroup2. */
static bool cgroup_for_run(struct cx_cgroup *run)
{
	if (!cx_cgroup_available()) {
		printf("SKIP: no writable cgroup2 hierarchy here\n");
		return false;
	}
	remove_stale_test_cgroups();
	char name[64];
	snprintf(name, sizeof name, "council-test-%d", (int)getpid());
	ck_assert_int_eq(cx_cgroup_open_root(&root, name), 0);
	ck_assert_int_eq(cx_cgroup_create(&root, "run1", run), 0);
	return true;
}

static void __attribute__((noreturn)) pause_forever(void)
{
	for (;;)
		pause();
}

/* A child that setsid()s away from its parent's session and group and
 * double-forks: the grandchild is an orphan in its own session, out of
 * reach of any process-group kill. It writes a byte on ready, then waits
 * for a kill. */
static void escape(int ready)
{
	pid_t a = fork();
	if (a != 0)
		return; /* the caller does not reap it: it stays a zombie */
	setsid();
	if (fork() == 0) {
		(void)!write(ready, "x", 1);
		pause_forever();
	}
	_exit(0);
}

static void wait_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, DEADLINE_MS) == 1, "the tree never got ready");
	char c;
	ck_assert_int_eq(read(fd, &c, 1), 1);
}

/* Handles on every process of the tree below us, zombies included. */
static int snapshot(struct cx_proc *tree)
{
	pid_t pids[TREE_MAX];
	int n = th_descendants(pids, TREE_MAX), kept = 0;
	for (int i = 0; i < n && i < TREE_MAX; i++)
		if (cx_proc_open(&tree[kept], pids[i]) == 0)
			kept++;
	return kept;
}

/* The state letter of /proc/pid/stat; 0 if there is no such process. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end = strrchr(buf, ')');
	return end && end[1] == ' ' ? end[2] : 0;
}

static bool pidfd_exited(const struct cx_proc *p, int timeout_ms)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	return poll(&pfd, 1, timeout_ms) == 1;
}

/* The tree is what it should be: someone in it left the session of the
 * process at its top. */
static void assert_escaped(const struct cx_proc *top, const struct cx_proc *tree, int n)
{
	pid_t sid = getsid(top->pid);
	bool escaped = false;
	for (int i = 0; i < n; i++)
		escaped = escaped || (proc_state(tree[i].pid) != 'Z' && getsid(tree[i].pid) != sid);
	ck_assert_msg(escaped, "no process of the tree left its session");
}

/* Every process of the tree has exited: a zombie at most, nothing runs. */
static void assert_tree_dead(struct cx_proc *tree, int n)
{
	for (int i = 0; i < n; i++) {
		ck_assert_msg(pidfd_exited(&tree[i], DEADLINE_MS), "pid %d survived",
			      (int)tree[i].pid);
		char state = proc_state(tree[i].pid);
		ck_assert_msg(state == 0 || state == 'Z', "pid %d is in state %c",
			      (int)tree[i].pid, state);
	}
}

/* Reaps what we forked and what we adopted, until nothing is left. */
static void reap_all(struct cx_proc *tree, int n)
{
	for (int i = 0; i < n; i++)
		cx_proc_release(&tree[i]);
	pid_t pids[TREE_MAX];
	for (int waited = 0; th_descendants(pids, TREE_MAX) > 0 && waited < DEADLINE_MS;
	     waited += 10) {
		ck_assert_int_ge(cx_reap_orphans(NULL, NULL), 0);
		usleep(10 * 1000);
	}
}

static void wait_reaped(struct cx_proc *p, siginfo_t *info)
{
	memset(info, 0, sizeof *info);
	int r;
	while ((r = waitid(P_PIDFD, (id_t)p->pidfd, info, WEXITED)) < 0 && errno == EINTR)
		;
	ck_assert_int_eq(r, 0);
}

START_TEST(test_names_and_what_this_machine_supports)
{
	ck_assert_str_eq(cx_containment_name(CX_CONTAIN_PGROUP), "pgroup");
	ck_assert_str_eq(cx_containment_name(CX_CONTAIN_PIDNS), "pidns");
	ck_assert_str_eq(cx_containment_name(CX_CONTAIN_CGROUP), "cgroup");
	char self[PATH_MAX];
	int r = cx_cgroup_self_path(self, sizeof self);
	bool cgroup = cx_cgroup_available(), pidns = cx_pidns_available();
	enum cx_containment best = cx_containment_detect();
	printf("containment here: %s (cgroup2 %s: %s; pidns: %s)\n", cx_containment_name(best),
	       r == 0 ? self : strerror(-r), cgroup ? "writable" : "not usable",
	       pidns ? "yes" : "no");
	ck_assert_int_eq(best, cgroup ? CX_CONTAIN_CGROUP : pidns ? CX_CONTAIN_PIDNS
						      : CX_CONTAIN_PGROUP);
	if (cgroup) {
		ck_assert_int_eq(r, 0);
		char procs[PATH_MAX + 16];
		snprintf(procs, sizeof procs, "%s/cgroup.procs", self);
		ck_assert_msg(access(procs, R_OK) == 0, "%s", procs);
	}
}
END_TEST

START_TEST(test_child_forked_into_a_cgroup_is_listed_in_its_procs)
{
	struct cx_cgroup run;
	if (!cgroup_for_run(&run))
		return;
	pid_t parent = getpid();
	struct cx_proc child;
	struct cx_fork_opts opts = { .cgroup_fd = run.dir_fd };
	struct cx_fork_outcome how;
	int r = cx_proc_fork_opts(&child, &opts, &how);
	if (r == 0) {
		if (!cx_proc_child_init(parent))
			_exit(1);
		pause_forever();
	}
	ck_assert_int_eq(r, 1);
	printf("fork into a cgroup: %s (%s)\n",
	       how.cgroup == CX_FORK_CGROUP_CLONE ? "clone3 CLONE_INTO_CGROUP"
	       : how.cgroup == CX_FORK_CGROUP_MOVED ? "fork, then moved" : "failed",
	       how.cgroup_error ? strerror(-how.cgroup_error) : "no error");
	ck_assert(how.cgroup == CX_FORK_CGROUP_CLONE || how.cgroup == CX_FORK_CGROUP_MOVED);
	ck_assert(!how.pidns);
	ck_assert(cx_cgroup_contains(&run, &child));
	ck_assert_int_eq(cx_cgroup_populated(&run), 1);

	/* Not removable while someone lives in it. */
	ck_assert_int_eq(cx_cgroup_remove(&run), -EBUSY);
	ck_assert_int_eq(cx_cgroup_kill(&run), 0);
	siginfo_t info;
	wait_reaped(&child, &info);
	ck_assert_int_eq(info.si_code, CLD_KILLED);
	ck_assert_int_eq(info.si_status, SIGKILL);
	cx_proc_release(&child);
	ck_assert_int_eq(cx_cgroup_wait_empty(&run, DEADLINE_MS), 0);
	ck_assert_int_eq(cx_cgroup_remove(&run), 0);
	ck_assert_int_eq(run.dir_fd, -1);
}
END_TEST

/* A child in the run's cgroup whose own child setsid()s and double-forks:
 * kill() kills all of it, the cgroup empties before anybody reaps a
 * zombie, and is removed. */
static void kill_escaped_tree(int (*kill_cgroup)(const struct cx_cgroup *))
{
	struct cx_cgroup run;
	if (!cgroup_for_run(&run))
		return;
	int ready[2];
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid_t parent = getpid();
	struct cx_proc child;
	struct cx_fork_opts opts = { .cgroup_fd = run.dir_fd };
	int r = cx_proc_fork_opts(&child, &opts, NULL);
	if (r == 0) {
		if (!cx_proc_child_init(parent))
			_exit(1);
		escape(ready[1]);
		pause_forever();
	}
	ck_assert_int_eq(r, 1);
	close(ready[1]);
	wait_ready(ready[0]);
	close(ready[0]);

	struct cx_proc tree[TREE_MAX];
	int n = snapshot(tree);
	ck_assert_msg(n >= 2, "only %d processes in the tree", n);
	assert_escaped(&child, tree, n);
	for (int i = 0; i < n; i++)
		if (proc_state(tree[i].pid) != 'Z')
			ck_assert_msg(cx_cgroup_contains(&run, &tree[i]), "pid %d is not in the cgroup",
				      (int)tree[i].pid);
	ck_assert_int_eq(cx_cgroup_remove(&run), -EBUSY);

	ck_assert_int_eq(kill_cgroup(&run), 0);
	/* Nobody has reaped anything yet: zombies do not keep it populated. */
	ck_assert_int_eq(cx_cgroup_wait_empty(&run, DEADLINE_MS), 0);
	ck_assert_int_eq(cx_cgroup_populated(&run), 0);
	assert_tree_dead(tree, n);
	ck_assert_int_eq(cx_cgroup_remove(&run), 0);

	siginfo_t info;
	wait_reaped(&child, &info);
	ck_assert_int_eq(info.si_status, SIGKILL);
	cx_proc_release(&child);
	reap_all(tree, n);
}

START_TEST(test_cgroup_kill_reaches_a_setsid_double_forked_grandchild)
{
	kill_escaped_tree(cx_cgroup_kill);
}
END_TEST

START_TEST(test_kill_each_fallback_reaches_a_setsid_double_forked_grandchild)
{
	kill_escaped_tree(cx_cgroup_kill_each);
}
END_TEST

START_TEST(test_a_forked_child_moves_itself_into_a_cgroup)
{
	struct cx_cgroup run;
	if (!cgroup_for_run(&run))
		return;
	int report[2];
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	pid_t parent = getpid();
	struct cx_proc child;
	int r = cx_proc_fork(&child);
	if (r == 0) {
		if (!cx_proc_child_init(parent))
			_exit(1);
		int moved = cx_cgroup_move_self(run.dir_fd);
		(void)!write(report[1], &moved, sizeof moved);
		pause_forever();
	}
	ck_assert_int_eq(r, 1);
	close(report[1]);
	int moved = -1;
	ck_assert_int_eq(read(report[0], &moved, sizeof moved), (ssize_t)sizeof moved);
	close(report[0]);
	ck_assert_int_eq(moved, 0);
	ck_assert(cx_cgroup_contains(&run, &child));
	ck_assert_int_eq(cx_cgroup_kill(&run), 0);
	siginfo_t info;
	wait_reaped(&child, &info);
	cx_proc_release(&child);
	ck_assert_int_eq(cx_cgroup_wait_empty(&run, DEADLINE_MS), 0);
	ck_assert_int_eq(cx_cgroup_remove(&run), 0);
}
END_TEST

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Makes clone3 fail with ENOSYS in this process and its children, as a
 * container's seccomp profile does. */
static bool refuse_clone3(void)
{
#if defined(TEST_AUDIT_ARCH) && defined(SYS_clone3)
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
	return false;
#endif
}

/* Where the helper of a fallback test failed: its exit code. */
enum helper_exit { HELPER_OK, HELPER_SETUP, HELPER_FORK, HELPER_HOW, HELPER_WHERE };

/* A helper process restricts itself (restrict_self), then forks a child
 * asking for both the cgroup run (if open) and a new PID namespace; judge
 * says whether what it got is right (HELPER_OK, HELPER_HOW, HELPER_WHERE).
 * The helper reports through its exit code; setup names its restriction in
 * the failure message. */
typedef int fork_judge(const struct cx_fork_outcome *how, const struct cx_proc *child,
		       pid_t self, const struct cx_cgroup *run);

static void fork_restricted(bool (*restrict_self)(void), const struct cx_cgroup *run,
			    fork_judge *judge, const char *setup)
{
	pid_t parent = getpid();
	struct cx_proc helper;
	int r = cx_proc_fork(&helper);
	if (r == 0) {
		if (!cx_proc_child_init(parent) || !restrict_self())
			_exit(HELPER_SETUP);
		pid_t self = getpid();
		struct cx_proc child;
		struct cx_fork_opts opts = { .cgroup_fd = run->dir_fd, .new_pidns = true };
		struct cx_fork_outcome how;
		int f = cx_proc_fork_opts(&child, &opts, &how);
		if (f == 0) {
			if (!cx_proc_child_init(self))
				_exit(1);
			pause_forever();
		}
		if (f != 1)
			_exit(HELPER_FORK);
		int code = judge(&how, &child, self, run);
		cx_proc_signal(&child, SIGKILL);
		siginfo_t info;
		waitid(P_PIDFD, (id_t)child.pidfd, &info, WEXITED);
		_exit(code);
	}
	ck_assert_int_eq(r, 1);
	siginfo_t info;
	wait_reaped(&helper, &info);
	cx_proc_release(&helper);
	ck_assert_msg(info.si_code == CLD_EXITED && info.si_status != HELPER_SETUP,
		      "the helper could not %s", setup);
	ck_assert_msg(info.si_status == HELPER_OK, "helper failed at step %d", info.si_status);
}

/* Without clone3: a fork that moved itself into the cgroup, no namespace. */
static int judge_clone3_refused(const struct cx_fork_outcome *how, const struct cx_proc *child,
				pid_t self, const struct cx_cgroup *run)
{
	if (how->cgroup != CX_FORK_CGROUP_MOVED || how->cgroup_error != -ENOSYS ||
	    how->pidns || how->pidns_error != -ENOSYS)
		return HELPER_HOW;
	return cx_cgroup_contains(run, child) ? HELPER_OK : HELPER_WHERE;
}

START_TEST(test_refused_clone3_falls_back_to_fork_and_move)
{
	struct cx_cgroup run;
	if (!cgroup_for_run(&run))
		return;
	fork_restricted(refuse_clone3, &run, judge_clone3_refused, "install its seccomp filter");
	ck_assert_int_eq(cx_cgroup_remove(&run), 0);
}
END_TEST

/* A tree like escape()'s, in a PID namespace whose init reaps the orphans
 * it adopts, as a worker would. */
static void __attribute__((noreturn)) init_main(pid_t parent, int ready)
{
	if (!cx_proc_child_init(parent))
		_exit(1);
	if (getpid() != 1)
		_exit(2);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	escape(ready);
	for (;;) {
		sigwaitinfo(&chld, NULL);
		cx_reap_orphans(NULL, NULL);
	}
}

static bool pidns_or_skip(void)
{
	if (cx_pidns_available())
		return true;
	printf("SKIP: this process may not create PID namespaces\n");
	return false;
}

START_TEST(test_pidns_init_death_kills_a_setsid_double_forked_grandchild)
{
	if (!pidns_or_skip())
		return;
	int ready[2];
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid_t parent = getpid();
	struct cx_proc init;
	struct cx_fork_opts opts = { .cgroup_fd = -1, .new_pidns = true };
	struct cx_fork_outcome how;
	int r = cx_proc_fork_opts(&init, &opts, &how);
	if (r == 0)
		init_main(parent, ready[1]);
	ck_assert_int_eq(r, 1);
	ck_assert(how.pidns);
	ck_assert_int_eq(how.pidns_error, 0);
	ck_assert_int_eq(how.cgroup, CX_FORK_CGROUP_NONE);
	close(ready[1]);
	wait_ready(ready[0]);
	close(ready[0]);

	struct cx_proc tree[TREE_MAX];
	int n = snapshot(tree);
	ck_assert_msg(n >= 2, "only %d processes in the tree", n);
	assert_escaped(&init, tree, n);
	ck_assert(cx_proc_alive(&init));
	ck_assert_int_eq(cx_proc_signal(&init, SIGKILL), 0);
	siginfo_t info;
	wait_reaped(&init, &info);
	ck_assert_int_eq(info.si_status, SIGKILL);
	cx_proc_release(&init);
	assert_tree_dead(tree, n);
	reap_all(tree, n);
}
END_TEST

START_TEST(test_pidns_init_ignores_sigterm_without_a_handler)
{
	if (!pidns_or_skip())
		return;
	int ping[2], pong[2];
	ck_assert_int_eq(pipe2(ping, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pong, O_CLOEXEC), 0);
	pid_t parent = getpid();
	struct cx_proc init;
	struct cx_fork_opts opts = { .cgroup_fd = -1, .new_pidns = true };
	int r = cx_proc_fork_opts(&init, &opts, NULL);
	if (r == 0) {
		if (!cx_proc_child_init(parent))
			_exit(1);
		char c;
		while (read(ping[0], &c, 1) == 1)
			(void)!write(pong[1], &c, 1);
		_exit(0);
	}
	ck_assert_int_eq(r, 1);
	close(ping[0]);
	close(pong[1]);
	/* A queued SIGTERM would be acted on before the echo got back to
	 * user space to write the answer: an answer means it was dropped. */
	ck_assert_int_eq(cx_proc_signal(&init, SIGTERM), 0);
	ck_assert_int_eq(write(ping[1], "x", 1), 1);
	wait_ready(pong[0]);
	ck_assert_int_eq(cx_proc_signal(&init, SIGKILL), 0);
	siginfo_t info;
	wait_reaped(&init, &info);
	ck_assert_int_eq(info.si_code, CLD_KILLED);
	ck_assert_int_eq(info.si_status, SIGKILL);
	cx_proc_release(&init);
	close(ping[1]);
	close(pong[0]);
}
END_TEST

/* Drops CAP_SYS_ADMIN, without which CLONE_NEWPID is EPERM. */
static bool drop_sys_admin(void)
{
	struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &head, data) < 0)
		return false;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &head, data) == 0;
}

static bool same_pidns(pid_t a, pid_t b)
{
	char pa[64], pb[64], la[64] = "", lb[64] = "";
	snprintf(pa, sizeof pa, "/proc/%d/ns/pid", (int)a);
	snprintf(pb, sizeof pb, "/proc/%d/ns/pid", (int)b);
	return readlink(pa, la, sizeof la - 1) > 0 && readlink(pb, lb, sizeof lb - 1) > 0 &&
	       !strcmp(la, lb);
}

/* Refused the namespace alone: the child still gets the cgroup (where
 * there is one) the clone3 way, in the helper's own namespace. */
static int judge_pidns_refused(const struct cx_fork_outcome *how, const struct cx_proc *child,
			       pid_t self, const struct cx_cgroup *run)
{
	bool cgroup = run->dir_fd >= 0;
	if (how->pidns || how->pidns_error != -EPERM ||
	    how->cgroup != (cgroup ? CX_FORK_CGROUP_CLONE : CX_FORK_CGROUP_NONE) ||
	    how->cgroup_error != 0)
		return HELPER_HOW;
	return same_pidns(self, child->pid) && (!cgroup || cx_cgroup_contains(run, child))
	       ? HELPER_OK : HELPER_WHERE;
}

START_TEST(test_refused_pidns_falls_back_to_no_namespace)
{
	if (!pidns_or_skip())
		return;
	struct cx_cgroup run = CX_CGROUP_NULL;
	bool cgroup = cx_cgroup_available() && cgroup_for_run(&run);
	fork_restricted(drop_sys_admin, &run, judge_pidns_refused, "drop CAP_SYS_ADMIN");
	if (cgroup)
		ck_assert_int_eq(cx_cgroup_remove(&run), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("containment");
	TCase *tc = tcase_create("containment");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names_and_what_this_machine_supports);
	tcase_add_test(tc, test_child_forked_into_a_cgroup_is_listed_in_its_procs);
	tcase_add_test(tc, test_cgroup_kill_reaches_a_setsid_double_forked_grandchild);
	tcase_add_test(tc, test_kill_each_fallback_reaches_a_setsid_double_forked_grandchild);
	tcase_add_test(tc, test_a_forked_child_moves_itself_into_a_cgroup);
	tcase_add_test(tc, test_refused_clone3_falls_back_to_fork_and_move);
	tcase_add_test(tc, test_pidns_init_death_kills_a_setsid_double_forked_grandchild);
	tcase_add_test(tc, test_pidns_init_ignores_sigterm_without_a_handler);
	tcase_add_test(tc, test_refused_pidns_falls_back_to_no_namespace);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
