/* Structured answers (docs/rounds.md): a member asked for JSON answers
 * with text, in which council finds the JSON (cx_extract_json: the whole
 * text, a fenced block, or a bracketed span) and judges it against the
 * schema it was asked for (a spec's output_schema_inline, or a ballot's
 * built-in schema): cx_schema_judge. The input is the schema's text, a NUL,
 * then the answer.
 *
 * Beyond the sanitizers: the judge's verdict is that of the steps it is
 * made of (cx_schema_check, cx_extract_json, cx_schema_validate), every
 * refusal says why, and a value judged valid is the same value, still
 * valid, once printed and read back, as the run's result carries it (the
 * member's "parsed"). */
#include <string.h>

#include "council/error.h"
#include "extract.h"
#include "fuzz.h"
#include "schema.h"

/* The value as the result file carries it: printed the same once read
 * back (cJSON_Compare would not do: it finds a key given twice unequal to
 * itself), and valid as it was. */
static void check_kept(const cJSON *schema, const cJSON *value)
{
	char why[CX_SCHEMA_WHY_MAX] = "";
	char *text = cJSON_PrintUnformatted(value);
	FUZZ_ASSERT(text);
	cJSON *again = cJSON_Parse(text);
	char *text_again = again ? cJSON_PrintUnformatted(again) : NULL;
	if (!text_again || strcmp(text, text_again) || !cx_schema_validate(schema, again, why)) {
		fprintf(stderr, "valid as judged, not as kept: %s: %s\n", text, why);
		abort();
	}
	free(text_again);
	cJSON_Delete(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t schema_len = nul ? (size_t)(nul - text) : size;
	const char *answer = nul ? nul + 1 : text + size;
	size_t answer_len = size - (size_t)(answer - text);
	char why[CX_SCHEMA_WHY_MAX] = "";

	int rc = cx_schema_judge(text, schema_len, answer, answer_len, why);
	FUZZ_ASSERT(rc == CX_OK || rc == CX_EINVALID);
	FUZZ_ASSERT(rc == CX_OK || (*why && strlen(why) < sizeof why));

	cJSON *found = cx_extract_json(answer, answer_len);

	/* The judge's steps, one by one. */
	cJSON *schema = cJSON_ParseWithLength(text, schema_len);
	struct cx_diags diags = { 0 };
	struct cx_check c = { .diags = &diags };
	if (schema)
		cx_schema_check(&c, schema, "");
	bool usable = schema && !c.errors;
	FUZZ_ASSERT(usable || rc == CX_EINVALID);
	if (usable) {
		char again[CX_SCHEMA_WHY_MAX];
		bool valid = found && cx_schema_validate(schema, found, again);
		FUZZ_ASSERT(valid == (rc == CX_OK));
		FUZZ_ASSERT(valid || !found || !strcmp(why, again));
		if (valid)
			check_kept(schema, found);
	}
	cx_diags_free(&diags);
	cJSON_Delete(schema);
	cJSON_Delete(found);
	return 0;
}
