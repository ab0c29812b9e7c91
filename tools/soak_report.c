/* The soak's words for what it does and finds, and how a finding is told. */
#include <stdarg.h>
#include <stdio.h>

#include "soak.h"

static const char *const fault_names[FAULT_N] = {
	[FAULT_NONE] = "none",
	[FAULT_KILL] = "kill",
	[FAULT_CANCEL] = "cancel",
	[FAULT_TERMINATE] = "terminate",
	[FAULT_CRASH] = "crash",
	[FAULT_HANG] = "hang",
	[FAULT_TRANSIENT] = "transient",
	[FAULT_SLOW_SUBSCRIBER] = "slow_subscriber",
	[FAULT_EMBEDDED] = "embedded",
	[FAULT_EMBEDDED_KILL] = "embedded_kill",
	[FAULT_TENANT_STOP] = "tenant_stop",
	[FAULT_TERMINATE_ALL] = "terminate_all",
	[FAULT_KILL_GUARDIAN] = "kill_guardian",
	[FAULT_KILL_COUNCILD] = "kill_councild",
};

static const char *const outcome_names[OUTCOME_N] = {
	[OUTCOME_COMPLETED] = "completed",
	[OUTCOME_CANCELLED] = "cancelled",
	[OUTCOME_KILLED] = "killed",
	[OUTCOME_CRASHED] = "crashed",
	[OUTCOME_FAILED] = "failed",
};

const char *soak_fault_name(enum soak_fault f)
{
	return fault_names[f];
}

const char *soak_outcome_name(enum soak_outcome o)
{
	return outcome_names[o];
}

void soak_tenant_name(unsigned i, char name[CX_NAME_MAX + 1])
{
	snprintf(name, CX_NAME_MAX + 1, "soak-%u", i);
}

void soak_violation(struct soak_violations *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->last, sizeof v->last, fmt, ap);
	va_end(ap);
	v->n++;
	if (v->out)
		fprintf(v->out, "council-soak: violation: %s\n", v->last);
}
