#include "diagram.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "router.h"

/* Node ids are numbered (n1, n2...): member ids may hold '.' and '-', and a
 * member sits in several rounds. Labels are quoted; the only text in them
 * comes from ids, names and round types, none of which may hold a quote. */
struct drawing {
	struct cx_buf out;
	int next;          /* the next node number */
	bool failed;
};

static void put(struct drawing *d, int depth, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put(struct drawing *d, int depth, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof line, "%*s", 2 * depth + 2, "");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (cx_buf_append(&d->out, line, (size_t)n) < 0)
		d->failed = true;
}

static int node(struct drawing *d)
{
	return ++d->next;
}

static const char *aggregator_name(enum cx_aggregator a)
{
	static const char *const names[] = {
		[CX_AGGREGATOR_NONE] = NULL, [CX_AGGREGATOR_PLURALITY] = "plurality",
		[CX_AGGREGATOR_CONFIDENCE_WEIGHTED] = "confidence_weighted",
		[CX_AGGREGATOR_BORDA] = "borda", [CX_AGGREGATOR_CONDORCET] = "condorcet",
	};
	return names[a];
}

/* "2. vote (plurality)", "3. debate: iterate ×5 critique": the type is
 * said when the name is not it. */
static void round_label(const struct cx_round *r, size_t idx, char *buf, size_t size)
{
	const struct cx_round *asked = r->type == CX_ROUND_ITERATE ? r->inner : r;
	const char *agg = aggregator_name(asked->aggregator), *type = cx_round_type_name(r->type);
	bool named = strcmp(r->name, type) != 0;
	char repeat[48] = "";

	if (r->type == CX_ROUND_ITERATE)
		snprintf(repeat, sizeof repeat, " ×%d %s", r->max_iterations,
			 cx_round_type_name(asked->type));
	snprintf(buf, size, "%zu. %s%s%s%s%s%s%s", idx + 1, r->name, named ? ": " : "",
		 named ? type : "", repeat, agg ? " (" : "", agg ? agg : "", agg ? ")" : "");
}

static int draw_council(struct drawing *d, const struct cx_spec *spec, int depth, int from);

/* A member's node in a round: a sub-council is drawn inside it, as a
 * subgraph entered from the node. */
static void draw_member(struct drawing *d, const struct cx_member *m, bool chair, int depth)
{
	int n = node(d);

	if (m->council) {
		put(d, depth, "n%d[[\"%s: sub-council %s\"]]", n, m->id, m->council->id);
		put(d, depth, "subgraph n%d_sub[\"sub-council %s\"]", n, m->council->id);
		put(d, depth + 1, "direction TB");
		draw_council(d, m->council, depth + 1, n);
		put(d, depth, "end");
	} else if (chair) {
		put(d, depth, "n%d([\"%s: chair · %s\"])", n, m->id, cx_provider_name(m->provider));
	} else {
		put(d, depth, "n%d[\"%s · %s\"]", n, m->id, cx_provider_name(m->provider));
	}
}

static void draw_round(struct drawing *d, const struct cx_spec *spec, size_t idx, int sub,
		       int depth)
{
	const struct cx_round *r = &spec->rounds[idx];
	const struct cx_round *asked = r->type == CX_ROUND_ITERATE ? r->inner : r;
	char label[256];

	round_label(r, idx, label, sizeof label);
	put(d, depth, "subgraph n%d[\"%s\"]", sub, label);
	if (asked->type == CX_ROUND_SYNTHESIS) {
		draw_member(d, spec->chair, true, depth + 1);
	} else if (asked->type != CX_ROUND_ROUTE) {
		for (size_t i = 0; i < spec->n_members; i++)
			draw_member(d, &spec->members[i], false, depth + 1);
	}
	if (asked->judge) {  /* a tournament's judge, or the member who routes */
		int n = node(d);
		put(d, depth + 1, "n%d{{\"%s: %s\"}}", n,
		    asked->type == CX_ROUND_ROUTE ? "chooses" : "judge", asked->judge->id);
	}
	put(d, depth, "end");
}

/* The council's input, router, rounds and output, the input fed from node
 * `from` (0: none). Returns the output's node. */
static int draw_council(struct drawing *d, const struct cx_spec *spec, int depth, int from)
{
	int input = node(d), prev = input;

	put(d, depth, "n%d[/\"input\"/]", input);
	if (from)
		put(d, depth, "n%d -.->|contains| n%d", from, input);
	if (spec->router) {
		int router = node(d);
		int rules = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec->router, "rules"));
		if (cx_router_member(spec))
			put(d, depth, "n%d{\"router: member %s\"}", router, cx_router_member(spec)->id);
		else
			put(d, depth, "n%d{\"router: %d rule%s\"}", router, rules,
			    rules == 1 ? "" : "s");
		put(d, depth, "n%d --> n%d", input, router);
		prev = router;
	}
	for (size_t i = 0; i < spec->n_rounds; i++) {
		int round = node(d);
		draw_round(d, spec, i, round, depth);
		put(d, depth, "n%d -->|%s| n%d", prev, i == 0 && spec->router ? "routes_to" : "feeds",
		    round);
		prev = round;
	}
	int output = node(d);
	put(d, depth, "n%d[/\"output\"/]", output);
	put(d, depth, "n%d --> n%d", prev, output);
	if (from)  /* a sub-council's final answer is its member's */
		put(d, depth, "n%d -.->|answers| n%d", output, from);
	return output;
}

char *cx_diagram_mermaid(const struct cx_spec *spec)
{
	struct drawing d = { 0 };

	if (cx_buf_append(&d.out, "flowchart TD\n", 13) < 0)
		return NULL;
	draw_council(&d, spec, 0, 0);
	if (d.failed) {
		cx_buf_free(&d.out);
		return NULL;
	}
	return d.out.data;
}
