/* Requests and replies of docs/protocol.md: reading a request's fields and
 * building its reply, for councild and the tenant supervisors alike. */
#ifndef CX_SUP_REQUEST_H
#define CX_SUP_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "council/error.h"

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
