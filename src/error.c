#include "council/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cx_code_word(int code)
{
	switch (code) {
	case CX_OK: return "ok";
	case CX_EINVALID: return "invalid_council";
	case CX_EUSAGE: return "usage";
	case CX_ESYS: return "system_error";
	case CX_ENOMEM: return "out_of_memory";
	case CX_EUNKNOWN_RUN: return "unknown_run";
	case CX_ERUNNER_DEAD: return "runner_dead";
	case CX_ENOT_FOUND: return "not_found";
	case CX_ETIMEOUT: return "timeout";
	case CX_EALREADY_STARTED: return "already_started";
	case CX_EPERM: return "permission_denied";
	case CX_EUNAVAILABLE: return "supervisor_unavailable";
	case CX_ENOT_FINISHED: return "not_finished";
	case CX_ETENANT_STOPPED: return "tenant_stopped";
	}
	return "error";
}

int cx_fail(struct cx_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

void cx_diags_add(struct cx_diags *d, const char *path, const char *code,
		  const char *fmt, ...)
{
	if (!d)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct cx_diag *v = reallocarray(d->v, cap, sizeof *v);
		if (!v)
			return; /* the caller still sees CX_EINVALID; this finding is lost */
		d->v = v;
		d->cap = cap;
	}
	struct cx_diag *g = &d->v[d->n++];
	snprintf(g->path, sizeof g->path, "%s", path);
	snprintf(g->code, sizeof g->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->message, sizeof g->message, fmt, ap);
	va_end(ap);
}

void cx_diags_free(struct cx_diags *d)
{
	free(d->v);
	*d = (struct cx_diags){ 0 };
}
