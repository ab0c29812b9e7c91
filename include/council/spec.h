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
#define CX_SPEC_MAX_TOOLS 64
#define CX_SPEC_MAX_DEPTH 4          /* sub-councils nested in sub-councils */
#define CX_SPEC_MAX_OPTIONS 32       /* a vote's or ranking's options */
#define CX_SPEC_MAX_ITERATIONS 16    /* an iterate round's max_iterations */

enum cx_provider_kind {
	CX_PROVIDER_MOCK,
	CX_PROVIDER_EXEC,
	CX_PROVIDER_OPENAI,
	CX_PROVIDER_ANTHROPIC,
};

enum cx_round_type {
	CX_ROUND_INDEPENDENT_ANALYSIS,
	CX_ROUND_PEER_REVIEW,
	CX_ROUND_SYNTHESIS,
	CX_ROUND_ANONYMIZED_PEER_REVIEW,
	CX_ROUND_CRITIQUE,
	CX_ROUND_VOTE,
	CX_ROUND_RANKING,
	CX_ROUND_ITERATE,
	CX_ROUND_PAIRWISE_ELIMINATION,
	CX_ROUND_ROUTE,          /* not listed in a spec: the round a router member
				  * answers in, put first (docs/spec.md#router) */
};

/* How a round's ballots elect a winner (docs/rounds.md). */
enum cx_aggregator {
	CX_AGGREGATOR_NONE,          /* the round has no ballots */
	CX_AGGREGATOR_PLURALITY,
	CX_AGGREGATOR_CONFIDENCE_WEIGHTED,
	CX_AGGREGATOR_BORDA,
	CX_AGGREGATOR_CONDORCET,
};

enum cx_failure_mode { CX_FAILURE_CONTINUE, CX_FAILURE_FAIL_FAST };

struct cx_retry {
	int max_attempts; /* "max": attempts in all, >= 1 (default 2) */
	int base_ms;      /* backoff before attempt k >= 2: base_ms * 2^(k-2) (default 1000) */
};

/* A command members of the HTTP providers may call (docs/providers.md). */
struct cx_tool {
	const char *name;
	const char *description;   /* "" when absent */
	const cJSON *command;      /* argv: an array of strings */
	const cJSON *parameters;   /* JSON Schema of its arguments, NULL when absent */
	int timeout_ms;            /* the spec's tool_timeout_ms (default 30000) */
};

struct cx_spec;

struct cx_member {
	const char *id;
	const char *role;          /* "" when absent */
	const char *system_prompt; /* "" when absent */
	enum cx_provider_kind provider;
	const cJSON *profile;      /* default_profile merged with the member's own */
	struct cx_retry retry;
	int timeout_ms;            /* per attempt (default 60000) */
	bool stream;               /* emit member_token events (default true) */
	const struct cx_tool **tools; /* those its profile's "tools" names */
	size_t n_tools;
	const cJSON *output_schema; /* output_schema_inline: its answers must hold JSON
				     * valid against it (docs/rounds.md), or NULL */
	const struct cx_spec *council; /* a sub-council that answers for the member, or
					* NULL; its profile is then NULL */
};

struct cx_round {
	enum cx_round_type type;
	const char *name;          /* the round's name in events: "name" or its type */
	enum cx_failure_mode failure_mode;
	enum cx_aggregator aggregator;  /* vote, ranking, anonymized_peer_review */
	const cJSON *options;      /* vote, ranking: the choices (strings), or NULL:
				    * the answers of the round before */
	int max_iterations;        /* iterate (default 3) */
	const struct cx_round *inner;   /* iterate: the round it repeats */
	const struct cx_member *judge;  /* pairwise_elimination: the judge member or chair;
					 * route: the router member */
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
	struct cx_tool *tools;     /* declared at the top level */
	size_t n_tools;
	const cJSON *router;       /* which members take part (docs/spec.md#router), or NULL */
};

/* Parses and validates a spec. On success *out owns everything; on failure
 * returns CX_EINVALID with every finding appended to diags (which may be NULL). */
int cx_spec_parse(const char *text, size_t len, struct cx_spec **out,
		  struct cx_diags *diags);

/* How much of a run its events show (docs/events.md#member_debug). */
enum cx_verbosity {
	CX_VERBOSE_NORMAL,
	CX_VERBOSE_DEBUG,          /* member_debug events: prompts and answers */
};

/* What a start asks of one run beside its spec and input (a start's
 * "options", docs/spec.md#run-options). */
struct cx_start_opts {
	struct cx_retry retry;     /* laid over the spec's top-level retry, under the
				    * members' own; max_attempts 0 / base_ms -1: not set */
	enum cx_verbosity verbose;
};

#define CX_START_OPTS_NONE ((struct cx_start_opts){ .retry = { 0, -1 } })

/* Parses a start's options, JSON text (NULL: none). On failure returns
 * CX_EINVALID with the findings, at "options...", appended to diags. */
int cx_start_opts_parse(const char *text, struct cx_start_opts *out, struct cx_diags *diags);
/* cx_spec_parse for a run started with opts (NULL: none): the run's retry
 * is laid over every council's top-level defaults, sub-councils' too. */
int cx_spec_parse_run(const char *text, size_t len, const struct cx_start_opts *opts,
		      struct cx_spec **out, struct cx_diags *diags);
void cx_spec_free(struct cx_spec *spec);

/* A spec's text with each sub-council given as a path (a member's "council"
 * string) replaced by the council in that file, read relative to dir, the
 * directory of the file naming it (docs/spec.md): what a client sends, so
 * the supervisor never opens a file a spec names. *out (malloc'd, *out_len
 * bytes) is the text itself when it names no file. CX_EINVALID with the
 * findings in diags when the text is over CX_SPEC_MAX_BYTES or not JSON
 * (docs/spec.md: valid UTF-8, no NUL) or a file cannot be had; its fields are not
 * checked here: cx_spec_parse() does that. */
int cx_spec_inline(const char *text, size_t len, const char *dir, char **out,
		   size_t *out_len, struct cx_diags *diags);

/* Parses a run's input: JSON text (NULL: "{}") of at most CX_INPUT_MAX_BYTES.
 * On failure returns CX_EINVALID with a finding at "input" appended to
 * diags (which may be NULL). */
int cx_input_parse(const char *text, cJSON **out, struct cx_diags *diags);

const char *cx_round_type_name(enum cx_round_type type);
const char *cx_provider_name(enum cx_provider_kind kind);

#endif
