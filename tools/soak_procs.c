/* What /proc says of councild and what it spawned. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "soak.h"

#define PROC_FILE_MAX 65536

/* pid's parent and state from /proc/PID/stat; false when it is gone. The
 * name in parentheses may hold anything, ')' included: parse after the
 * last one. */
static bool stat_of(pid_t pid, struct soak_proc *p)
{
	char path[64], *text;
	int ppid = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (cx_read_file(AT_FDCWD, path, PROC_FILE_MAX, &text, NULL) < 0)
		return false;
	char *end = strrchr(text, ')');
	bool ok = end && sscanf(end + 1, " %c %d", &p->state, &ppid) == 2;
	free(text);
	p->pid = pid;
	p->ppid = ppid;
	p->title[0] = '\0';
	return ok;
}

void soak_title(pid_t pid, char *buf, size_t size)
{
	char path[64], *text;
	size_t n;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	buf[0] = '\0';
	if (cx_read_file(AT_FDCWD, path, PROC_FILE_MAX, &text, &n) < 0)
		return;
	for (size_t i = 0; i + 1 < n; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	snprintf(buf, size, "%s", text);
	free(text);
}

int soak_descendants(pid_t root, struct soak_proc **out)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	size_t n = 0, cap = 256;
	struct soak_proc *all = malloc(cap * sizeof *all);
	for (struct dirent *e; all && (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		if (n == cap) {
			struct soak_proc *more = reallocarray(all, cap *= 2, sizeof *all);
			if (!more) {
				free(all);
				all = NULL;
				break;
			}
			all = more;
		}
		if (stat_of(pid, &all[n]))
			n++;
	}
	closedir(d);
	if (!all)
		return -ENOMEM;
	/* Descendants go to the front: all[0..found) are root's, and each
	 * pass over the rest takes in the children of what was found. */
	size_t found = 0;
	for (bool grew = true; grew;) {
		grew = false;
		for (size_t i = found; i < n; i++) {
			bool ours = all[i].ppid == root;
			for (size_t j = 0; j < found && !ours; j++)
				ours = all[i].ppid == all[j].pid;
			if (!ours)
				continue;
			struct soak_proc t = all[found];
			all[found] = all[i];
			all[i] = t;
			soak_title(all[found].pid, all[found].title, sizeof all[found].title);
			found++;
			grew = true;
		}
	}
	*out = all;
	return (int)found;
}

int soak_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return pid == getpid() ? n - 1 : n; /* the one opendir holds is not ours to count */
}

long soak_memory_kib(pid_t pid, const char *field)
{
	char path[64], key[32], *text;
	long kib;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	snprintf(key, sizeof key, "\n%s:", field);
	int r = cx_read_file(AT_FDCWD, path, PROC_FILE_MAX, &text, NULL);
	if (r < 0)
		return r;
	const char *line = strstr(text, key);
	if (!line || sscanf(line + strlen(key), " %ld kB", &kib) != 1)
		kib = -ENODATA;
	free(text);
	return kib;
}
