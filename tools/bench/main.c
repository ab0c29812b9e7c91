/* council-bench [--quick] [--json FILE] [--only GROUP,...] [--runtime-dir DIR]
 *               [--councild PATH]
 *
 * Measures council against the machine's own limits (docs/performance.md)
 * and prints one table: metric, council, baseline, ratio, target. With
 * --json, writes the same figures as one JSON object. Exits 0 when every
 * figure was measured, whether or not it met its target; 1 when the
 * benchmark itself failed, 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "fsutil.h"

static const char usage[] =
	"usage: council-bench [--quick] [--json FILE] [--only GROUP,...]\n"
	"                     [--runtime-dir DIR] [--councild PATH]\n"
	"\n"
	"  --quick            tiny counts: checks that every figure can be measured\n"
	"  --json FILE        also write the figures to FILE as one JSON object\n"
	"  --only GROUPS      spawn, latency, relay, tenant, scale (default: all)\n"
	"  --runtime-dir DIR  the runtime directory to use (default: a fresh one\n"
	"                     under $XDG_RUNTIME_DIR, /dev/shm or /tmp, removed after)\n"
	"  --councild PATH    the councild to start (default: $COUNCILD, else\n"
	"                     ../supervisor/councild beside this program)\n";

static const struct group {
	const char *name;
	void (*run)(struct bench *b);
} groups[] = {
	{ "spawn", bench_spawn },
	{ "latency", bench_latency },
	{ "relay", bench_relay },
	{ "tenant", bench_tenant },
	{ "scale", bench_at_scale },
};

static struct bench bench;
static bool root_made;   /* bench.root is ours, to remove at exit */

