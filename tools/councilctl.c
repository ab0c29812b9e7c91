/* councilctl: the council command line (DESIGN §7).
 *
 * `run` and `validate` work alone: `run` embeds a supervisor, starts one
 * run and follows its events until the terminal event, then prints the
 * result. Every other command asks councild (docs/protocol.md), starting it
 * when none answers. This file holds the command table, the options and
 * what the commands share; runs.c, ps.c and tenants.c the daemon commands. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "diagram.h"

#define RESULT_WAIT_MS 5000

static const char usage_text[] =
	"usage: councilctl COMMAND [ARGS]\n"
	"\n"
	"  run SPEC [--input FILE|-] [--input-json JSON] [--tenant T] [--run-id ID]\n"
	"           [--retry N] [--verbose normal|debug] [--shutdown-ms MS]\n"
	"           [--json] [--runtime-dir DIR]\n"
	"      run a council, follow it on stderr, print its result on stdout\n"
	"      (--retry: attempts in all for members without their own retry max;\n"
	"      --verbose debug: their prompts and answers as member_debug events)\n"
	"  validate SPEC\n"
	"      check a council spec and print every problem found\n"
	"  diagram SPEC\n"
	"      print the council as a Mermaid flowchart\n"
	"\n"
	"These ask councild, and start it when none answers:\n"
	"  start SPEC [--input FILE|-] [--input-json JSON] [--tenant T] [--link]\n"
	"             [--run-id ID] [--retry N] [--verbose normal|debug]\n"
	"             [--shutdown-ms MS]  start a run, print its run_id\n"
	"  ps [--tenant T] [--all] [--json]   list runs (--all: finished ones too)\n"
	"  state ID [--json]            a run's summary\n"
	"  pid ID                       the pid of a run's worker\n"
	"  runid PID                    the run a worker pid serves\n"
	"  follow ID [--since SEQ] [--json]   follow a run's events until it ends\n"
	"  result ID [--timeout MS]     wait for a run's result and print it\n"
	"  cancel ID                    cancel a run (the round in flight drains)\n"
	"  kill ID                      terminate a run (SIGTERM, then SIGKILL)\n"
	"  tenant ls [--json] | start T [--group G] | stop T | children T [--json]\n"
	"         | terminate-all T     (--group: share a new tenant with group G)\n"
	"  tree                         councild, its tenant supervisors and their runs\n"
	"Every one of them takes --runtime-dir DIR.\n"
	"\n"
	"Exit codes: 0 ok/completed, 1 run failed, 2 usage or invalid council,\n"
	"3 cancelled, 4 unknown run or not found, 5 runner dead, 6 timeout,\n"
	"7 permission denied, 8 supervisor unavailable.\n";

/* Options every councild command takes. */
#define DAEMON OPT_RUNTIME_DIR
#define RUN_OPTIONS (OPT_INPUT | OPT_INPUT_JSON | OPT_TENANT | OPT_RUN_ID | OPT_RUNTIME_DIR | \
		     OPT_RETRY | OPT_SHUTDOWN_MS | OPT_VERBOSE)

static const struct command {
	const char *name;          /* one word, or two: "tenant ls" */
	const char *args;          /* the positional arguments: "one SPEC" */
	int n_args;
	unsigned options;
	bool daemon;               /* connects to councild (starting it) first */
	int (*fn)(struct ctl *c);
} commands[] = {
	{ "run", "one SPEC", 1, RUN_OPTIONS | OPT_JSON, false, cmd_run },
	{ "validate", "one SPEC", 1, 0, false, cmd_validate },
	{ "diagram", "one SPEC", 1, 0, false, cmd_diagram },
	{ "start", "one SPEC", 1, RUN_OPTIONS | OPT_LINK, true, cmd_start },
	{ "ps", "no arguments", 0, DAEMON | OPT_TENANT | OPT_ALL | OPT_JSON, true, cmd_ps },
	{ "state", "one ID", 1, DAEMON | OPT_JSON, true, cmd_state },
	{ "pid", "one ID", 1, DAEMON, true, cmd_pid },
	{ "runid", "one PID", 1, DAEMON, true, cmd_runid },
	{ "follow", "one ID", 1, DAEMON | OPT_SINCE | OPT_JSON, true, cmd_follow },
	{ "result", "one ID", 1, DAEMON | OPT_TIMEOUT, true, cmd_result },
	{ "cancel", "one ID", 1, DAEMON, true, cmd_cancel },
	{ "kill", "one ID", 1, DAEMON, true, cmd_kill },
	{ "tenant ls", "no arguments", 0, DAEMON | OPT_JSON, true, cmd_tenant_ls },
	{ "tenant start", "one TENANT", 1, DAEMON | OPT_GROUP, true, cmd_tenant_start },
	{ "tenant stop", "one TENANT", 1, DAEMON, true, cmd_tenant_stop },
	{ "tenant children", "one TENANT", 1, DAEMON | OPT_JSON, true, cmd_tenant_children },
	{ "tenant terminate-all", "one TENANT", 1, DAEMON, true, cmd_tenant_terminate_all },
	{ "tree", "no arguments", 0, DAEMON, true, cmd_tree },
};

