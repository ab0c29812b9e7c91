#include "json.h"

const char *cx_json_str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

bool cx_json_int_value(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(item))
		return false;
	double d = item->valuedouble;
	/* In int64_t's range before the cast (NaN fails both tests); whole
	 * after it. */
	if (!(d >= -0x1p63 && d < 0x1p63) || d != (double)(int64_t)d)
		return false;
	int64_t n = (int64_t)d;
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

int64_t cx_json_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t dflt)
{
	int64_t n;
	return cx_json_int_value(cJSON_GetObjectItemCaseSensitive(obj, key), min, max, &n) ? n : dflt;
}
