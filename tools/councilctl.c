/* councilctl: the council command line (DESIGN §7).
 *
 * `run` embeds a supervisor, starts one run and follows its events in a
 * single poll loop until the terminal event, then prints the result. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "council/council.h"
#include "timeline.h"

#define RESULT_WAIT_MS 5000
#define READ_CHUNK 65536

static const char usage_text[] =
	"usage: councilctl COMMAND [ARGS]\n"
	"\n"
	"  run SPEC [--input FILE|-] [--input-json JSON] [--tenant T] [--run-id ID]\n"
	"           [--json] [--runtime-dir DIR]\n"
	"      run a council, follow it on stderr, print its result on stdout\n"
	"  validate SPEC\n"
	"      check a council spec and print every problem found\n";

struct run_options {
	const char *spec_path;
	const char *input_path;    /* "-": stdin */
	const char *input_json;
	const char *tenant;
	const char *run_id;
	const char *runtime_dir;
	bool json;                 /* event lines on stdout instead of a timeline */
};

/* A run being followed: its events, the signals that stop it, and where
 * its event lines go. */
struct follow {
	struct cx_sup *sup;
	char run_id[CX_RUN_ID_MAX + 1];
	int events_fd;             /* the subscriber pipe; -1 after EOF */
	int signal_fd;
	int signals;               /* SIGINT/SIGTERM received so far */
	struct timeline *tl;       /* NULL with --json: lines go to stdout */
	char *buf;                 /* a partial line, carried to the next read */
	size_t len;
};

/* DESIGN §7: the exit code that goes with each error code. */
static int exit_code(int code)
{
	switch (code) {
	case CX_OK: return 0;
	case CX_EINVALID: case CX_EUSAGE: case CX_EALREADY_STARTED: return 2;
	case CX_EUNKNOWN_RUN: case CX_ENOT_FOUND: return 4;
	case CX_ERUNNER_DEAD: return 5;
	case CX_ETIMEOUT: return 6;
	case CX_EPERM: return 7;
	case CX_EUNAVAILABLE: return 8;
	default: return 1;
	}
}

static int status_exit_code(enum cx_run_status status)
{
	switch (status) {
	case CX_RUN_COMPLETED: return 0;
	case CX_RUN_CANCELLED: return 3;
	default: return 1;
	}
}

/* Prints "councilctl: <code word>: ..." and returns the exit code for code. */
static int __attribute__((format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "councilctl: %s: ", cx_code_word(code));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit_code(code);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	char message[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	fail(CX_EUSAGE, "%s", message);
	fputs(usage_text, stderr);
	return exit_code(CX_EUSAGE);
}

/* The whole of path ("-": stdin), NUL-terminated, in *text. */
static int read_text(const char *path, char **text, size_t *len)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in)
		return fail(CX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (cap - n < READ_CHUNK) {
			char *grown = realloc(buf, cap + READ_CHUNK + 1);
			if (!grown) {
				rc = fail(CX_ENOMEM, "reading %s", path);
				break;
			}
			buf = grown;
			cap += READ_CHUNK;
		}
		n += fread(buf + n, 1, cap - n, in);
		if (ferror(in)) {
			rc = fail(CX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (feof(in))
			break;
	}
	if (in != stdin)
		fclose(in);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* "SPEC: rounds[1].type: unknown_round: "voet" is not a round type", each
 * diagnostic named after the file it is about: the spec, or the input. */
static int print_diags(const char *spec_path, const char *input_name,
		       const struct cx_diags *diags)
{
	for (size_t i = 0; i < diags->n; i++) {
		const struct cx_diag *d = &diags->v[i];
		bool about_input = input_name && !strncmp(d->path, "input", 5);
		fprintf(stderr, "%s: %s: %s: %s\n", about_input ? input_name : spec_path,
			d->path, d->code, d->message);
	}
	return exit_code(CX_EINVALID);
}

static int cmd_validate(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("validate takes one SPEC");
	const char *path = argv[1];
	char *text;
	size_t len;
	int rc = read_text(path, &text, &len);
	if (rc)
		return rc;
	struct cx_diags diags = { 0 };
	struct cx_spec *spec;
	int r = cx_spec_parse(text, len, &spec, &diags);
	if (r == CX_OK) {
		printf("%s: ok (%s: %zu members, %zu rounds)\n", path, spec->id,
		       spec->n_members, spec->n_rounds);
		cx_spec_free(spec);
	}
	rc = r == CX_EINVALID ? print_diags(path, NULL, &diags) :
	     r < 0 ? fail(r, "%s: cannot validate", path) : 0;
	cx_diags_free(&diags);
	free(text);
	return rc;
}

static int parse_run_options(int argc, char **argv, struct run_options *o)
{
	enum { OPT_INPUT = 256, OPT_INPUT_JSON, OPT_TENANT, OPT_RUN_ID, OPT_JSON, OPT_RUNTIME_DIR };
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "input-json", required_argument, NULL, OPT_INPUT_JSON },
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "run-id", required_argument, NULL, OPT_RUN_ID },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
		{ 0 },
	};
	int opt;
	*o = (struct run_options){ 0 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_INPUT: o->input_path = optarg; break;
		case OPT_INPUT_JSON: o->input_json = optarg; break;
		case OPT_TENANT: o->tenant = optarg; break;
		case OPT_RUN_ID: o->run_id = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_RUNTIME_DIR: o->runtime_dir = optarg; break;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("run takes one SPEC");
	if (o->input_path && o->input_json)
		return usage_error("--input and --input-json exclude each other");
	o->spec_path = argv[optind];
	return 0;
}

