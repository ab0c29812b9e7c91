/* council: error codes and validation diagnostics.
 *
 * Every library call returns CX_OK (0) or a negative CX_E* code, and may fill
 * a caller-provided struct cx_error with a human-readable message. The library
 * never prints and never exits. */
#ifndef COUNCIL_ERROR_H
#define COUNCIL_ERROR_H

#include <stddef.h>

enum cx_code {
	CX_OK = 0,
	CX_EINVALID = -1,         /* invalid council spec or input (diagnostics hold why) */
	CX_EUSAGE = -2,           /* a call or request made no sense */
	CX_ESYS = -3,             /* a system call failed (message names it and errno) */
	CX_ENOMEM = -4,
	CX_EUNKNOWN_RUN = -5,     /* never registered, or already collected */
	CX_ERUNNER_DEAD = -6,     /* registered, but its process has exited */
	CX_ENOT_FOUND = -7,
	CX_ETIMEOUT = -8,
	CX_EALREADY_STARTED = -9, /* run_id already used in this runtime directory */
	CX_EPERM = -10,
	CX_EUNAVAILABLE = -11,    /* supervisor unavailable */
	CX_ENOT_FINISHED = -12,   /* the run has no final result yet */
	CX_ETENANT_STOPPED = -13, /* the tenant was stopped: no runs start until tenant_start */
};

/* The code word used in messages and on the wire: "unknown_run", ... */
const char *cx_code_word(int code);

struct cx_error {
	int code;
	char message[512];
};

/* Sets err (when not NULL) and returns code, so callers can write
 * `return cx_fail(err, CX_ESYS, "open %s: %s", path, strerror(errno));` */
int cx_fail(struct cx_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One validation finding: `rounds[1].type: unknown_round: "voet" is not a round type` */
struct cx_diag {
	char path[128];
	char code[40];
	char message[256];
};

struct cx_diags {
	struct cx_diag *v;
	size_t n, cap;
};

void cx_diags_add(struct cx_diags *d, const char *path, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void cx_diags_free(struct cx_diags *d);

#endif
