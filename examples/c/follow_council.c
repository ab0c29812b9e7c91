/* follow_council: runs a council through councild with cx_run(), printing
 * one line per member and per round as they complete, then the final
 * answer.
 *
 *   follow_council [SPEC [INPUT]]
 *
 * SPEC and INPUT default to examples/councils/review.json and
 * examples/inputs/question.json (run it from the source tree). When no
 * councild answers in the runtime directory ($COUNCIL_RUNTIME_DIR, ...),
 * $COUNCILD (else councild from PATH) is started. The run is linked to
 * this program: Ctrl-C ends both. The exit status is councilctl's: 0
 * completed, 1 failed, 3 cancelled, 2 invalid council, 6 timeout, 8
 * councild unavailable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <council/council.h>

#define RUN_TIMEOUT_MS (10 * 60 * 1000)

/* What the event callback counts, for its round lines. */
struct progress {
	int members, members_ok;
};

static const char *str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

static double num(const cJSON *obj, const char *key)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* cx_run's callback: one event line (docs/events.md). */
static void on_event(void *data, const char *line, size_t len)
{
	struct progress *p = data;
	cJSON *ev = cJSON_Parse(line);
	/* A sub-council's events ("sub") are its member's turn: this follows
	 * the run's own rounds. */
	const char *type = cJSON_GetObjectItem(ev, "sub") ? "" : str(ev, "type");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(ev, "result");
	if (!strcmp(type, "run_started")) {
		printf("run %s: council %s\n", str(ev, "run_id"), str(ev, "council"));
	} else if (!strcmp(type, "member_completed")) {
		int attempts = (int)num(result, "attempts");
		printf("  %-12s %-8s %5.1f s", str(ev, "member"), str(result, "status"),
		       num(result, "duration_ms") / 1000);
		printf(attempts > 1 ? " (%d attempts)\n" : "\n", attempts);
		p->members++;
		p->members_ok += !strcmp(str(result, "status"), "ok");
	} else if (!strcmp(type, "round_completed")) {
		printf("round %d %s: %d of %d members ok\n", (int)num(ev, "idx") + 1,
		       str(ev, "round"), p->members_ok, p->members);
		*p = (struct progress){ 0 };
	} else if (!strcmp(type, "run_failed")) {
		const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "errors"), 0);
		printf("run failed: %s: %s\n", str(first, "kind"), str(first, "message"));
	}
	fflush(stdout);
	cJSON_Delete(ev);
}

/* The whole file, NUL-terminated; NULL with errno set on failure. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t size = 0;
	if (f && getdelim(&text, &size, '\0', f) < 0) {  /* up to EOF: JSON has no NUL */
		free(text);
		text = NULL;
	}
	if (f)
		fclose(f);
	return text;
}

static int exit_code(int r, enum cx_run_status status)
{
	switch (r) {
	case CX_OK: return status == CX_RUN_COMPLETED ? 0 : status == CX_RUN_CANCELLED ? 3 : 1;
	case CX_EINVALID: case CX_EUSAGE: return 2;
	case CX_ETIMEOUT: return 6;
	case CX_EUNAVAILABLE: return 8;
	default: return 1;
	}
}

int main(int argc, char **argv)
{
	const char *spec_path = argc > 1 ? argv[1] : "examples/councils/review.json";
	const char *input_path = argc > 2 ? argv[2] : "examples/inputs/question.json";
	if (argc > 3) {
		fprintf(stderr, "usage: follow_council [SPEC [INPUT]]\n");
		return 2;
	}
	char *spec = read_file(spec_path), *input = spec ? read_file(input_path) : NULL;
	if (!input) {
		fprintf(stderr, "follow_council: %s: %s\n", spec ? input_path : spec_path,
			strerror(errno));
		free(spec);
		return 2;
	}

	struct cx_client_options client_opts = { .autostart = true };
	struct cx_client *cl;
	struct cx_error err = { 0 };
	int r = cx_client_connect(&client_opts, &cl, &err);
	struct cx_client_start req = { .spec_json = spec, .input_json = input };
	struct progress progress = { 0 };
	struct cx_run_options run_opts = { .on_event = on_event, .data = &progress };
	struct cx_diags diags = { 0 };
	struct cx_started started;
	enum cx_run_status status = CX_RUN_FAILED;
	char *result = NULL;
	if (r == CX_OK) {
		r = cx_run(cl, &req, RUN_TIMEOUT_MS, &run_opts, &result, &status, &started,
			   &diags, &err);
		cx_client_close(cl);
	}
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "%s: %s: %s: %s\n", spec_path, diags.v[i].path, diags.v[i].code,
			diags.v[i].message);
	if (r < 0)
		fprintf(stderr, "follow_council: %s: %s\n", cx_code_word(r), err.message);
	if (r == CX_OK) {
		cJSON *json = cJSON_Parse(result);
		const char *final = cJSON_GetStringValue(cJSON_GetObjectItem(json, "final"));
		printf("%s. Final answer:\n%s\n", cx_run_status_name(status),
		       final ? final : "(none)");
		cJSON_Delete(json);
	}
	free(result);
	cx_diags_free(&diags);
	free(spec);
	free(input);
	return exit_code(r, status);
}
