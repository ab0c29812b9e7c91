/* Structured answers (docs/rounds.md): the JSON Schema subset a member's
 * output_schema_inline may use, how a schema's own mistakes are reported,
 * how the JSON is found in an answer, and why an answer is refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/error.h"
#include "extract.h"
#include "harness.h"
#include "schema.h"
#include "worker_run.h"

/* ---- finding the JSON in an answer ---- */

static const struct found {
	const char *answer, *json;   /* json: the value expected, unformatted; NULL: none */
} found[] = {
	{ "{'a':1}", "{'a':1}" },
	{ "  \n[1,2]\n ", "[1,2]" },
	{ "Here you go:\n```json\n{'choice':'x'}\n```\nThanks.", "{'choice':'x'}" },
	{ "```\n[true]\n```", "[true]" },
	{ "```text\nnot json\n```\n```json\n{'b':2}\n```", "{'b':2}" },
	{ "I vote {'choice':'ship','note':'a } in a string'} because.",
	  "{'choice':'ship','note':'a } in a string'}" },
	{ "first {not json} then {'ok':true}", "{'ok':true}" },
	{ "a list: [1, [2, 3]] end", "[1,[2,3]]" },
	{ "no json here", NULL },
	{ "{'unclosed': ", NULL },
	{ "", NULL },
	{ "42", "42" },
};

START_TEST(test_answer_json_is_found_whole_fenced_or_bracketed)
{
	const struct found *row = &found[_i];
	char *answer = th_json_text("%s", row->answer);
	cJSON *value = cx_extract_json(answer, strlen(answer));

	if (!row->json) {
		ck_assert_msg(value == NULL, "row %d: found JSON in \"%s\"", _i, row->answer);
	} else {
		char *want = th_json_text("%s", row->json);
		char *got = value ? cJSON_PrintUnformatted(value) : NULL;
		ck_assert_msg(got && !strcmp(got, want), "row %d: found %s, wanted %s", _i,
			      got ? got : "nothing", want);
		free(got);
		free(want);
	}
	cJSON_Delete(value);
	free(answer);
}
END_TEST

START_TEST(test_many_brackets_are_tried_a_bounded_number_of_times)
{
	/* 100000 unbalanced openers, then JSON: not found, and quickly, since
	 * only the first openers are tried (no timing is asserted: the test
	 * would take hours if every opener were scanned to the end). */
	size_t n = 100000;
	char *text = malloc(n + 16);
	ck_assert_ptr_nonnull(text);
	memset(text, '{', n);
	strcpy(text + n, "[1]");
	ck_assert_ptr_null(cx_extract_json(text, strlen(text)));
	free(text);
}
END_TEST

/* ---- validating answers ---- */

#define VOTE "{'type':'object','required':['choice','confidence'],'properties':{" \
	"'choice':{'type':'string','enum':['ship','wait']}," \
	"'confidence':{'type':'number','minimum':0,'maximum':1}," \
	"'rationale':{'type':'string','minLength':3,'maxLength':10}}}"
#define ORDERING "{'type':'array','items':{'type':'string'},'minItems':2,'maxItems':3," \
	"'uniqueItems':true}"

