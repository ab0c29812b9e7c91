#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "council/ids.h"
#include "json.h"

/* What an op's request must carry, checked before its handler runs, and
 * who serves it. */
enum {
	NEEDS_RUN_ID = 1 << 0,   /* "run_id": a valid run id */
	NEEDS_TENANT = 1 << 1,   /* "tenant": a valid tenant name */
	MAY_TENANT = 1 << 2,     /* "tenant", if given, a valid tenant name */
	COUNCILD = 1 << 3,       /* councild serves it to clients */
	TENANT = 1 << 4,         /* a tenant supervisor serves it to councild */
};

static const struct {
	const char *name;
	unsigned args;
} ops[CX_OP_N] = {
	[CX_OP_HELLO] = { "hello", COUNCILD },
	[CX_OP_START] = { "start", MAY_TENANT | COUNCILD | TENANT },
	[CX_OP_STATE] = { "state", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_PID_FOR] = { "pid_for", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_FETCH_RESULT] = { "fetch_result", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_SUBSCRIBE] = { "subscribe", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_CANCEL] = { "cancel", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_TERMINATE] = { "terminate", NEEDS_RUN_ID | COUNCILD | TENANT },
	[CX_OP_MONITOR] = { "monitor", NEEDS_RUN_ID | COUNCILD },
	[CX_OP_DEMONITOR] = { "demonitor", COUNCILD },
	[CX_OP_RUN_ID] = { "run_id", COUNCILD },
	[CX_OP_PS] = { "ps", MAY_TENANT | COUNCILD },
	[CX_OP_TENANT_LS] = { "tenant_ls", COUNCILD },
	[CX_OP_TREE] = { "tree", COUNCILD },
	[CX_OP_TENANT_START] = { "tenant_start", NEEDS_TENANT | COUNCILD },
	[CX_OP_TENANT_STOP] = { "tenant_stop", NEEDS_TENANT | COUNCILD },
	[CX_OP_TERMINATE_ALL] = { "terminate_all", NEEDS_TENANT | COUNCILD | TENANT },
	[CX_OP_WHICH_CHILDREN] = { "which_children", NEEDS_TENANT | COUNCILD | TENANT },
	[CX_OP_ALIVE] = { "alive", NEEDS_RUN_ID | TENANT },
	[CX_OP_STOP] = { "stop", TENANT },
};

/* Why req does not carry what its op needs, or NULL. */
static const char *misfit(const cJSON *req, unsigned args)
{
	const cJSON *run_id = cJSON_GetObjectItemCaseSensitive(req, "run_id");
	const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(req, "tenant");
	if ((args & NEEDS_RUN_ID) && !(cJSON_IsString(run_id) && cx_run_id_valid(run_id->valuestring)))
		return "\"run_id\" must be a run id (1-64 of A-Za-z0-9._-)";
	if (((args & NEEDS_TENANT) || ((args & MAY_TENANT) && tenant && !cJSON_IsNull(tenant))) &&
	    !(cJSON_IsString(tenant) && cx_name_valid(tenant->valuestring)))
		return "\"tenant\" must be a tenant name (1-64 of A-Za-z0-9._-)";
	return NULL;
}

int cx_request_decode(const cJSON *req, enum cx_request_from from, cJSON **reply)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const char *op = cx_req_string(req, "op");
	*reply = NULL;
	/* The id comes back in the reply: a number JSON cannot say (1e999
	 * parses as infinity, printed as null) or a long string would not
	 * come back as sent. */
	if (!(cJSON_IsNumber(id) && isfinite(id->valuedouble)) &&
	    !(cJSON_IsString(id) && strlen(id->valuestring) <= CX_REQUEST_ID_MAX)) {
		*reply = cx_reply_error(NULL, "bad_request",
					"a request needs an \"id\": a finite number or a string of at most %d bytes",
					CX_REQUEST_ID_MAX);
		return -1;
	}
	if (!op) {
		*reply = cx_reply_error(req, "bad_request", "a request needs an \"op\": a string");
		return -1;
	}
	unsigned served = from == CX_FROM_CLIENT ? COUNCILD : TENANT;
	for (int i = 0; i < CX_OP_N; i++) {
		if (strcmp(op, ops[i].name) || !(ops[i].args & served))
			continue;
		const char *why = misfit(req, ops[i].args);
		if (!why)
			return i;
		*reply = cx_reply_error(req, "bad_request", "%s: %s", op, why);
		return -1;
	}
	*reply = cx_reply_error(req, "unknown_op", "unknown op \"%.64s\"", op);
	return -1;
}

const char *cx_req_string(const cJSON *req, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, key));
}

bool cx_req_bool(const cJSON *req, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, key));
}

bool cx_req_int(const cJSON *req, const char *key, int64_t min, int64_t max, int64_t dflt,
		int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
	if (!v || cJSON_IsNull(v)) {
		*out = dflt;
		return true;
	}
	return cx_json_int_value(v, min, max, out);
}

cJSON *cx_reply_ok(const cJSON *req)
{
	cJSON *reply = cJSON_CreateObject();
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	cJSON_AddItemToObject(reply, "id", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
	cJSON_AddTrueToObject(reply, "ok");
	return reply;
}

static cJSON *reply_error_v(const cJSON *req, const char *code, const char *fmt, va_list ap)
{
	char message[512];
	vsnprintf(message, sizeof message, fmt, ap);
	cJSON *reply = cx_reply_ok(req);
	cJSON_ReplaceItemInObjectCaseSensitive(reply, "ok", cJSON_CreateFalse());
	cJSON *e = cJSON_AddObjectToObject(reply, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	return reply;
}

cJSON *cx_reply_error(const cJSON *req, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *reply = reply_error_v(req, code, fmt, ap);
	va_end(ap);
	return reply;
}

cJSON *cx_reply_fail(const cJSON *req, const struct cx_error *err)
{
	return cx_reply_error(req, cx_code_word(err->code), "%s", err->message);
}