int exit_code(int code)
{
	switch (code) {
	case CX_OK: return 0;
	case CX_EINVALID: case CX_EUSAGE: case CX_EALREADY_STARTED: return 2;
	case CX_EUNKNOWN_RUN: case CX_ENOT_FOUND: return 4;
	case CX_ERUNNER_DEAD: return 5;
	case CX_ETIMEOUT: return 6;
	case CX_EPERM: return 7;
	case CX_EUNAVAILABLE: case CX_ETENANT_STOPPED: return 8;
	default: return 1;
	}
}

int status_exit_code(enum cx_run_status status)
{
	switch (status) {
	case CX_RUN_COMPLETED: return 0;
	case CX_RUN_CANCELLED: return 3;
	default: return 1;
	}
}

int fail(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "councilctl: %s: ", cx_code_word(code));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit_code(code);
}

int usage_error(const char *fmt, ...)
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

int read_text(const char *path, size_t max, const char *at, char **text, size_t *len,
	      struct cx_diags *diags)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : dup(0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = fail(CX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* Its size before a byte is read: a 100 MB file is refused as such,
	 * not read whole first. A pipe is read up to max, and one byte more. */
	bool over = S_ISREG(st.st_mode) && (size_t)st.st_size > max;
	char *buf = over ? NULL : malloc(max + 2);
	size_t n = 0;
	ssize_t got = 1;
	while (buf && n <= max && got != 0) {
		got = read(fd, buf + n, max + 1 - n);
		if (got < 0 && errno != EINTR)
			break;
		n += got > 0 ? (size_t)got : 0;
	}
	int rc = got < 0 ? fail(CX_EUSAGE, "cannot read %s: %s", path, strerror(errno))
		 : !buf && !over ? fail(CX_ENOMEM, "reading %s", path) : 0;
	close(fd);
	if (!rc && (!buf || n > max)) {
		cx_diags_add(diags, at, "too_large", "over the %zu bytes allowed", max);
		rc = CX_EINVALID;
	} else if (!rc && memchr(buf, '\0', n)) {
		/* What is sent goes on as a C string, which would end there. */
		cx_diags_add(diags, at, "invalid_json", "a NUL byte at byte %zu",
			     (size_t)((char *)memchr(buf, '\0', n) - buf));
		rc = CX_EINVALID;
	}
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
int print_diags(const char *spec_path, const char *input_name, const struct cx_diags *diags)
{
	for (size_t i = 0; i < diags->n; i++) {
		const struct cx_diag *d = &diags->v[i];
		bool about_input = input_name && !strncmp(d->path, "input", 5);
		fprintf(stderr, "%s: %s: %s: %s\n", about_input ? input_name : spec_path,
			d->path, d->code, d->message);
	}
	return exit_code(CX_EINVALID);
}

const char *input_name(const struct ctl *c)
{
	if (c->input_json)
		return "--input-json";
	if (c->input_path)
		return strcmp(c->input_path, "-") ? c->input_path : "stdin";
	return NULL;
}

const char *run_options(const struct ctl *c)
{
	return c->options[0] ? c->options : NULL;
}

int read_spec(const char *path, char **text, size_t *len)
{
	char *raw, *slash = strrchr(path, '/');
	struct cx_diags diags = { 0 };
	int r = read_text(path, CX_SPEC_MAX_BYTES, "", &raw, len, &diags);
	char *dir = NULL;
	if (!r) {
		/* A path in the spec is relative to the spec's own directory. */
		dir = !strcmp(path, "-") || !slash ? strdup(".")
		      : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
		r = dir ? cx_spec_inline(raw, *len, dir, text, len, &diags) : CX_ENOMEM;
		free(raw);
	}
	int rc = r == CX_EINVALID ? print_diags(path, NULL, &diags)
		 : r < 0 ? fail(r, "%s: reading its sub-councils", path) : r;
	cx_diags_free(&diags);
	free(dir);
	return rc;
}

int read_spec_and_input(const struct ctl *c, char **spec, char **input)
{
	size_t len;
	struct cx_diags diags = { 0 };
	*spec = *input = NULL;
	int rc = read_spec(c->args[0], spec, &len);
	if (!rc && c->input_path &&
	    (rc = read_text(c->input_path, CX_INPUT_MAX_BYTES, "input", input, &len, &diags)) ==
		    CX_EINVALID)
		rc = print_diags(c->args[0], input_name(c), &diags);
	if (!rc && c->input_json && !(*input = strdup(c->input_json)))
		rc = fail(CX_ENOMEM, "input");
	cx_diags_free(&diags);
	return rc;
}

cJSON *ctl_op(const char *op, const char *key, const char *value)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", op);
	if (value)
		cJSON_AddStringToObject(req, key, value);
	return req;
}

int ctl_request(struct ctl *c, cJSON *request, cJSON **reply)
{
	struct cx_error err = { 0 };
	int r = cx_client_call(c->cl, request, reply, NULL, CX_CLIENT_CALL_MS, &err);
	if (r < 0) {
		cJSON_Delete(*reply);
		*reply = NULL;
		return fail(r, "%s", err.message);
	}
	return 0;
}

const char *reply_str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

void print_json(const cJSON *json)
{
	char *text = cJSON_Print(json);
	if (text)
		puts(text);
	free(text);
}

/* The spec at path, read and validated: 0, or an exit code (the problems
 * printed). */
static int parse_spec_file(const char *path, struct cx_spec **spec)
{
	char *text;
	size_t len;
	int rc = read_spec(path, &text, &len);
	if (rc)
		return rc;
	struct cx_diags diags = { 0 };
	int r = cx_spec_parse(text, len, spec, &diags);
	rc = r == CX_EINVALID ? print_diags(path, NULL, &diags) :
	     r < 0 ? fail(r, "%s: cannot validate", path) : 0;
	cx_diags_free(&diags);
	free(text);
	return rc;
}

int cmd_validate(struct ctl *c)
{
	struct cx_spec *spec;
	int rc = parse_spec_file(c->args[0], &spec);
	if (!rc) {
		printf("%s: ok (%s: %zu members, %zu rounds)\n", c->args[0], spec->id,
		       spec->n_members, spec->n_rounds);
		cx_spec_free(spec);
	}
	return rc;
}

int cmd_diagram(struct ctl *c)
{
	struct cx_spec *spec;
	int rc = parse_spec_file(c->args[0], &spec);
	if (rc)
		return rc;
	char *text = cx_diagram_mermaid(spec);
	if (text)
		fputs(text, stdout);
	else
		rc = fail(CX_ENOMEM, "drawing %s", c->args[0]);
	free(text);
	cx_spec_free(spec);
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

static int run_council(struct ctl *c, const char *spec, const char *input)
{
	struct cx_sup_options sup_options = { .runtime_dir = c->runtime_dir, .tenant = c->tenant };
	struct cx_start req = {
		.spec_json = spec, .input_json = input, .options_json = run_options(c),
		.run_id = c->run_id, .subscribe = true, .shutdown_ms = c->shutdown_ms,
	};
	struct follow f = FOLLOW_INIT;
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	int rc;
	int r = cx_sup_new(&sup_options, &f.sup, &err);
	if (r < 0)
		return fail(r == CX_ESYS || r == CX_ENOMEM ? CX_EUNAVAILABLE : r, "%s", err.message);
	r = cx_sup_start(f.sup, &req, f.run_id, &f.events_fd, &diags, &err);
	if (r == CX_EINVALID) {
		print_diags(c->args[0], input_name(c), &diags);
		rc = fail(r, "%s: %zu problem%s", c->args[0], diags.n, diags.n == 1 ? "" : "s");
	} else if (r < 0) {
		rc = fail(r, "%s", err.message);
	} else {
		rc = follow_run(&f, c->json);
		if (!rc)
			rc = finish_run(&f, c->json);
	}
	struct cx_sup *sup = f.sup;
	follow_finish(&f);
	cx_diags_free(&diags);
	cx_sup_free(sup);
	return rc;
}

int cmd_run(struct ctl *c)
{
	char *spec, *input;
	int rc = read_spec_and_input(c, &spec, &input);
	if (!rc)
		rc = run_council(c, spec, input);
	free(spec);
	free(input);
	return rc;
}

/* A number option's value, or a usage error. */
static int parse_number(const char *opt, const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || *text == '-' || v > max)
		return usage_error("%s needs a number up to %" PRIu64 ", not %s", opt, max, text);
	*out = v;
	return 0;
}

/* c->options: {"retry": {"max": retry}, "verbose": verbose}, each when given. */
static int options_json(struct ctl *c, int retry, const char *verbose)
{
	cJSON *o = cJSON_CreateObject();
	if (o && retry)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "retry"), "max", retry);
	if (o && verbose)
		cJSON_AddStringToObject(o, "verbose", verbose);
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = text && strlen(text) < sizeof c->options ? 0 : fail(CX_ENOMEM, "run options");
	if (!rc)
		strcpy(c->options, text);
	free(text);
	cJSON_Delete(o);
	return rc;
}