/* SIGINT and SIGTERM, as a descriptor the loop polls. Called after the
 * worker is forked: it must not inherit a mask that blocks SIGTERM. */
static int open_signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* First signal: cancel, cooperatively. Any after it: terminate. */
static void on_signal(struct follow *f)
{
	struct signalfd_siginfo si;
	struct cx_error err;
	while (read(f->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		bool forced = f->signals++ > 0;
		/* Neither fails for a run this supervisor registered; for a
		 * run already final they do nothing. */
		if (forced)
			cx_sup_terminate(f->sup, f->run_id, &err);
		else
			cx_sup_cancel(f->sup, f->run_id, &err);
		if (f->tl)
			timeline_stopping(f->tl, forced);
	}
}

static void handle_line(struct follow *f, const char *line, size_t len)
{
	if (f->tl) {
		timeline_feed(f->tl, line, len);
	} else {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	}
}

/* Reads what the subscriber pipe has and hands on each whole line.
 * Returns 0, or an exit code. */
static int read_events(struct follow *f)
{
	char *buf = realloc(f->buf, f->len + READ_CHUNK);
	if (!buf)
		return fail(CX_ENOMEM, "reading events");
	f->buf = buf;
	ssize_t n = read(f->events_fd, buf + f->len, READ_CHUNK);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 :
		       fail(CX_ESYS, "reading events: %s", strerror(errno));
	if (n == 0) {
		if (f->len)
			handle_line(f, buf, f->len);
		close(f->events_fd);
		f->events_fd = -1;
		return 0;
	}
	f->len += (size_t)n;
	char *line = buf, *nl;
	while ((nl = memchr(line, '\n', f->len - (size_t)(line - buf)))) {
		handle_line(f, line, (size_t)(nl - line));
		line = nl + 1;
	}
	f->len -= (size_t)(line - buf);
	memmove(buf, line, f->len);
	if (!f->tl && fflush(stdout) == EOF)
		return fail(CX_ESYS, "writing events: %s", strerror(errno));
	return 0;
}

/* The loop: supervisor, events and signals, until the events end.
 * Returns 0, or an exit code. */
static int follow_run(struct follow *f, bool json)
{
	enum timeline_mode mode = isatty(STDERR_FILENO) ? TIMELINE_LIVE : TIMELINE_PLAIN;
	if (!json && !(f->tl = timeline_new(mode, stderr, f->run_id)))
		return fail(CX_ENOMEM, "timeline");
	f->signal_fd = open_signal_fd();
	if (f->signal_fd < 0)
		return fail(CX_ESYS, "signalfd: %s", strerror(errno));
	int rc = 0;
	while (!rc && f->events_fd >= 0) {
		struct pollfd fds[] = {
			{ .fd = cx_sup_fd(f->sup), .events = POLLIN },
			{ .fd = f->events_fd, .events = POLLIN },
			{ .fd = f->signal_fd, .events = POLLIN },
		};
		int r = poll(fds, 3, f->tl ? timeline_wait_ms(f->tl) : -1);
		if (r < 0 && errno != EINTR)
			rc = fail(CX_ESYS, "poll: %s", strerror(errno));
		else if (fds[0].revents && (r = cx_sup_dispatch(f->sup, 0)) < 0)
			rc = fail(r, "the supervisor stopped");
		if (fds[2].revents)
			on_signal(f);
		if (!rc && fds[1].revents)
			rc = read_events(f);
		if (f->tl)
			timeline_tick(f->tl);
	}
	if (f->tl)
		timeline_finish(f->tl);
	return rc;
}

static void print_result(const char *result_json)
{
	cJSON *result = cJSON_Parse(result_json);
	char *pretty = cJSON_Print(result);
	puts(pretty ? pretty : result_json);
	free(pretty);
	cJSON_Delete(result);
}

/* The run is over: its result on stdout, a last line on stderr. */
static int finish_run(struct follow *f, bool json)
{
	struct cx_error err = { 0 };
	struct cx_run_summary state;
	char *result;
	int r = cx_sup_fetch_result(f->sup, f->run_id, RESULT_WAIT_MS, &result, &err);
	if (r < 0)
		return fail(r, "%s", err.message);
	if (!json)
		print_result(result);
	free(result);
	fflush(stdout);
	r = cx_sup_state(f->sup, f->run_id, &state);
	if (r < 0)
		return fail(r, "%s", f->run_id);
	fprintf(stderr, "run %s %s — %s/runs/%s\n", f->run_id, cx_run_status_name(state.status),
		cx_sup_runtime_dir(f->sup), f->run_id);
	return status_exit_code(state.status);
}

/* What input diagnostics are reported against. */
static const char *input_name(const struct run_options *o)
{
	if (o->input_json)
		return "--input-json";
	if (o->input_path)
		return strcmp(o->input_path, "-") ? o->input_path : "stdin";
	return NULL;
}

static int run_council(const struct run_options *o, const char *spec, const char *input)
{
	struct cx_sup_options sup_options = { .runtime_dir = o->runtime_dir, .tenant = o->tenant };
	struct cx_start req = {
		.spec_json = spec, .input_json = input, .run_id = o->run_id, .subscribe = true,
	};
	struct follow f = { .events_fd = -1, .signal_fd = -1 };
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	int rc;
	int r = cx_sup_new(&sup_options, &f.sup, &err);
	if (r < 0)
		return fail(r == CX_ESYS || r == CX_ENOMEM ? CX_EUNAVAILABLE : r, "%s", err.message);
	r = cx_sup_start(f.sup, &req, f.run_id, &f.events_fd, &diags, &err);
	if (r == CX_EINVALID) {
		print_diags(o->spec_path, input_name(o), &diags);
		rc = fail(r, "%s: %zu problem%s", o->spec_path, diags.n, diags.n == 1 ? "" : "s");
	} else if (r < 0) {
		rc = fail(r, "%s", err.message);
	} else {
		rc = follow_run(&f, o->json);
		if (!rc)
			rc = finish_run(&f, o->json);
	}
	if (f.events_fd >= 0)
		close(f.events_fd);
	if (f.signal_fd >= 0)
		close(f.signal_fd);
	free(f.buf);
	timeline_free(f.tl);
	cx_diags_free(&diags);
	cx_sup_free(f.sup);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	struct run_options o;
	char *spec = NULL, *input = NULL;
	size_t len;
	int rc = parse_run_options(argc, argv, &o);
	if (!rc)
		rc = read_text(o.spec_path, &spec, &len);
	if (!rc && o.input_path)
		rc = read_text(o.input_path, &input, &len);
	if (!rc)
		rc = run_council(&o, spec, input ? input : o.input_json);
	free(spec);
	free(input);
	return rc;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", cmd_run },
	{ "validate", cmd_validate },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("no command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return usage_error("unknown command %s", argv[1]);
}
