/* council: the council spec (DESIGN §6), parsed and validated into C types.
 *
 * A spec is JSON; cx_spec_parse() reports every problem it finds as a
 * diagnostic {path, code, message} and builds nothing unless all is well. */
#ifndef COUNCIL_SPEC_H
#define COUNCIL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "council/error.h"

/* Documented limits (docs/spec.md). */
#define CX_SPEC_MAX_BYTES (1024 * 1024)
#define CX_INPUT_MAX_BYTES (1024 * 1024)
#define CX_SPEC_MAX_MEMBERS 64
#define CX_SPEC_MAX_ROUNDS 32
#define CX_SPEC_MAX_PROMPT (64 * 1024)

enum cx_provider_kind { CX_PROVIDER_MOCK, CX_PROVIDER_EXEC };

enum cx_round_type {
	CX_ROUND_INDEPENDENT_ANALYSIS,
	CX_ROUND_PEER_REVIEW,
	CX_ROUND_SYNTHESIS,
};

enum cx_failure_mode { CX_FAILURE_CONTINUE, CX_FAILURE_FAIL_FAST };

struct cx_retry {
	int max_attempts; /* "max": attempts in all, >= 1 (default 2) */
	int base_ms;      /* backoff before attempt k >= 2: base_ms * 2^(k-2) (default 1000) */
};

struct cx_member {
	const char *id;
	const char *role;          /* "" when absent */
	const char *system_prompt; /* "" when absent */
	enum cx_provider_kind provider;
	const cJSON *profile;      /* default_profile merged with the member's own */
	struct cx_retry retry;
	int timeout_ms;            /* per attempt (default 60000) */
	bool stream;               /* emit member_token events (default true) */
};

struct cx_round {
	enum cx_round_type type;
	const char *name;          /* the round's name in events: "name" or its type */
	enum cx_failure_mode failure_mode;
};

struct cx_spec {
	cJSON *json;               /* the spec as given; every pointer below lives in it */
	const char *id;
	const char *name;          /* "" when absent */
	struct cx_member *members;
	size_t n_members;
	struct cx_round *rounds;   /* a synthesis round is appended when a chair is set */
	size_t n_rounds;
	struct cx_member *chair;   /* NULL without a chair */
};

/* Parses and validates a spec. On success *out owns everything; on failure
 * returns CX_EINVALID with every finding appended to diags (which may be NULL). */
int cx_spec_parse(const char *text, size_t len, struct cx_spec **out,
		  struct cx_diags *diags);
void cx_spec_free(struct cx_spec *spec);

/* Parses a run's input: JSON text (NULL: "{}") of at most CX_INPUT_MAX_BYTES.
 * On failure returns CX_EINVALID with a finding at "input" appended to
 * diags (which may be NULL). */
int cx_input_parse(const char *text, cJSON **out, struct cx_diags *diags);

const char *cx_round_type_name(enum cx_round_type type);
const char *cx_provider_name(enum cx_provider_kind kind);

#endif