static const struct judged {
	const char *schema, *answer;
	const char *why;             /* NULL: valid; else the reason, exactly */
} judged[] = {
	{ VOTE, "{'choice':'ship','confidence':0.5}", NULL },
	{ VOTE, "```json\n{'choice':'wait','confidence':1,'rationale':'because'}\n```", NULL },
	{ VOTE, "{'choice':'maybe','confidence':0.5}",
	  "$.choice: enum: \"maybe\" is not one of the 2 allowed values" },
	{ VOTE, "{'choice':'ship'}", "$: required: \"confidence\" is missing" },
	{ VOTE, "{'choice':'ship','confidence':1.5}", "$.confidence: maximum: 1.5 is above 1" },
	{ VOTE, "{'choice':'ship','confidence':-1}", "$.confidence: minimum: -1 is below 0" },
	{ VOTE, "{'choice':'ship','confidence':'high'}",
	  "$.confidence: type: expected number, got string" },
	{ VOTE, "{'choice':'ship','confidence':1,'rationale':'no'}",
	  "$.rationale: minLength: 2 characters, at least 3 needed" },
	{ VOTE, "{'choice':'ship','confidence':1,'rationale':'\xc3\xa9t\xc3\xa9 est long'}",
	  "$.rationale: maxLength: 12 characters, at most 10 allowed" },
	{ VOTE, "{'choice':'ship','confidence':1,'rationale':'\xc3\xa9t\xc3\xa9 court'}", NULL },
	{ VOTE, "[1]", "$: type: expected object, got array" },
	{ VOTE, "no json at all", "$: json: the answer holds no JSON value" },
	{ ORDERING, "['a','b']", NULL },
	{ ORDERING, "['a']", "$: minItems: 1 items, at least 2 needed" },
	{ ORDERING, "['a','b','c','d']", "$: maxItems: 4 items, at most 3 allowed" },
	{ ORDERING, "['a','b','a']", "$: uniqueItems: items 0 and 2 are equal" },
	{ ORDERING, "['a',2]", "$[1]: type: expected string, got integer" },
	{ "{'type':'integer'}", "3", NULL },
	{ "{'type':'integer'}", "3.5", "$: type: expected integer, got number" },
	{ "{'type':'number'}", "3", NULL },
	{ "{'type':'boolean'}", "true", NULL },
	{ "{'type':'null'}", "null", NULL },
	{ "{'enum':[1,'two',{'three':3}]}", "{'three':3}", NULL },
	{ "{'type':'object','properties':{'a':{'type':'string'}},'additionalProperties':false}",
	  "{'a':'x','b':1}", "$: additionalProperties: \"b\" is not a known property" },
	{ "{'type':'object','properties':{'a':{'type':'object','properties':{"
	  "'b':{'type':'array','items':{'type':'integer','maximum':5}}}}}}",
	  "{'a':{'b':[1,9]}}", "$.a.b[1]: maximum: 9 is above 5" },
	{ "{'title':'anything','description':'goes'}", "{'x':[1]}", NULL },
	/* Read as infinity, kept as null (found writing tests/fuzz/fuzz_schema.c). */
	{ "{'type':'number'}", "1e999", "$: json: the number is past the range of a double" },
	{ "{}", "{'a':[1,-1e400]}", "$.a[1]: json: the number is past the range of a double" },
};

START_TEST(test_answer_is_judged_against_its_schema_with_the_reason)
{
	const struct judged *row = &judged[_i];
	char *schema = th_json_text("%s", row->schema), *answer = th_json_text("%s", row->answer);
	char why[CX_SCHEMA_WHY_MAX];
	int rc = cx_schema_judge(schema, strlen(schema), answer, strlen(answer), why);

	if (!row->why)
		ck_assert_msg(rc == CX_OK, "row %d: %s refused: %s", _i, row->answer, why);
	else
		ck_assert_msg(rc == CX_EINVALID && !strcmp(why, row->why),
			      "row %d: %s: rc %d, why \"%s\", wanted \"%s\"", _i, row->answer, rc,
			      rc == CX_OK ? "" : why, row->why);
	free(schema);
	free(answer);
}
END_TEST

START_TEST(test_valid_answer_is_returned_as_its_json)
{
	char *schema_text = th_json_text("%s", VOTE);
	cJSON *schema = cJSON_Parse(schema_text);
	const char answer[] = "Sure! {\"choice\": \"ship\", \"confidence\": 0.75}";
	char why[CX_SCHEMA_WHY_MAX];
	cJSON *value = cx_schema_answer(schema, answer, strlen(answer), why);

	ck_assert_ptr_nonnull(value);
	ck_assert_str_eq(cJSON_GetObjectItem(value, "choice")->valuestring, "ship");
	ck_assert_double_eq(cJSON_GetObjectItem(value, "confidence")->valuedouble, 0.75);
	cJSON_Delete(value);
	cJSON_Delete(schema);
	free(schema_text);
}
END_TEST

/* ---- a schema's own mistakes ---- */

