/* What the councilctl commands share: their options, errors and exit codes
 * (DESIGN §7), the connection to councild, and following a run's events. */
#ifndef CX_TOOLS_CTL_H
#define CX_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "council/council.h"
#include "timeline.h"

/* Options a command may take (its mask in the command table). */
enum ctl_option {
	OPT_INPUT = 1 << 0,        /* --input FILE|- */
	OPT_INPUT_JSON = 1 << 1,   /* --input-json JSON */
	OPT_TENANT = 1 << 2,       /* --tenant T */
	OPT_RUN_ID = 1 << 3,       /* --run-id ID */
	OPT_JSON = 1 << 4,         /* --json */
	OPT_RUNTIME_DIR = 1 << 5,  /* --runtime-dir DIR */
	OPT_LINK = 1 << 6,         /* --link */
	OPT_ALL = 1 << 7,          /* --all */
	OPT_SINCE = 1 << 8,        /* --since SEQ */
	OPT_TIMEOUT = 1 << 9,      /* --timeout MS */
	OPT_GROUP = 1 << 10,       /* --group G */
	OPT_RETRY = 1 << 11,       /* --retry N */
	OPT_SHUTDOWN_MS = 1 << 12, /* --shutdown-ms MS */
	OPT_VERBOSE = 1 << 13,     /* --verbose normal|debug */
};

#define CTL_ARGS_MAX 2

/* One command line, parsed; a command that talks to councild gets it
 * connected in cl. */
struct ctl {
	const char *args[CTL_ARGS_MAX]; /* the positional arguments */
	int n_args;
	const char *input_path;    /* "-": stdin */
	const char *input_json;
	const char *tenant;
	const char *run_id;
	const char *runtime_dir;
	const char *group;
	bool json, link, all;
	uint64_t since;            /* 0: not given */
	int timeout_ms;            /* -1: not given */
	int shutdown_ms;           /* 0: not given */
	char options[96];          /* the run options of --retry and --verbose, JSON;
				    * "": none */
	struct cx_client *cl;
};

/* DESIGN §7: the exit code of an error code, and of a run's final status. */
int exit_code(int code);
int status_exit_code(enum cx_run_status status);
/* Prints "councilctl: <code word>: ..." and returns the exit code for code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error (exit 2), the usage text after it. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The whole of path ("-": stdin), NUL-terminated: 0, CX_EINVALID with a
 * diagnostic at `at` in diags (over max bytes, or a NUL in it), or an exit
 * code (the problem printed). */
int read_text(const char *path, size_t max, const char *at, char **text, size_t *len,
	      struct cx_diags *diags);
/* The spec at path ("-": stdin) as it is sent: its sub-councils given as
 * paths read (relative to its directory) and put in place. Returns 0 or an
 * exit code (the problems printed). */
int read_spec(const char *path, char **text, size_t *len);
/* Each diagnostic on stderr, named after the file it is about. Returns 2. */
int print_diags(const char *spec_path, const char *input_name, const struct cx_diags *diags);
/* The spec (and input) of run/start read from their files, and what input
 * diagnostics are reported against. Returns 0 or an exit code. */
int read_spec_and_input(const struct ctl *c, char **spec, char **input);
const char *input_name(const struct ctl *c);
/* The run options of run and start (docs/spec.md#run-options), or NULL. */
const char *run_options(const struct ctl *c);

/* A request {"op": op, key: value} (no key when value is NULL). */
cJSON *ctl_op(const char *op, const char *key, const char *value);
/* Sends request (consumed) to councild and waits for the reply, which the
 * caller frees. Returns 0 or an exit code (the error printed). */
int ctl_request(struct ctl *c, cJSON *request, cJSON **reply);
/* The reply's field as a string, "" when absent. */
const char *reply_str(const cJSON *obj, const char *key);
/* Prints a JSON value on stdout, indented. */
void print_json(const cJSON *json);

/* A run's events, read from its subscriber pipe until EOF: a timeline on
 * stderr, or (json) the event lines on stdout. With sup (the embedded
 * supervisor of `run`) the loop also drives it, and SIGINT/SIGTERM cancel
 * the run, then terminate it; without, the first signal ends the following
 * and follow_finish() dies of it, the terminal restored. */
struct follow {
	char run_id[CX_RUN_ID_MAX + 1];
	int events_fd;             /* the subscriber pipe; -1 after EOF */
	struct cx_sup *sup;        /* NULL: councild supervises the run */
	int signal_fd;
	int signals;               /* SIGINT/SIGTERM received so far */
	int stopped_by;            /* without sup: the signal that ended following */
	struct timeline *tl;       /* NULL with --json: lines go to stdout */
	char *buf;                 /* a partial line, carried to the next read */
	size_t len;
};

#define FOLLOW_INIT { .events_fd = -1, .signal_fd = -1 }

/* The loop, until the events end. Returns 0, or an exit code. */
int follow_run(struct follow *f, bool json);
/* Frees what the loop used; dies of the signal that stopped it, if one did. */
void follow_finish(struct follow *f);

/* The commands of councilctl.c, runs.c, ps.c and tenants.c. */
int cmd_run(struct ctl *c);
int cmd_validate(struct ctl *c);
int cmd_diagram(struct ctl *c);
int cmd_start(struct ctl *c);
int cmd_state(struct ctl *c);
int cmd_pid(struct ctl *c);
int cmd_runid(struct ctl *c);
int cmd_follow(struct ctl *c);
int cmd_result(struct ctl *c);
int cmd_cancel(struct ctl *c);
int cmd_kill(struct ctl *c);
int cmd_ps(struct ctl *c);
int cmd_tree(struct ctl *c);
int cmd_tenant_ls(struct ctl *c);
int cmd_tenant_children(struct ctl *c);
int cmd_tenant_start(struct ctl *c);
int cmd_tenant_stop(struct ctl *c);
int cmd_tenant_terminate_all(struct ctl *c);

#endif
