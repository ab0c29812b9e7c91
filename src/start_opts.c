/* Run options: a start's "options" object, checked against its own table of
 * fields. The supervisor keeps them in the run's options.json, and the
 * worker parses its spec with them (cx_spec_parse_run). */
#include "start_opts.h"

#include <string.h>

#include "council/spec.h"
#include "json.h"

void cx_retry_check(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	static const struct cx_field fields[] = {
		{ .key = "max", .kind = CX_FIELD_INT, .min = 1, .max = 10,
		  CX_KEEP(struct cx_retry, max_attempts) },
		{ .key = "base_ms", .kind = CX_FIELD_INT, .min = 0, .max = 60000,
		  CX_KEEP(struct cx_retry, base_ms) },
	};
	static const struct cx_shape shape = { fields, 2, 0, "retry" };

	cx_check_object(c, item, path, &shape, dest);
}

static const char *const verbosity_words[] = { "normal", "debug", NULL };

static const struct cx_field option_fields[] = {
	{ .key = "retry", .kind = CX_FIELD_CUSTOM, .check = cx_retry_check,
	  CX_KEEP(struct cx_start_opts, retry) },
	{ .key = "verbose", .kind = CX_FIELD_WORD, .words = verbosity_words,
	  CX_KEEP(struct cx_start_opts, verbose) },
};

static const struct cx_shape option_shape = {
	option_fields, sizeof option_fields / sizeof option_fields[0], 0, "the run options"
};

int cx_start_opts_parse(const char *text, struct cx_start_opts *out, struct cx_diags *diags)
{
	struct cx_check c = { .diags = diags };
	char why[128];

	*out = CX_START_OPTS_NONE;
	if (!text)
		return CX_OK;
	cJSON *json = cx_json_parse(text, strlen(text), why, sizeof why);
	if (!json) {
		cx_check_report(&c, "options", "invalid_json", "options: %s", why);
		return CX_EINVALID;
	}
	cx_check_object(&c, json, "options", &option_shape, out);
	cJSON_Delete(json);
	if (c.errors) {
		*out = CX_START_OPTS_NONE;
		return CX_EINVALID;
	}
	return CX_OK;
}