static const struct bad_schema {
	const char *schema, *path, *code;
} bad_schemas[] = {
	{ "[]", "$", "wrong_type" },
	{ "{'type':'text'}", "type", "invalid_value" },
	{ "{'type':['string','null']}", "type", "wrong_type" },
	{ "{'format':'email'}", "format", "unknown_key" },
	{ "{'properties':[]}", "properties", "wrong_type" },
	{ "{'properties':{'a':{'type':'strin'}}}", "properties.a.type", "invalid_value" },
	{ "{'properties':{'a':3}}", "properties.a", "wrong_type" },
	{ "{'required':'a'}", "required", "wrong_type" },
	{ "{'required':[1]}", "required[0]", "wrong_type" },
	{ "{'enum':[]}", "enum", "too_few" },
	{ "{'enum':[1,2,1]}", "enum[2]", "invalid_value" },
	{ "{'items':{'minItems':-1}}", "items.minItems", "out_of_range" },
	{ "{'minLength':1.5}", "minLength", "wrong_type" },
	{ "{'minLength':3,'maxLength':2}", "minLength", "invalid_value" },
	{ "{'minItems':3,'maxItems':2}", "minItems", "invalid_value" },
	{ "{'minimum':2,'maximum':1}", "minimum", "invalid_value" },
	{ "{'minimum':'0'}", "minimum", "wrong_type" },
	{ "{'uniqueItems':1}", "uniqueItems", "wrong_type" },
	{ "{'additionalProperties':{}}", "additionalProperties", "wrong_type" },
	{ "{'items':{'items':{'items':{'items':{'items':{'items':{'items':{'items':{"
	  "'items':{'items':{'items':{'items':{'items':{'items':{'items':{'items':{}"
	  "}}}}}}}}}}}}}}}}",
	  "items.items.items.items.items.items.items.items.items.items.items.items.items.items."
	  "items.items", "too_deep" },
};

START_TEST(test_bad_schema_is_refused_with_its_path_and_code)
{
	const struct bad_schema *row = &bad_schemas[_i];
	char *text = th_json_text("%s", row->schema);
	cJSON *schema = cJSON_Parse(text);
	struct cx_diags diags = { 0 };
	struct cx_check c = { .diags = &diags };
	bool seen = false;

	ck_assert_ptr_nonnull(schema);
	cx_schema_check(&c, schema, "");
	for (size_t i = 0; i < diags.n; i++)
		seen |= !strcmp(diags.v[i].path, row->path) && !strcmp(diags.v[i].code, row->code);
	ck_assert_msg(seen, "row %d: %s: no %s at %s (%zu findings%s%s)", _i, row->schema,
		      row->code, row->path, diags.n, diags.n ? ", first: " : "",
		      diags.n ? diags.v[0].path : "");
	cx_diags_free(&diags);
	cJSON_Delete(schema);
	free(text);
}
END_TEST

START_TEST(test_schema_of_the_whole_subset_is_accepted)
{
	char *text = th_json_text("%s", "{'title':'t','description':'d','type':'object',"
			    "'required':['a'],'additionalProperties':false,'properties':{"
			    "'a':{'type':'array','minItems':0,'maxItems':4,'uniqueItems':true,"
			    "'items':{'type':'string','enum':['x','y'],'minLength':1,'maxLength':1}},"
			    "'n':{'type':'integer','minimum':-1,'maximum':1}}}");
	cJSON *schema = cJSON_Parse(text);
	struct cx_check c = { 0 };

	cx_schema_check(&c, schema, "members[0].output_schema_inline");
	ck_assert_uint_eq(c.errors, 0);
	cJSON_Delete(schema);
	free(text);
}
END_TEST

START_TEST(test_judging_an_invalid_schema_names_its_first_finding)
{
	char why[CX_SCHEMA_WHY_MAX];
	const char schema[] = "{\"type\": \"text\"}";

	ck_assert_int_eq(cx_schema_judge(schema, strlen(schema), "1", 1, why), CX_EINVALID);
	ck_assert_str_eq(why, "type: invalid_value: \"text\" is not one of object, array, "
			      "string, number, integer, boolean, null");
	ck_assert_int_eq(cx_schema_judge("{", 1, "1", 1, why), CX_EINVALID);
	ck_assert_str_eq(why, "the schema is not JSON");
}
END_TEST

static Suite *schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("schema");
	tcase_add_loop_test(tc, test_answer_json_is_found_whole_fenced_or_bracketed, 0,
			    (int)(sizeof found / sizeof found[0]));
	tcase_add_test(tc, test_many_brackets_are_tried_a_bounded_number_of_times);
	tcase_add_loop_test(tc, test_answer_is_judged_against_its_schema_with_the_reason, 0,
			    (int)(sizeof judged / sizeof judged[0]));
	tcase_add_test(tc, test_valid_answer_is_returned_as_its_json);
	tcase_add_loop_test(tc, test_bad_schema_is_refused_with_its_path_and_code, 0,
			    (int)(sizeof bad_schemas / sizeof bad_schemas[0]));
	tcase_add_test(tc, test_schema_of_the_whole_subset_is_accepted);
	tcase_add_test(tc, test_judging_an_invalid_schema_names_its_first_finding);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(schema_suite());
}
