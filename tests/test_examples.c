/* Every council in examples/councils runs to completion offline, as
 * `councilctl run SPEC --input examples/inputs/question.json` would run it
 * (sub-councils given as paths read the way councilctl reads them), so the
 * examples cannot rot; and together they show every round type. ollama.json
 * needs a local Ollama and is left out. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "council/spec.h"
#include "harness.h"
#include "runner.h"
#include "worker_run.h"

#define MAX_EXAMPLES 64

static const char *const skipped[] = { "ollama.json", NULL };

static char *names[MAX_EXAMPLES];
static int n_names;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The example files, sorted, once for the loop test's bounds. */
static void list_examples(void)
{
	DIR *d = opendir(th_source_path("examples/councils"));
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && n_names < MAX_EXAMPLES) {
		size_t len = strlen(e->d_name);
		bool skip = len < 6 || strcmp(e->d_name + len - 5, ".json");
		for (const char *const *s = skipped; !skip && *s; s++)
			skip = !strcmp(e->d_name, *s);
		if (!skip)
			names[n_names++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n_names, sizeof *names, by_name);
}

static struct cx_spec *load_example(const char *name)
{
	char path[512], *text, *inlined;
	size_t len;
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;

	snprintf(path, sizeof path, "examples/councils/%s", name);
	text = th_read_file(th_source_path(path), &len);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	int rc = cx_spec_inline(text, len, th_source_path("examples/councils"), &inlined, &len,
				&diags);
	if (rc == CX_OK)
		rc = cx_spec_parse(inlined, len, &spec, &diags);
	ck_assert_msg(rc == CX_OK, "%s refused: %s: %s: %s", name, diags.n ? diags.v[0].path : "",
		      diags.n ? diags.v[0].code : "", diags.n ? diags.v[0].message : "");
	if (rc == CX_OK)
		free(inlined);
	cx_diags_free(&diags);
	free(text);
	return spec;
}

START_TEST(test_example_council_runs_to_completion_offline)
{
	const char *name = names[_i];
	struct run r;
	char *input = th_read_file(th_source_path("examples/inputs/question.json"), NULL);

	ck_assert_ptr_nonnull(input);
	/* Exec members name their scripts relative to the repository. */
	ck_assert_int_eq(chdir(th_source_path(".")), 0);
	run_start_parsed(&r, load_example(name), input, NULL);
	free(input);
	int exit_code = run_finish(&r);
	ck_assert_msg(exit_code == CX_EXIT_COMPLETED, "%s ended with exit %d: %s", name, exit_code,
		      str(first_error(&r), "message"));
	ck_assert_msg(str(cJSON_GetObjectItemCaseSensitive(terminal(&r), "result"), "final"),
		      "%s has no final answer", name);
	run_free(&r);
	assert_clean();
}
END_TEST

/* The round types of spec and its sub-councils, one bit each. */
static unsigned round_types(const struct cx_spec *spec)
{
	unsigned seen = 0;
	for (size_t i = 0; i < spec->n_rounds; i++) {
		seen |= 1u << spec->rounds[i].type;
		if (spec->rounds[i].inner)
			seen |= 1u << spec->rounds[i].inner->type;
	}
	for (size_t i = 0; i < spec->n_members; i++)
		if (spec->members[i].council)
			seen |= round_types(spec->members[i].council);
	return seen;
}

START_TEST(test_examples_show_every_round_type_and_a_sub_council)
{
	unsigned seen = 0;
	bool sub = false;

	for (int i = 0; i < n_names; i++) {
		struct cx_spec *spec = load_example(names[i]);
		seen |= round_types(spec);
		for (size_t m = 0; m < spec->n_members; m++)
			sub |= spec->members[m].council != NULL;
		cx_spec_free(spec);
	}
	for (int t = CX_ROUND_INDEPENDENT_ANALYSIS; t <= CX_ROUND_PAIRWISE_ELIMINATION; t++)
		ck_assert_msg(seen & (1u << t), "no example has a %s round",
			      cx_round_type_name((enum cx_round_type)t));
	ck_assert_msg(sub, "no example has a sub-council");
}
END_TEST

static Suite *examples_suite(void)
{
	Suite *s = suite_create("examples");
	TCase *tc = tcase_create("examples");
	tcase_set_timeout(tc, 120);
	list_examples();
	tcase_add_loop_test(tc, test_example_council_runs_to_completion_offline, 0, n_names);
	tcase_add_test(tc, test_examples_show_every_round_type_and_a_sub_council);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(examples_suite());
}
