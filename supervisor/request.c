#include "request.h"

#include <stdarg.h>
#include <stdio.h>

#include "json.h"

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