static int parse_options(const struct command *cmd, int argc, char **argv, struct ctl *c)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "input-json", required_argument, NULL, OPT_INPUT_JSON },
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "run-id", required_argument, NULL, OPT_RUN_ID },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
		{ "link", no_argument, NULL, OPT_LINK },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "shutdown-ms", required_argument, NULL, OPT_SHUTDOWN_MS },
		{ "verbose", required_argument, NULL, OPT_VERBOSE },
		{ 0 },
	};
	int opt, rc = 0;
	uint64_t n, retry = 0;
	const char *verbose = NULL;
	*c = (struct ctl){ .timeout_ms = -1 };
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (opt == ':')
			return usage_error("%s needs a value", argv[optind - 1]);
		if (opt == '?' || !(cmd->options & (unsigned)opt))
			return usage_error("unknown option %s", argv[optind - 1]);
		switch (opt) {
		case OPT_INPUT: c->input_path = optarg; break;
		case OPT_INPUT_JSON: c->input_json = optarg; break;
		case OPT_TENANT: c->tenant = optarg; break;
		case OPT_RUN_ID: c->run_id = optarg; break;
		case OPT_JSON: c->json = true; break;
		case OPT_RUNTIME_DIR: c->runtime_dir = optarg; break;
		case OPT_LINK: c->link = true; break;
		case OPT_ALL: c->all = true; break;
		case OPT_GROUP: c->group = optarg; break;
		case OPT_SINCE:
			if (!(rc = parse_number("--since", optarg, UINT64_MAX, &c->since)) && !c->since)
				rc = usage_error("--since counts from 1");
			break;
		case OPT_TIMEOUT:
			if (!(rc = parse_number("--timeout", optarg, INT32_MAX, &n)))
				c->timeout_ms = (int)n;
			break;
		case OPT_SHUTDOWN_MS:
			if (!(rc = parse_number("--shutdown-ms", optarg, 3600000, &n)))
				c->shutdown_ms = (int)n;
			if (!rc && !n)
				rc = usage_error("--shutdown-ms counts from 1");
			break;
		case OPT_RETRY:
			if (!(rc = parse_number("--retry", optarg, 10, &retry)) && !retry)
				rc = usage_error("--retry counts attempts in all, from 1");
			break;
		case OPT_VERBOSE:
			verbose = optarg;
			if (strcmp(verbose, "normal") && strcmp(verbose, "debug"))
				rc = usage_error("--verbose takes normal or debug, not %s", verbose);
			break;
		}
	}
	if (rc)
		return rc;
	if (retry || verbose)
		rc = options_json(c, (int)retry, verbose);
	if (rc)
		return rc;
	if (argc - optind != cmd->n_args)
		return usage_error("%s takes %s", cmd->name, cmd->args);
	if (c->input_path && c->input_json)
		return usage_error("--input and --input-json exclude each other");
	for (int i = 0; i < cmd->n_args; i++)
		c->args[i] = argv[optind + i];
	c->n_args = cmd->n_args;
	return 0;
}