void bench_die(const char *fmt, ...)
{
	va_list ap;
	fputs("council-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Number formatting, by unit: rates and times with three significant
 * digits, bytes in KiB or MiB. */
static void format_value(char *buf, size_t size, double v, const char *unit)
{
	if (isnan(v)) {
		snprintf(buf, size, "-");
	} else if (!strcmp(unit, "B")) {
		if (v >= 1024 * 1024)
			snprintf(buf, size, "%.2f MiB", v / (1024 * 1024));
		else
			snprintf(buf, size, "%.2f KiB", v / 1024);
	} else {
		snprintf(buf, size, "%.*f %s", v >= 100 ? 0 : v >= 10 ? 1 : 2, v, unit);
	}
}

static double ratio_of(const struct figure *f)
{
	return isnan(f->baseline) || f->baseline == 0 ? NAN : f->ours / f->baseline;
}

static bool met(const struct figure *f)
{
	double r = ratio_of(f);
	switch (f->kind) {
	case RATIO_AT_LEAST:
		return r >= f->target;
	case RATIO_AT_MOST:
		return r <= f->target;
	case OURS_AT_MOST:
		return f->ours <= f->target;
	}
	return false;
}

static void format_target(char *buf, size_t size, const struct figure *f)
{
	char v[32];
	switch (f->kind) {
	case RATIO_AT_LEAST:
		snprintf(buf, size, ">= %.2f", f->target);
		break;
	case RATIO_AT_MOST:
		snprintf(buf, size, "<= %.0fx", f->target);
		break;
	case OURS_AT_MOST:
		format_value(v, sizeof v, f->target, f->unit);
		snprintf(buf, size, "<= %s", v);
		break;
	}
}

static void format_row(char *buf, size_t size, const struct figure *f)
{
	char ours[32], base[32], ratio[32], target[48];
	format_value(ours, sizeof ours, f->ours, f->unit);
	format_value(base, sizeof base, f->baseline, f->unit);
	double r = ratio_of(f);
	if (isnan(r))
		snprintf(ratio, sizeof ratio, "-");
	else
		snprintf(ratio, sizeof ratio, "%.2f", r);
	format_target(target, sizeof target, f);
	snprintf(buf, size, "%-18s %16s %16s %7s %12s  %-4s %s", f->name, ours, base, ratio,
		 target, met(f) ? "ok" : "MISS", f->note);
}

static const char table_head[] = "metric                      council         baseline   ratio       target";

void bench_progress(const struct figure *f)
{
	char row[384];
	format_row(row, sizeof row, f);
	fprintf(stderr, "  %s\n", row);
}

static void print_table(const struct bench *b)
{
	printf("%s\n", table_head);
	for (size_t i = 0; i < b->n_figures; i++) {
		char row[384];
		format_row(row, sizeof row, &b->figures[i]);
		printf("%s\n", row);
	}
}

static cJSON *number_or_null(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static int write_json(const struct bench *b, const char *path)
{
	cJSON *all = cJSON_CreateObject();
	for (size_t i = 0; i < b->n_figures; i++) {
		const struct figure *f = &b->figures[i];
		char target[48];
		format_target(target, sizeof target, f);
		cJSON *o = cJSON_AddObjectToObject(all, f->name);
		cJSON_AddItemToObject(o, "ours", number_or_null(f->ours));
		cJSON_AddItemToObject(o, "baseline", number_or_null(f->baseline));
		cJSON_AddItemToObject(o, "ratio", number_or_null(ratio_of(f)));
		cJSON_AddStringToObject(o, "target", target);
		cJSON_AddStringToObject(o, "unit", f->unit);
		cJSON_AddBoolToObject(o, "met", met(f));
		cJSON_AddNumberToObject(o, "reps", f->reps);
		if (f->note[0])
			cJSON_AddStringToObject(o, "note", f->note);
	}
	char *text = cJSON_Print(all);
	cJSON_Delete(all);
	FILE *out = text ? fopen(path, "w") : NULL;
	int r = out && fprintf(out, "%s\n", text) > 0 ? 0 : -1;
	if (out && fclose(out) != 0)
		r = -1;
	free(text);
	return r;
}

/* Rates and memory at 10,000 live runs need descriptors: raise the soft
 * limit to the hard one, and the hard one too where we may. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = 131072;
	struct rlimit more = { want, want };
	if (rl.rlim_max < want && setrlimit(RLIMIT_NOFILE, &more) == 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* At exit, bench_die's too: councild stopped, the runtime directory gone. */
static void cleanup(void)
{
	bench_councild_stop(&bench);
	if (root_made)
		nftw(bench.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory on a tmpfs where there is one, as a runtime directory
 * usually is ($XDG_RUNTIME_DIR, /run). */
static void make_root(struct bench *b)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *bases[] = { xdg && *xdg ? xdg : NULL, "/dev/shm", getenv("TMPDIR"), "/tmp" };
	for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
		struct stat st;
		if (!bases[i] || stat(bases[i], &st) < 0 || !S_ISDIR(st.st_mode) ||
		    access(bases[i], W_OK) < 0)
			continue;
		snprintf(b->root, sizeof b->root, "%s/council-bench-XXXXXX", bases[i]);
		if (mkdtemp(b->root)) {
			root_made = true;
			return;
		}
	}
	bench_die("cannot make a runtime directory: %s", strerror(errno));
}

/* The councild beside this program: ../supervisor/councild in a build tree. */
static const char *default_councild(void)
{
	static char path[4096];
	const char *env = getenv("COUNCILD");
	if (env && *env)
		return env;
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
	if (n <= 0)
		return "councild";
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	strcpy(slash ? slash : path, "/../supervisor/councild");
	return access(path, X_OK) == 0 ? path : "councild";
}

#define N_GROUPS (sizeof groups / sizeof *groups)

/* --only's comma-separated groups into selected; false (with a message)
 * for a name that is none. NULL selects them all. */
static bool select_groups(const char *only, bool selected[N_GROUPS])
{
	for (size_t i = 0; i < N_GROUPS; i++)
		selected[i] = !only;
	for (const char *p = only; p && *p;) {
		size_t len = strcspn(p, ","), i;
		for (i = 0; i < N_GROUPS; i++)
			if (strlen(groups[i].name) == len && !strncmp(p, groups[i].name, len))
				break;
		if (i == N_GROUPS) {
			fprintf(stderr, "council-bench: --only: unknown group \"%.*s\"\n", (int)len, p);
			return false;
		}
		selected[i] = true;
		p += len + (p[len] == ',');
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "only", required_argument, NULL, 'o' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "councild", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bench *b = &bench;
	const char *json = NULL, *only = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q': b->quick = true; break;
		case 'j': json = optarg; break;
		case 'o': only = optarg; break;
		case 'r': snprintf(b->root, sizeof b->root, "%s", optarg); break;
		case 'c': b->councild = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	bool selected[N_GROUPS];
	if (!select_groups(only, selected)) {
		fputs(usage, stderr);
		return 2;
	}
	b->reps = b->quick ? 2 : 5;
	if (!b->councild)
		b->councild = default_councild();
	if (b->root[0]) {
		int r = cx_mkdir_p(b->root, 0700);
		if (r < 0)
			bench_die("runtime directory %s: %s", b->root, strerror(-r));
	} else {
		make_root(b);
	}
	atexit(cleanup);
	raise_nofile();
	/* Subscribers' pipes close at any time: an EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	setenv("COUNCIL_RUNTIME_DIR", b->root, 1);
	fprintf(stderr, "council-bench: runtime directory %s, %s counts, %u repetitions\n",
		b->root, b->quick ? "quick" : "full", b->reps);

	uint64_t t0 = bench_ns();
	for (size_t i = 0; i < N_GROUPS; i++)
		if (selected[i])
			groups[i].run(b);
	bench_councild_stop(b);
	fprintf(stderr, "council-bench: done in %.0f s\n", (double)(bench_ns() - t0) / 1e9);

	print_table(b);
	if (json && write_json(b, json) < 0)
		bench_die("writing %s: %s", json, strerror(errno));
	return 0;
}
