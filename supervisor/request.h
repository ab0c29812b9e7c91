/* Requests and replies of docs/protocol.md: reading a request's fields and
 * building its reply, for councild and the tenant supervisors alike. */
#ifndef CX_SUP_REQUEST_H
#define CX_SUP_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "council/error.h"

/* The ops of docs/protocol.md that clients send councild, then those
 * councild alone sends a tenant supervisor. */
enum cx_op {
	CX_OP_HELLO,
	CX_OP_START,
	CX_OP_STATE,
	CX_OP_PID_FOR,
	CX_OP_FETCH_RESULT,
	CX_OP_SUBSCRIBE,
	CX_OP_CANCEL,
	CX_OP_TERMINATE,
	CX_OP_MONITOR,
	CX_OP_DEMONITOR,
	CX_OP_RUN_ID,
	CX_OP_PS,
	CX_OP_TENANT_LS,
	CX_OP_TREE,
	CX_OP_TENANT_START,
	CX_OP_TENANT_STOP,
	CX_OP_TERMINATE_ALL,
	CX_OP_WHICH_CHILDREN,
	CX_OP_CLIENT_N,
	CX_OP_ALIVE = CX_OP_CLIENT_N,  /* is the run's end still to come? (for a monitor) */
	CX_OP_STOP,                    /* terminate every run, hand subscribers over, exit */
	CX_OP_N
};

/* Who sent a request: a client to councild's socket, or councild to a
 * tenant supervisor (a client's request it forwards, or its own). */
enum cx_request_from {
	CX_FROM_CLIENT,
	CX_FROM_COUNCILD,
};

#define CX_REQUEST_ID_MAX 128  /* bytes of a request id given as a string */

/* Decodes a request: its "id", its "op" (one its receiver serves) and the
 * fields that op must carry (a valid run_id, tenant name). Returns the op,
 * or -1 with *reply the error to answer. Pure: what a request asks of the
 * live state (does the run exist?) is its handler's business. */
int cx_request_decode(const cJSON *req, enum cx_request_from from, cJSON **reply);

const char *cx_req_string(const cJSON *req, const char *key);  /* NULL when absent or not a string */
bool cx_req_bool(const cJSON *req, const char *key);
/* The number at key, or dflt when absent; false when present but not a
 * whole number in [min, max]. */
bool cx_req_int(const cJSON *req, const char *key, int64_t min, int64_t max, int64_t dflt,
		int64_t *out);

/* {"id": <req's id>, "ok": true} to add fields to. */
cJSON *cx_reply_ok(const cJSON *req);
/* {"id", "ok": false, "error": {"code", "message"}}; code is a code word. */
cJSON *cx_reply_error(const cJSON *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same from a library error. */
cJSON *cx_reply_fail(const cJSON *req, const struct cx_error *err);

#endif