static int connect_councild(struct ctl *c)
{
	struct cx_client_options options = { .runtime_dir = c->runtime_dir, .autostart = true };
	struct cx_error err = { 0 };
	int r = cx_client_connect(&options, &c->cl, &err);
	return r < 0 ? fail(r, "%s", err.message) : 0;
}

/* The command argv names: "tenant ls" takes two words, the others one.
 * *words says how many it took. */
static const struct command *find_command(int argc, char **argv, int *words)
{
	char two[64];
	snprintf(two, sizeof two, "%s %s", argv[1], argc > 2 ? argv[2] : "");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		*words = strchr(commands[i].name, ' ') ? 2 : 1;
		if (!strcmp(*words == 2 ? two : argv[1], commands[i].name))
			return &commands[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("no command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	int words;
	const struct command *cmd = find_command(argc, argv, &words);
	if (!cmd && !strcmp(argv[1], "tenant"))
		return usage_error("tenant takes ls, start T, stop T, children T or terminate-all T");
	if (!cmd)
		return usage_error("unknown command %s", argv[1]);
	struct ctl c;
	int rc = parse_options(cmd, argc - words, argv + words, &c);
	if (!rc && cmd->daemon)
		rc = connect_councild(&c);
	if (!rc)
		rc = cmd->fn(&c);
	cx_client_close(c.cl);
	return rc;
}
