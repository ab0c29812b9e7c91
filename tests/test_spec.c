/* The council spec contract (DESIGN §6, docs/spec.md): what parses into
 * which typed values, and how every kind of mistake is reported. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/spec.h"
#include "harness.h"

/* Specs below are written with ' for " so they stay readable. */
static char *unquote(const char *quoted)
{
	char *text = strdup(quoted);

	ck_assert_ptr_nonnull(text);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	return text;
}

static int parse_quoted(const char *quoted, struct cx_spec **out,
			struct cx_diags *diags)
{
	char *text = unquote(quoted);
	int rc = cx_spec_parse(text, strlen(text), out, diags);

	free(text);
	return rc;
}

static const struct cx_diag *find_diag(const struct cx_diags *d,
				       const char *path, const char *code)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].path, path) && !strcmp(d->v[i].code, code))
			return &d->v[i];
	return NULL;
}

/* "path: code: message" lines, for failure messages. */
static const char *listed(const struct cx_diags *d)
{
	static char buf[4096];

	buf[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		char line[512];
		snprintf(line, sizeof line, "\n    %s: %s: %s", d->v[i].path,
			 d->v[i].code, d->v[i].message);
		strlcat(buf, line, sizeof buf);
	}
	return d->n ? buf : " (none)";
}

/* Parses a spec that must be refused, and checks that one finding is
 * exactly at path with code. The caller frees diags. */
static void expect_refused(const char *what, const char *quoted,
			   const char *path, const char *code,
			   struct cx_diags *diags)
{
	struct cx_spec *spec = (struct cx_spec *)&spec; /* must become NULL */
	int rc = parse_quoted(quoted, &spec, diags);

	ck_assert_msg(rc == CX_EINVALID, "%s: parse returned %d, not CX_EINVALID; diags:%s",
		      what, rc, listed(diags));
	ck_assert_msg(spec == NULL, "%s: *out is not NULL after a refusal", what);
	ck_assert_msg(find_diag(diags, path, code), "%s: no %s at %s; found:%s",
		      what, code, path, listed(diags));
}

static struct cx_spec *parse_ok(const char *quoted)
{
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;
	int rc = parse_quoted(quoted, &spec, &diags);

	ck_assert_msg(rc == CX_OK, "valid spec refused (%d):%s", rc, listed(&diags));
	ck_assert_ptr_nonnull(spec);
	cx_diags_free(&diags);
	return spec;
}

#define MOCK "'profile':{'provider':'mock'}"
#define MEMBER_A "{'id':'a'," MOCK "}"
#define CHAIR ",'chair':{'id':'ch'," MOCK "}"
#define IA "{'type':'independent_analysis'}"
#define SPEC(id, members, rounds, extra) \
	"{'id':" id ",'members':[" members "],'rounds':[" rounds "]" extra "}"
#define WITH(extra) SPEC("'c'", MEMBER_A, IA, extra)
#define WITH_MEMBER(m) SPEC("'c'", m, IA, "")
#define WITH_MEMBER_KEY(kv) WITH_MEMBER("{'id':'a'," MOCK "," kv "}")
#define WITH_PROFILE(p) WITH_MEMBER("{'id':'a','profile':{" p "}}")
#define WITH_EXEC(p) WITH_PROFILE("'provider':'exec','command':['cat']," p)
#define WITH_DEFAULTS(d, m) SPEC("'c'", m, IA, ",'default_profile':{" d "}")
#define WITH_ROUNDS(r) SPEC("'c'", MEMBER_A, r, "")
#define OPENAI_MEMBER(p) "{'id':'a','profile':{'provider':'openai','model':'m'," p "}}"
#define WITH_OPENAI(p) WITH_MEMBER(OPENAI_MEMBER(p))
#define WITH_ANTHROPIC(p) WITH_PROFILE("'provider':'anthropic','model':'m'," p)
#define TOOL_T "{'name':'t','command':['x']}"
#define RULE(ids) "{'when':{'field':'topic','equals':'code'},'members':[" ids "]}"

static const struct bad_spec {
	const char *spec, *path, *code;
} bad_specs[] = {
	/* the document */
	{ "not json", "$", "invalid_json" },
	{ "{'id':'c'} trailing", "$", "invalid_json" },
	/* a NUL would cut a name short ('c\u0000d' was council c) */
	{ SPEC("'c\\u0000d'", MEMBER_A, IA, ""), "$", "invalid_json" },
	{ WITH_MEMBER("{'id':'a\\u0000b'," MOCK "}"), "$", "invalid_json" },
	/* not UTF-8: a stray 0xFF, an overlong '/', a surrogate, raw and escaped */
	{ WITH(",'description':'\xff'"), "$", "invalid_json" },
	{ WITH(",'description':'\xc0\xaf'"), "$", "invalid_json" },
	{ WITH(",'description':'\xed\xa0\x80'"), "$", "invalid_json" },
	{ WITH(",'description':'\\udfff'"), "$", "invalid_json" },
	{ "[]", "$", "wrong_type" },
	/* top-level keys */
	{ "{'members':[" MEMBER_A "],'rounds':[" IA "]}", "id", "missing_key" },
	{ SPEC("'a b'", MEMBER_A, IA, ""), "id", "invalid_name" },
	{ SPEC("7", MEMBER_A, IA, ""), "id", "wrong_type" },
	{ WITH(",'id':'d'"), "id", "invalid_value" },
	{ WITH(",'colour':'red'"), "colour", "unknown_key" },
	{ WITH(",'name':3"), "name", "wrong_type" },
	{ WITH(",'description':true"), "description", "wrong_type" },
	{ WITH(",'metadata':[]"), "metadata", "wrong_type" },
	{ WITH(",'default_profile':'mock'"), "default_profile", "wrong_type" },
	{ "{'id':'c','rounds':[" IA "]}", "members", "missing_key" },
	{ SPEC("'c'", "", IA, ""), "members", "too_few" },
	{ "{'id':'c','members':[" MEMBER_A "]}", "rounds", "missing_key" },
	{ "{'id':'c','members':[" MEMBER_A "],'rounds':{}}", "rounds", "wrong_type" },
	{ WITH_ROUNDS(""), "rounds", "too_few" },
	/* members and the chair */
	{ WITH_MEMBER("'a'"), "members[0]", "wrong_type" },
	{ WITH_MEMBER("{" MOCK "}"), "members[0].id", "missing_key" },
	{ WITH_MEMBER(MEMBER_A "," MEMBER_A), "members[1].id", "duplicate_id" },
	{ WITH(",'chair':{'id':'a'," MOCK "}"), "chair.id", "duplicate_id" },
	{ WITH_MEMBER_KEY("'colour':1"), "members[0].colour", "unknown_key" },
	{ WITH_MEMBER_KEY("'system_prompt':1"), "members[0].system_prompt", "wrong_type" },
	{ WITH_MEMBER_KEY("'retry':{'max':11}"), "members[0].retry.max", "out_of_range" },
	{ WITH_MEMBER_KEY("'retry':{'max':0}"), "members[0].retry.max", "out_of_range" },
	{ WITH_MEMBER_KEY("'retry':{'base_ms':1.5}"), "members[0].retry.base_ms", "wrong_type" },
	{ WITH_MEMBER_KEY("'retry':{'base_ms':60001}"), "members[0].retry.base_ms", "out_of_range" },
	{ WITH_MEMBER_KEY("'retry':{'tries':3}"), "members[0].retry.tries", "unknown_key" },
	{ WITH_MEMBER_KEY("'retry':3"), "members[0].retry", "wrong_type" },
	{ WITH_MEMBER_KEY("'timeout_ms':0"), "members[0].timeout_ms", "out_of_range" },
	{ WITH_MEMBER_KEY("'timeout_ms':3600001"), "members[0].timeout_ms", "out_of_range" },
	{ WITH_MEMBER_KEY("'stream':'yes'"), "members[0].stream", "wrong_type" },
	{ WITH_MEMBER_KEY("'metadata':'x'"), "members[0].metadata", "wrong_type" },
	{ WITH(",'chair':'ch'"), "chair", "wrong_type" },
	{ WITH(",'chair':{" MOCK "}"), "chair.id", "missing_key" },
	{ WITH(",'chair':{'id':'ch','colour':1," MOCK "}"), "chair.colour", "unknown_key" },
	/* structured answers */
	{ WITH_MEMBER_KEY("'output_schema_inline':{'type':'text'}"),
	  "members[0].output_schema_inline.type", "invalid_value" },
	{ WITH_MEMBER_KEY("'output_schema_inline':{'properties':{'a':{'minimum':'0'}}}"),
	  "members[0].output_schema_inline.properties.a.minimum", "wrong_type" },
	{ WITH_MEMBER_KEY("'output_schema_inline':'{}'"), "members[0].output_schema_inline",
	  "wrong_type" },
	/* sub-councils */
	{ WITH_MEMBER("{'id':'a','council':'inner.json'}"), "members[0].council",
	  "unresolved_council" },
	{ WITH_MEMBER("{'id':'a','council':7}"), "members[0].council", "wrong_type" },
	{ WITH_MEMBER("{'id':'a','council':" WITH_ROUNDS(IA) "," MOCK "}"), "members[0].profile",
	  "invalid_value" },
	{ WITH_MEMBER("{'id':'a','council':" WITH_ROUNDS("{'type':'voet'}") "}"),
	  "members[0].council.rounds[0].type", "unknown_round" },
	{ WITH_MEMBER("{'id':'a','council':{'members':[" MEMBER_A "],'rounds':[" IA "]}}"),
	  "members[0].council.id", "missing_key" },
	{ WITH_MEMBER("{'id':'a','council':[]}"), "members[0].council", "wrong_type" },
	{ WITH_MEMBER("{'id':'a','council':" WITH_MEMBER("{'id':'b','council':" WITH_MEMBER(
		"{'id':'c','council':" WITH_MEMBER("{'id':'d','council':" WITH_MEMBER(
		"{'id':'e','council':" WITH_MEMBER(MEMBER_A) "}") "}") "}") "}") "}"),
	  "members[0].council.members[0].council.members[0].council.members[0].council."
	  "members[0].council", "too_deep" },
	/* providers */
	{ WITH_MEMBER("{'id':'a'}"), "members[0].profile.provider", "missing_provider" },
	{ WITH_MEMBER("{'id':'a','profile':'mock'}"), "members[0].profile", "wrong_type" },
	{ WITH_PROFILE("'provider':'gemini'"), "members[0].profile.provider", "unsupported_provider" },
	{ WITH_PROFILE("'provider':'gpt'"), "members[0].profile.provider", "unknown_provider" },
	{ WITH_PROFILE("'provider':3"), "members[0].profile.provider", "wrong_type" },
	{ WITH_DEFAULTS("'provider':'gemini'", "{'id':'a'}"),
	  "default_profile.provider", "unsupported_provider" },
	/* mock profiles */
	{ WITH_PROFILE("'provider':'mock','fail':'sometimes'"), "members[0].profile.fail", "invalid_value" },
	{ WITH_PROFILE("'provider':'mock','fail_times':2"), "members[0].profile.fail_times", "invalid_value" },
	{ WITH_PROFILE("'provider':'mock','words':0"), "members[0].profile.words", "out_of_range" },
	{ WITH_PROFILE("'provider':'mock','words':'ten'"), "members[0].profile.words", "wrong_type" },
	{ WITH_PROFILE("'provider':'mock','chunk_delay_ms':-1"), "members[0].profile.chunk_delay_ms", "out_of_range" },
	{ WITH_PROFILE("'provider':'mock','latency_ms':600001"), "members[0].profile.latency_ms", "out_of_range" },
	{ WITH_PROFILE("'provider':'mock','reply':['x']"), "members[0].profile.reply", "wrong_type" },
	{ WITH_PROFILE("'provider':'mock','command':['cat']"), "members[0].profile.command", "unknown_key" },
	{ WITH_PROFILE("'provider':'mock','replies':'x'"), "members[0].profile.replies", "wrong_type" },
	{ WITH_PROFILE("'provider':'mock','replies':{'vote':3}"), "members[0].profile.replies.vote",
	  "wrong_type" },
	{ WITH_PROFILE("'provider':'mock','replies':{'a b':'x'}"), "members[0].profile.replies.a b",
	  "invalid_name" },
	{ WITH_EXEC("'replies':{}"), "members[0].profile.replies", "unknown_key" },
	/* default_profile */
	{ WITH_DEFAULTS("'colour':1", MEMBER_A), "default_profile.colour", "unknown_key" },
	{ WITH_DEFAULTS("'fail':'often'", MEMBER_A), "default_profile.fail", "invalid_value" },
	{ WITH_DEFAULTS("'command':['cat']", MEMBER_A), "default_profile.command", "unknown_key" },
	{ WITH_DEFAULTS("'provider':'mock','command':['cat']", "{'id':'a'}"),
	  "default_profile.command", "unknown_key" },
	{ WITH_DEFAULTS("'provider':'mock','fail_times':2", "{'id':'a'}"),
	  "default_profile.fail_times", "invalid_value" },
	/* exec profiles */
	{ WITH_PROFILE("'provider':'exec'"), "members[0].profile.command", "missing_key" },
	{ WITH_PROFILE("'provider':'exec','command':[]"), "members[0].profile.command", "too_few" },
	{ WITH_PROFILE("'provider':'exec','command':'cat'"), "members[0].profile.command", "wrong_type" },
	{ WITH_PROFILE("'provider':'exec','command':['cat','']"), "members[0].profile.command[1]", "invalid_value" },
	{ WITH_PROFILE("'provider':'exec','command':['cat',3]"), "members[0].profile.command[1]", "wrong_type" },
	{ WITH_EXEC("'env':{'1X':'a'}"), "members[0].profile.env.1X", "invalid_name" },
	{ WITH_EXEC("'env':{'X':1}"), "members[0].profile.env.X", "wrong_type" },
	{ WITH_EXEC("'env':['X']"), "members[0].profile.env", "wrong_type" },
	{ WITH_EXEC("'env_pass':['1X']"), "members[0].profile.env_pass[0]", "invalid_name" },
	{ WITH_EXEC("'env_pass':{'X':'a'}"), "members[0].profile.env_pass", "wrong_type" },
	{ WITH_EXEC("'words':3"), "members[0].profile.words", "unknown_key" },
	/* openai and anthropic profiles */
	{ WITH_PROFILE("'provider':'openai'"), "members[0].profile.model", "missing_key" },
	{ WITH_DEFAULTS("'provider':'anthropic'", "{'id':'a'}"), "members[0].profile.model", "missing_key" },
	{ WITH_OPENAI("'model':''"), "members[0].profile.model", "invalid_value" },
	{ WITH_OPENAI("'base_url':'ftp://host/v1'"), "members[0].profile.base_url", "invalid_value" },
	{ WITH_OPENAI("'base_url':'http://'"), "members[0].profile.base_url", "invalid_value" },
	{ WITH_OPENAI("'base_url':'http://a b/v1'"), "members[0].profile.base_url", "invalid_value" },
	{ WITH_OPENAI("'base_url':3"), "members[0].profile.base_url", "wrong_type" },
	{ WITH_OPENAI("'temperature':2.5"), "members[0].profile.temperature", "out_of_range" },
	{ WITH_ANTHROPIC("'temperature':1.5"), "members[0].profile.temperature", "out_of_range" },
	{ WITH_OPENAI("'temperature':'hot'"), "members[0].profile.temperature", "wrong_type" },
	{ WITH_OPENAI("'max_tokens':0"), "members[0].profile.max_tokens", "out_of_range" },
	{ WITH_OPENAI("'preset':'lmstudio'"), "members[0].profile.preset", "invalid_value" },
	{ WITH_ANTHROPIC("'preset':'ollama'"), "members[0].profile.preset", "unknown_key" },
	{ WITH_OPENAI("'api_key_env':'1KEY'"), "members[0].profile.api_key_env", "invalid_name" },
	{ WITH_OPENAI("'headers':{'Bad Name':'x'}"), "members[0].profile.headers.Bad Name", "invalid_name" },
	{ WITH_OPENAI("'headers':{'X-A':'a\\nb'}"), "members[0].profile.headers.X-A", "invalid_value" },
	{ WITH_OPENAI("'headers':{'X-A':1}"), "members[0].profile.headers.X-A", "wrong_type" },
	{ WITH_OPENAI("'max_tool_turns':0"), "members[0].profile.max_tool_turns", "out_of_range" },
	{ WITH_OPENAI("'idle_timeout_ms':500"), "members[0].profile.idle_timeout_ms", "out_of_range" },
	{ WITH_OPENAI("'words':3"), "members[0].profile.words", "unknown_key" },
	{ WITH_PROFILE("'provider':'mock','base_url':'http://h'"), "members[0].profile.base_url", "unknown_key" },
	/* tools */
	{ WITH(",'tools':{}"), "tools", "wrong_type" },
	{ WITH(",'tools':[{'name':'t'}]"), "tools[0].command", "missing_key" },
	{ WITH(",'tools':[{'name':'a b','command':['x']}]"), "tools[0].name", "invalid_name" },
	{ WITH(",'tools':[{'command':['x']}]"), "tools[0].name", "missing_key" },
	{ WITH(",'tools':[" TOOL_T "," TOOL_T "]"), "tools[1].name", "duplicate_id" },
	{ WITH(",'tools':[{'name':'t','command':['x'],'parameters':{'type':'string'}}]"),
	  "tools[0].parameters.type", "invalid_value" },
	{ WITH(",'tools':[{'name':'t','command':['x'],'parameters':3}]"), "tools[0].parameters", "wrong_type" },
	{ WITH(",'tools':[{'name':'t','command':['x'],'colour':1}]"), "tools[0].colour", "unknown_key" },
	{ WITH(",'tools':[{'name':'t','command':[]}]"), "tools[0].command", "too_few" },
	{ WITH(",'tool_timeout_ms':0"), "tool_timeout_ms", "out_of_range" },
	/* the router */
	{ WITH(",'router':'a'"), "router", "wrong_type" },
	{ WITH(",'router':{}"), "router.rules", "missing_key" },
	{ WITH(",'router':{'rules':[]}"), "router.rules", "too_few" },
	{ WITH(",'router':{'rules':[" RULE("'a'") "],'default':[]}"), "router.default", "too_few" },
	{ WITH(",'router':{'rules':[" RULE("'zed'") "]}"), "router.rules[0].members[0]", "unknown_member" },
	{ SPEC("'c'", MEMBER_A, IA, ",'router':{'rules':[" RULE("'ch'") "]}" CHAIR),
	  "router.rules[0].members[0]", "unknown_member" },
	{ WITH(",'router':{'rules':[" RULE("'a','a'") "]}"), "router.rules[0].members[1]", "invalid_value" },
	{ WITH(",'router':{'rules':[" RULE("'a'") "],'default':['zed']}"), "router.default[0]", "unknown_member" },
	{ WITH(",'router':{'rules':[{'when':{'field':'t'},'members':['a']}]}"),
	  "router.rules[0].when", "missing_key" },
	{ WITH(",'router':{'rules':[{'when':{'field':'t','equals':1,'in':[1]},'members':['a']}]}"),
	  "router.rules[0].when", "invalid_value" },
	{ WITH(",'router':{'rules':[{'when':{'field':'t','matches':'x'},'members':['a']}]}"),
	  "router.rules[0].when.matches", "unknown_key" },
	{ WITH(",'router':{'rules':[{'when':{'equals':1},'members':['a']}]}"),
	  "router.rules[0].when.field", "missing_key" },
	{ WITH(",'router':{'rules':[{'when':{'field':'t','equals':1}}]}"),
	  "router.rules[0].members", "missing_key" },
	{ WITH(",'router':{'rules':[" RULE("'a'") "],'member':'a'}"), "router.member", "invalid_value" },
	{ WITH(",'router':{'member':'zed'}"), "router.member", "unknown_member" },
	{ SPEC("'c'", MEMBER_A, IA, ",'router':{'member':'ch'}" CHAIR), "router.member", "unknown_member" },
	{ WITH(",'router':{'member':3}"), "router.member", "wrong_type" },
	{ WITH(",'router':{'member':'a','default':['a']}"), "router.default", "invalid_value" },
	{ WITH(",'router':{'member':'a','colour':1}"), "router.colour", "unknown_key" },
	/* run-level defaults of the members' retry and timeout_ms */
	{ WITH(",'retry':{'max':11}"), "retry.max", "out_of_range" },
	{ WITH(",'retry':{'tries':2}"), "retry.tries", "unknown_key" },
	{ WITH(",'retry':2"), "retry", "wrong_type" },
	{ WITH(",'timeout_ms':0"), "timeout_ms", "out_of_range" },
	{ WITH(",'timeout_ms':'1s'"), "timeout_ms", "wrong_type" },
	{ SPEC("'c'", MEMBER_A ",{'id':'p','council':" WITH(",'retry':{'base_ms':-1}") "}", IA, ""),
	  "members[1].council.retry.base_ms", "out_of_range" },
	{ WITH_OPENAI("'tools':['nope']"), "members[0].profile.tools[0]", "unknown_tool" },
	{ SPEC("'c'", OPENAI_MEMBER("'tools':['t','t']"), IA, ",'tools':[" TOOL_T "]"),
	  "members[0].profile.tools[1]", "invalid_value" },
	{ WITH_DEFAULTS("'tools':['nope']", MEMBER_A), "default_profile.tools[0]", "unknown_tool" },
	{ SPEC("'c'", MEMBER_A, IA, ",'tools':[" TOOL_T "],'chair':{'id':'ch','profile':"
	       "{'provider':'mock','tools':['t']}}"), "chair.profile.tools", "unknown_key" },
	/* rounds */
	{ WITH_ROUNDS("'peer_review'"), "rounds[0]", "wrong_type" },
	{ WITH_ROUNDS(IA ",{'type':'voet'}"), "rounds[1].type", "unknown_round" },
	{ WITH_ROUNDS("{'type':'vote'}"), "rounds[0].options", "missing_key" },
	{ WITH_ROUNDS("{'type':'ranking'}"), "rounds[0].options", "missing_key" },
	{ WITH_ROUNDS("{'type':'peer_review'}"), "rounds[0].type", "misplaced_round" },
	{ WITH_ROUNDS("{'type':'critique'}"), "rounds[0].type", "misplaced_round" },
	{ WITH_ROUNDS("{'type':'anonymized_peer_review'}"), "rounds[0].type", "misplaced_round" },
	{ SPEC("'c'", MEMBER_A, "{'type':'pairwise_elimination'}", CHAIR),
	  "rounds[0].type", "misplaced_round" },
	/* aggregators */
	{ WITH_ROUNDS("{'type':'vote','options':['a','b'],'aggregator':'borda'}"),
	  "rounds[0].aggregator", "invalid_value" },
	{ WITH_ROUNDS("{'type':'ranking','options':['a','b'],'aggregator':'plurality'}"),
	  "rounds[0].aggregator", "invalid_value" },
	{ WITH_ROUNDS(IA ",{'type':'anonymized_peer_review','aggregator':'mean'}"),
	  "rounds[1].aggregator", "invalid_value" },
	{ WITH_ROUNDS("{'type':'vote','options':['a','b'],'aggregator':1}"),
	  "rounds[0].aggregator", "wrong_type" },
	{ WITH_ROUNDS(IA ",{'type':'peer_review','aggregator':'borda'}"),
	  "rounds[1].aggregator", "unknown_key" },
	/* options */
	{ WITH_ROUNDS("{'type':'vote','options':['a']}"), "rounds[0].options", "too_few" },
	{ WITH_ROUNDS("{'type':'vote','options':'a,b'}"), "rounds[0].options", "wrong_type" },
	{ WITH_ROUNDS("{'type':'vote','options':['a','']}"), "rounds[0].options[1]", "invalid_value" },
	{ WITH_ROUNDS("{'type':'vote','options':['a',2]}"), "rounds[0].options[1]", "wrong_type" },
	{ WITH_ROUNDS("{'type':'ranking','options':['a','b','a']}"),
	  "rounds[0].options[2]", "invalid_value" },
	{ WITH_ROUNDS("{'type':'vote','options':['1','2','3','4','5','6','7','8','9','10','11',"
		      "'12','13','14','15','16','17','18','19','20','21','22','23','24','25','26',"
		      "'27','28','29','30','31','32','33']}"), "rounds[0].options", "too_many" },
	{ WITH_ROUNDS(IA ",{'type':'anonymized_peer_review','options':['a','b']}"),
	  "rounds[1].options", "unknown_key" },
	/* iterate */
	{ WITH_ROUNDS(IA ",{'type':'iterate'}"), "rounds[1].round", "missing_key" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':'critique'}"), "rounds[1].round", "wrong_type" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'critique'},'max_iterations':0}"),
	  "rounds[1].max_iterations", "out_of_range" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'critique'},'max_iterations':17}"),
	  "rounds[1].max_iterations", "out_of_range" },
	{ WITH_ROUNDS(IA ",{'type':'critique','max_iterations':2}"),
	  "rounds[1].max_iterations", "unknown_key" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'iterate','round':{'type':'critique'}}}"),
	  "rounds[1].round.type", "misplaced_round" },
	{ SPEC("'c'", MEMBER_A, IA ",{'type':'iterate','round':{'type':'synthesis'}}", CHAIR),
	  "rounds[1].round.type", "misplaced_round" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'critique','name':'x'}}"),
	  "rounds[1].round.name", "invalid_value" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'critique','failure_mode':'continue'}}"),
	  "rounds[1].round.failure_mode", "invalid_value" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'voet'}}"),
	  "rounds[1].round.type", "unknown_round" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'vote','aggregator':'borda'}}"),
	  "rounds[1].round.aggregator", "invalid_value" },
	{ WITH_ROUNDS("{'type':'iterate','round':{'type':'critique'}}"),
	  "rounds[0].round.type", "misplaced_round" },
	{ WITH_ROUNDS("{'type':'iterate','round':{'type':'vote'}}"),
	  "rounds[0].round.options", "missing_key" },
	/* pairwise_elimination */
	{ WITH_ROUNDS(IA ",{'type':'pairwise_elimination'}"), "rounds[1].judge", "missing_key" },
	{ WITH_ROUNDS(IA ",{'type':'pairwise_elimination','judge':'zed'}"),
	  "rounds[1].judge", "unknown_member" },
	{ WITH_ROUNDS(IA ",{'type':'pairwise_elimination','judge':'a b'}"),
	  "rounds[1].judge", "invalid_name" },
	{ WITH_ROUNDS(IA ",{'type':'iterate','round':{'type':'pairwise_elimination','judge':'zed'}}"),
	  "rounds[1].round.judge", "unknown_member" },
	{ WITH_ROUNDS(IA ",{'type':'vote','options':['a','b'],'judge':'a'}"),
	  "rounds[1].judge", "unknown_key" },
	{ WITH_ROUNDS("{'type':5}"), "rounds[0].type", "wrong_type" },
	{ WITH_ROUNDS("{'name':'first'}"), "rounds[0].type", "missing_key" },
	{ WITH_ROUNDS("{'type':'peer_review','name':'a b'}"), "rounds[0].name", "invalid_name" },
	{ WITH_ROUNDS("{'type':'peer_review','failure_mode':'explode'}"),
	  "rounds[0].failure_mode", "invalid_value" },
	{ WITH_ROUNDS("{'type':'peer_review','when':'now'}"), "rounds[0].when", "unknown_key" },
	{ WITH_ROUNDS("{'type':'synthesis'}"), "rounds[0].type", "chair_required" },
	{ SPEC("'c'", MEMBER_A, "{'type':'synthesis'}," IA, CHAIR), "rounds[0].type", "misplaced_round" },
};

#define N_BAD_SPECS ((int)(sizeof bad_specs / sizeof bad_specs[0]))

START_TEST(test_bad_spec_is_refused_with_its_path_and_code)
{
	const struct bad_spec *row = &bad_specs[_i];
	struct cx_diags diags = { 0 };
	char what[512];

	snprintf(what, sizeof what, "row %d %s", _i, row->spec);
	expect_refused(what, row->spec, row->path, row->code, &diags);
	cx_diags_free(&diags);
}
END_TEST

static int profile_int(const struct cx_member *m, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(m->profile, key);

	ck_assert_msg(cJSON_IsNumber(item), "%s: profile has no number %s", m->id, key);
	return item->valueint;
}

static const char *profile_string(const struct cx_member *m, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(m->profile, key);

	ck_assert_msg(cJSON_IsString(item), "%s: profile has no string %s", m->id, key);
	return item->valuestring;
}

static void expect_round(const struct cx_round *r, enum cx_round_type type,
			 const char *name, enum cx_failure_mode mode)
{
	ck_assert_int_eq(r->type, type);
	ck_assert_str_eq(r->name, name);
	ck_assert_int_eq(r->failure_mode, mode);
}

static const char full_spec[] =
	"{'id':'review','name':'Design review','description':'a test council',"
	" 'default_profile':{'provider':'mock','model':'m1','words':5,'chunk_delay_ms':10},"
	" 'members':["
	"  {'id':'optimist','role':'Optimist','system_prompt':'Be kind.',"
	"   'profile':{'words':7,'reply':'yes'},"
	"   'retry':{'max':3,'base_ms':50},'timeout_ms':5000,'stream':false,"
	"   'metadata':{'anything':[1,2]}},"
	"  {'id':'skeptic'}],"
	" 'rounds':[{'type':'independent_analysis'},"
	"  {'type':'peer_review','name':'review','failure_mode':'fail_fast'}],"
	" 'chair':{'id':'chair','system_prompt':'Sum up.','profile':{'latency_ms':3}},"
	" 'metadata':{'owner':'me'}}";

START_TEST(test_full_spec_parses_into_typed_values_with_defaults)
{
	struct cx_spec *spec = parse_ok(full_spec);
	const struct cx_member *m = spec->members;

	ck_assert_str_eq(spec->id, "review");
	ck_assert_ptr_eq(spec->id, cJSON_GetObjectItemCaseSensitive(spec->json, "id")->valuestring);
	ck_assert_str_eq(spec->name, "Design review");
	ck_assert_uint_eq(spec->n_members, 2);

	ck_assert_str_eq(m[0].id, "optimist");
	ck_assert_str_eq(m[0].role, "Optimist");
	ck_assert_str_eq(m[0].system_prompt, "Be kind.");
	ck_assert_int_eq(m[0].provider, CX_PROVIDER_MOCK);
	ck_assert_int_eq(m[0].retry.max_attempts, 3);
	ck_assert_int_eq(m[0].retry.base_ms, 50);
	ck_assert_int_eq(m[0].timeout_ms, 5000);
	ck_assert(!m[0].stream);

	ck_assert_str_eq(m[1].id, "skeptic");
	ck_assert_str_eq(m[1].role, "");
	ck_assert_str_eq(m[1].system_prompt, "");
	ck_assert_int_eq(m[1].provider, CX_PROVIDER_MOCK);
	ck_assert_int_eq(m[1].retry.max_attempts, 2);
	ck_assert_int_eq(m[1].retry.base_ms, 1000);
	ck_assert_int_eq(m[1].timeout_ms, 60000);
	ck_assert(m[1].stream);

	ck_assert_ptr_nonnull(spec->chair);
	ck_assert_str_eq(spec->chair->id, "chair");
	ck_assert_str_eq(spec->chair->system_prompt, "Sum up.");
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_member_profile_overrides_defaults_and_inherits_the_rest)
{
	struct cx_spec *spec = parse_ok(full_spec);
	const struct cx_member *m = spec->members;

	ck_assert_int_eq(profile_int(&m[0], "words"), 7);
	ck_assert_str_eq(profile_string(&m[0], "reply"), "yes");
	ck_assert_int_eq(profile_int(&m[0], "chunk_delay_ms"), 10);
	ck_assert_str_eq(profile_string(&m[0], "provider"), "mock");
	ck_assert_str_eq(profile_string(&m[0], "model"), "m1");
	ck_assert_int_eq(cJSON_GetArraySize(m[0].profile), 5);

	ck_assert_int_eq(profile_int(&m[1], "words"), 5);
	ck_assert_int_eq(cJSON_GetArraySize(m[1].profile), 4);

	ck_assert_int_eq(profile_int(spec->chair, "latency_ms"), 3);
	ck_assert_int_eq(profile_int(spec->chair, "words"), 5);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_exec_member_inherits_shared_keys_of_a_providerless_default)
{
	struct cx_spec *spec = parse_ok(WITH_DEFAULTS("'model':'shared'",
		"{'id':'tool','profile':{'provider':'exec','command':['cat','-u'],"
		"'env':{'LANG':'C'}}}"));
	const struct cx_member *m = &spec->members[0];

	ck_assert_int_eq(m->provider, CX_PROVIDER_EXEC);
	ck_assert_str_eq(profile_string(m, "model"), "shared");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m->profile, "command")), 2);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_chair_synthesizes_after_the_listed_rounds)
{
	struct cx_spec *spec = parse_ok(full_spec);

	ck_assert_uint_eq(spec->n_rounds, 3);
	expect_round(&spec->rounds[0], CX_ROUND_INDEPENDENT_ANALYSIS,
		     "independent_analysis", CX_FAILURE_CONTINUE);
	expect_round(&spec->rounds[1], CX_ROUND_PEER_REVIEW, "review",
		     CX_FAILURE_FAIL_FAST);
	expect_round(&spec->rounds[2], CX_ROUND_SYNTHESIS, "synthesis",
		     CX_FAILURE_FAIL_FAST);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_listed_synthesis_round_is_not_repeated)
{
	struct cx_spec *spec = parse_ok(SPEC("'c'", MEMBER_A,
		IA ",{'type':'synthesis','name':'final'}", CHAIR));

	ck_assert_uint_eq(spec->n_rounds, 2);
	expect_round(&spec->rounds[1], CX_ROUND_SYNTHESIS, "final",
		     CX_FAILURE_CONTINUE);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_council_without_chair_runs_only_its_rounds)
{
	struct cx_spec *spec = parse_ok(WITH_ROUNDS(IA ",{'type':'peer_review'}"));

	ck_assert_ptr_null(spec->chair);
	ck_assert_uint_eq(spec->n_rounds, 2);
	ck_assert_str_eq(spec->name, "");
	expect_round(&spec->rounds[1], CX_ROUND_PEER_REVIEW, "peer_review",
		     CX_FAILURE_CONTINUE);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_every_error_is_reported_at_once)
{
	struct cx_diags diags = { 0 };
	const char *spec = SPEC("'bad id'", "{'id':'a','profile':{'provider':'gpt'}}",
				IA ",{'type':'voet'}", "");

	expect_refused("three problems", spec, "id", "invalid_name", &diags);
	ck_assert_msg(find_diag(&diags, "members[0].profile.provider", "unknown_provider") &&
		      find_diag(&diags, "rounds[1].type", "unknown_round") &&
		      diags.n >= 3, "not every problem reported:%s", listed(&diags));
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_unknown_round_is_refused_with_its_path)
{
	struct cx_diags diags = { 0 };

	expect_refused("voet", WITH_ROUNDS(IA ",{'type':'voet'}"), "rounds[1].type",
		       "unknown_round", &diags);
	ck_assert_str_eq(find_diag(&diags, "rounds[1].type", "unknown_round")->message,
			 "\"voet\" is not a round type");
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_councilex_providers_are_not_in_this_build_yet)
{
	struct cx_diags diags = { 0 };

	expect_refused("gemini", SPEC("'c'", "{'id':'a','profile':{'provider':'gemini'}}", IA, ""),
		       "members[0].profile.provider", "unsupported_provider", &diags);
	ck_assert_ptr_nonnull(strstr(find_diag(&diags, "members[0].profile.provider",
					       "unsupported_provider")->message,
				     "not available in this build yet"));
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_key_of_another_round_type_is_one_finding)
{
	struct cx_diags diags = { 0 };

	expect_refused("aggregator", WITH_ROUNDS(IA ",{'type':'critique','aggregator':'borda'}"),
		       "rounds[1].aggregator", "unknown_key", &diags);
	ck_assert_msg(diags.n == 1, "more than one finding:%s", listed(&diags));
	ck_assert_str_eq(diags.v[0].message, "\"aggregator\" is not a key of a critique round");
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_invalid_json_names_the_byte_offset)
{
	struct cx_diags diags = { 0 };

	expect_refused("broken", "{'id': }", "$", "invalid_json", &diags);
	ck_assert_uint_eq(diags.n, 1);
	ck_assert_msg(strstr(diags.v[0].message, "byte 7"), "message: %s",
		      diags.v[0].message);
	cx_diags_free(&diags);
}
END_TEST

/* A valid spec padded with spaces to exactly size bytes. */
static char *padded_spec(size_t size)
{
	char *valid = unquote(WITH(""));
	char *text = malloc(size);

	ck_assert_ptr_nonnull(text);
	memset(text, ' ', size);
	memcpy(text, valid, strlen(valid));
	free(valid);
	return text;
}

START_TEST(test_spec_over_the_size_limit_is_too_large)
{
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;
	char *text = padded_spec(CX_SPEC_MAX_BYTES + 1);

	ck_assert_int_eq(cx_spec_parse(text, CX_SPEC_MAX_BYTES + 1, &spec, &diags),
			 CX_EINVALID);
	ck_assert_ptr_null(spec);
	ck_assert_msg(diags.n == 1 && find_diag(&diags, "$", "too_large"),
		      "found:%s", listed(&diags));
	ck_assert_int_eq(cx_spec_parse(text, CX_SPEC_MAX_BYTES, &spec, NULL), CX_OK);
	cx_spec_free(spec);
	free(text);
	cx_diags_free(&diags);
}
END_TEST

/* The limits every reader of JSON text shares (cx_json_parse). */

static void expect_message(const char *what, const char *text, size_t len, const char *message)
{
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;

	ck_assert_msg(cx_spec_parse(text, len, &spec, &diags) == CX_EINVALID && !spec,
		      "%s: accepted", what);
	ck_assert_msg(diags.n == 1 && find_diag(&diags, "$", "invalid_json") &&
		      strstr(diags.v[0].message, message),
		      "%s: no invalid_json saying \"%s\"; found:%s", what, message, listed(&diags));
	cx_diags_free(&diags);
}

START_TEST(test_a_valid_spec_then_a_nul_and_garbage_is_refused)
{
	char *valid = unquote(WITH(""));
	size_t n = strlen(valid);
	char *text = malloc(n + 8);

	memcpy(text, valid, n);
	memcpy(text + n, "\0garbage", 8);
	char at[64];
	snprintf(at, sizeof at, "a NUL byte at byte %zu", n);
	expect_message("NUL and garbage", text, n + 8, at);
	free(text);
	free(valid);
}
END_TEST

START_TEST(test_invalid_utf8_names_its_byte_offset)
{
	char *text = unquote(WITH(",'description':'ok \xc0\xaf'"));

	expect_message("overlong", text, strlen(text), "invalid UTF-8 at byte ");
	char *at = strstr(text, "\xc0"), offset[64];
	snprintf(offset, sizeof offset, "invalid UTF-8 at byte %td", at - text);
	expect_message("overlong", text, strlen(text), offset);
	free(text);
}
END_TEST

START_TEST(test_nesting_too_deep_is_reported_as_such)
{
	size_t depth = 10000, n = 0;
	char *text = malloc(2 * depth + 64);

	n += (size_t)sprintf(text, "{\"id\":\"c\",\"metadata\":");
	for (size_t i = 0; i < depth; i++)
		text[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		text[n++] = ']';
	text[n++] = '}';
	/* '{' is level 1: level 129 is the 128th '[', at byte 21 + 127. */
	expect_message("10000 levels", text, n, "nested deeper than 128 levels at byte 148");
	free(text);
}
END_TEST

START_TEST(test_an_input_with_a_nul_is_refused)
{
	struct cx_diags diags = { 0 };
	cJSON *input = NULL;

	ck_assert_int_eq(cx_input_parse("{\"q\":\"a\\u0000b\"}", &input, &diags), CX_EINVALID);
	ck_assert_ptr_null(input);
	ck_assert_msg(find_diag(&diags, "input", "invalid_json"), "found:%s", listed(&diags));
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_too_many_members_are_refused)
{
	char members[(CX_SPEC_MAX_MEMBERS + 1) * 64] = "";
	char text[sizeof members + 128];
	struct cx_diags diags = { 0 };

	for (int i = 0; i <= CX_SPEC_MAX_MEMBERS; i++) {
		char one[64];
		snprintf(one, sizeof one, "%s{'id':'m%d'," MOCK "}", i ? "," : "", i);
		strlcat(members, one, sizeof members);
	}
	snprintf(text, sizeof text, SPEC("'c'", "%s", IA, ""), members);
	expect_refused("65 members", text, "members", "too_many", &diags);
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_system_prompt_over_its_limit_is_too_large)
{
	char *prompt = malloc(CX_SPEC_MAX_PROMPT + 2);
	char *text = malloc(CX_SPEC_MAX_PROMPT + 256);
	struct cx_diags diags = { 0 };

	ck_assert(prompt && text);
	memset(prompt, 'x', CX_SPEC_MAX_PROMPT + 1);
	prompt[CX_SPEC_MAX_PROMPT + 1] = '\0';
	snprintf(text, CX_SPEC_MAX_PROMPT + 256,
		 WITH_MEMBER("{'id':'a'," MOCK ",'system_prompt':'%s'}"), prompt);
	expect_refused("long prompt", text, "members[0].system_prompt", "too_large", &diags);

	prompt[CX_SPEC_MAX_PROMPT] = '\0';
	snprintf(text, CX_SPEC_MAX_PROMPT + 256,
		 WITH_MEMBER("{'id':'a'," MOCK ",'system_prompt':'%s'}"), prompt);
	cx_spec_free(parse_ok(text));
	free(prompt);
	free(text);
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_findings_are_counted_without_a_diags_list)
{
	struct cx_spec *spec = NULL;
	char *text = unquote(WITH_ROUNDS("{'type':'voet'}"));

	ck_assert_int_eq(cx_spec_parse(text, strlen(text), &spec, NULL), CX_EINVALID);
	ck_assert_ptr_null(spec);
	ck_assert_int_eq(cx_spec_parse(text, strlen(text), NULL, NULL), CX_EUSAGE);
	free(text);
}
END_TEST

START_TEST(test_free_accepts_null)
{
	cx_spec_free(NULL);
}
END_TEST

START_TEST(test_round_types_and_providers_have_their_spec_names)
{
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_INDEPENDENT_ANALYSIS),
			 "independent_analysis");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_PEER_REVIEW), "peer_review");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_SYNTHESIS), "synthesis");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_ANONYMIZED_PEER_REVIEW),
			 "anonymized_peer_review");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_CRITIQUE), "critique");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_VOTE), "vote");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_RANKING), "ranking");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_ITERATE), "iterate");
	ck_assert_str_eq(cx_round_type_name(CX_ROUND_PAIRWISE_ELIMINATION), "pairwise_elimination");
	ck_assert_str_eq(cx_provider_name(CX_PROVIDER_MOCK), "mock");
	ck_assert_str_eq(cx_provider_name(CX_PROVIDER_EXEC), "exec");
}
END_TEST

START_TEST(test_round_keys_parse_into_typed_values_with_defaults)
{
	struct cx_spec *spec = parse_ok(SPEC("'c'", MEMBER_A ",{'id':'b'," MOCK "}",
		IA ","
		"{'type':'vote','options':['ship','wait'],'aggregator':'confidence_weighted'},"
		"{'type':'ranking'},"
		"{'type':'anonymized_peer_review','aggregator':'condorcet'},"
		"{'type':'iterate','name':'debate','failure_mode':'fail_fast','max_iterations':5,"
		" 'round':{'type':'vote'}},"
		"{'type':'pairwise_elimination','judge':'b'},"
		"{'type':'iterate','round':{'type':'pairwise_elimination'}}", CHAIR));
	const struct cx_round *r = spec->rounds;

	ck_assert_uint_eq(spec->n_rounds, 8);
	ck_assert_int_eq(r[0].aggregator, CX_AGGREGATOR_NONE);
	ck_assert_int_eq(r[1].type, CX_ROUND_VOTE);
	ck_assert_int_eq(r[1].aggregator, CX_AGGREGATOR_CONFIDENCE_WEIGHTED);
	ck_assert_int_eq(cJSON_GetArraySize(r[1].options), 2);
	ck_assert_int_eq(r[2].aggregator, CX_AGGREGATOR_BORDA);
	ck_assert_ptr_null(r[2].options);
	ck_assert_int_eq(r[3].aggregator, CX_AGGREGATOR_CONDORCET);
	expect_round(&r[4], CX_ROUND_ITERATE, "debate", CX_FAILURE_FAIL_FAST);
	ck_assert_int_eq(r[4].max_iterations, 5);
	ck_assert_ptr_nonnull(r[4].inner);
	expect_round(r[4].inner, CX_ROUND_VOTE, "debate", CX_FAILURE_FAIL_FAST);
	ck_assert_int_eq(r[4].inner->aggregator, CX_AGGREGATOR_PLURALITY);
	ck_assert_ptr_eq(r[5].judge, &spec->members[1]);
	ck_assert_int_eq(r[6].max_iterations, 3);
	ck_assert_ptr_eq(r[6].inner->judge, spec->chair);
	ck_assert_int_eq(r[7].type, CX_ROUND_SYNTHESIS);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_sub_council_member_holds_its_parsed_council)
{
	struct cx_spec *spec = parse_ok(SPEC("'outer'",
		MEMBER_A ",{'id':'panel','timeout_ms':9000,'council':"
		"{'id':'inner','default_profile':{'provider':'mock'},"
		" 'members':[{'id':'x'},{'id':'a','output_schema_inline':{'type':'object'}}],"
		" 'rounds':[" IA "],'chair':{'id':'sum'}}}", IA, ""));
	const struct cx_member *panel = &spec->members[1];

	ck_assert_ptr_null(spec->members[0].council);
	ck_assert_ptr_nonnull(panel->council);
	ck_assert_ptr_null(panel->profile);
	ck_assert_int_eq(panel->timeout_ms, 9000);
	ck_assert_str_eq(panel->council->id, "inner");
	ck_assert_uint_eq(panel->council->n_members, 2);
	ck_assert_uint_eq(panel->council->n_rounds, 2);
	ck_assert_str_eq(panel->council->chair->id, "sum");
	ck_assert_ptr_null(panel->council->members[0].output_schema);
	ck_assert_ptr_nonnull(panel->council->members[1].output_schema);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_http_members_get_their_provider_and_the_tools_they_name)
{
	struct cx_spec *spec = parse_ok(
		"{'id':'c','default_profile':{'provider':'openai','model':'m','tools':['search']},"
		" 'tools':[{'name':'search','description':'Finds things.','command':['grep','-r'],"
		"           'parameters':{'type':'object','properties':{'q':{'type':'string'}}}},"
		"          {'name':'clock','command':['date']}],"
		" 'tool_timeout_ms':5000,"
		" 'members':[{'id':'a'},"
		"  {'id':'b','profile':{'provider':'anthropic','tools':['clock','search'],'temperature':1}}],"
		" 'rounds':[{'type':'independent_analysis'}],"
		" 'chair':{'id':'ch','profile':{'preset':'ollama','tools':[]}}}");
	const struct cx_member *m = spec->members;

	ck_assert_uint_eq(spec->n_tools, 2);
	ck_assert_str_eq(spec->tools[0].name, "search");
	ck_assert_str_eq(spec->tools[0].description, "Finds things.");
	ck_assert_int_eq(cJSON_GetArraySize(spec->tools[0].command), 2);
	ck_assert_ptr_nonnull(spec->tools[0].parameters);
	ck_assert_str_eq(spec->tools[1].description, "");
	ck_assert_ptr_null(spec->tools[1].parameters);
	ck_assert_int_eq(spec->tools[1].timeout_ms, 5000);

	ck_assert_int_eq(m[0].provider, CX_PROVIDER_OPENAI);
	ck_assert_uint_eq(m[0].n_tools, 1);
	ck_assert_ptr_eq(m[0].tools[0], &spec->tools[0]);
	ck_assert_int_eq(m[1].provider, CX_PROVIDER_ANTHROPIC);
	ck_assert_uint_eq(m[1].n_tools, 2);
	ck_assert_ptr_eq(m[1].tools[0], &spec->tools[1]);
	ck_assert_ptr_eq(m[1].tools[1], &spec->tools[0]);
	ck_assert_int_eq(spec->chair->provider, CX_PROVIDER_OPENAI);
	ck_assert_uint_eq(spec->chair->n_tools, 0);
	ck_assert_str_eq(cx_provider_name(CX_PROVIDER_ANTHROPIC), "anthropic");
	cx_spec_free(spec);
}
END_TEST

/* CouncilEx resolves a member's retry as: its own, the run's, then the
 * built-in default; the spec's top level sits under the run's. */
START_TEST(test_top_level_retry_and_timeout_are_defaults_under_each_members_own)
{
	struct cx_spec *spec = parse_ok(SPEC("'c'",
		MEMBER_A ",{'id':'b'," MOCK ",'retry':{'base_ms':5},'timeout_ms':7}",
		IA, ",'retry':{'max':4},'timeout_ms':900" CHAIR));
	const struct cx_member *m = spec->members;

	ck_assert_int_eq(m[0].retry.max_attempts, 4);
	ck_assert_int_eq(m[0].retry.base_ms, 1000);
	ck_assert_int_eq(m[0].timeout_ms, 900);
	ck_assert_int_eq(m[1].retry.max_attempts, 4);   /* key by key */
	ck_assert_int_eq(m[1].retry.base_ms, 5);
	ck_assert_int_eq(m[1].timeout_ms, 7);
	ck_assert_int_eq(spec->chair->retry.max_attempts, 4);
	ck_assert_int_eq(spec->chair->timeout_ms, 900);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_sub_council_inherits_the_defaults_of_the_council_it_is_in)
{
	struct cx_spec *spec = parse_ok(SPEC("'outer'",
		MEMBER_A ",{'id':'p','council':{'id':'in','members':[" MEMBER_A
		",{'id':'b'," MOCK ",'retry':{'max':1}}],'rounds':[" IA "],'timeout_ms':50}}",
		IA, ",'retry':{'max':5,'base_ms':10},'timeout_ms':800"));
	const struct cx_spec *in = spec->members[1].council;

	ck_assert_int_eq(spec->members[1].timeout_ms, 800);
	ck_assert_int_eq(in->members[0].retry.max_attempts, 5);
	ck_assert_int_eq(in->members[0].retry.base_ms, 10);
	ck_assert_int_eq(in->members[0].timeout_ms, 50);
	ck_assert_int_eq(in->members[1].retry.max_attempts, 1);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_run_retry_lies_over_the_spec_defaults_under_the_members_own)
{
	char *text = unquote(SPEC("'c'", MEMBER_A ",{'id':'b'," MOCK ",'retry':{'max':1}}"
		",{'id':'p','council':{'id':'in','members':[" MEMBER_A "],'rounds':[" IA "]}}",
		IA, ",'retry':{'max':4,'base_ms':10}"));
	struct cx_start_opts opts;
	struct cx_spec *spec = NULL;
	struct cx_diags diags = { 0 };

	ck_assert_int_eq(cx_start_opts_parse("{\"retry\":{\"max\":7},\"verbose\":\"debug\"}",
					     &opts, &diags), CX_OK);
	ck_assert_int_eq(opts.verbose, CX_VERBOSE_DEBUG);
	ck_assert_int_eq(cx_spec_parse_run(text, strlen(text), &opts, &spec, &diags), CX_OK);
	ck_assert_int_eq(spec->members[0].retry.max_attempts, 7);
	ck_assert_int_eq(spec->members[0].retry.base_ms, 10);
	ck_assert_int_eq(spec->members[1].retry.max_attempts, 1);
	ck_assert_int_eq(spec->members[2].council->members[0].retry.max_attempts, 7);
	cx_spec_free(spec);
	free(text);
	cx_diags_free(&diags);
}
END_TEST

static const struct bad_options {
	const char *text, *path, *code;
} bad_options[] = {
	{ "[]", "options", "wrong_type" },
	{ "{", "options", "invalid_json" },
	{ "{\"retry\":{\"max\":0}}", "options.retry.max", "out_of_range" },
	{ "{\"verbose\":\"loud\"}", "options.verbose", "invalid_value" },
	{ "{\"verbose\":true}", "options.verbose", "wrong_type" },
	{ "{\"timeout\":1}", "options.timeout", "unknown_key" },
};

START_TEST(test_bad_run_options_are_refused_with_their_path_and_code)
{
	const struct bad_options *row = &bad_options[_i];
	struct cx_start_opts opts;
	struct cx_diags diags = { 0 };

	ck_assert_int_eq(cx_start_opts_parse(row->text, &opts, &diags), CX_EINVALID);
	ck_assert_msg(find_diag(&diags, row->path, row->code), "%s: no %s at %s; found:%s",
		      row->text, row->code, row->path, listed(&diags));
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_router_is_kept_for_the_run)
{
	struct cx_spec *spec = parse_ok(WITH(",'router':{'rules':[" RULE("'a'") "]}"));

	ck_assert_ptr_nonnull(spec->router);
	ck_assert_ptr_eq(spec->router, cJSON_GetObjectItemCaseSensitive(spec->json, "router"));
	ck_assert_uint_eq(spec->n_rounds, 1);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_router_member_answers_in_a_round_put_first)
{
	struct cx_spec *spec = parse_ok(SPEC("'c'", MEMBER_A ",{'id':'b'," MOCK "}", IA,
					     ",'router':{'member':'b'}" CHAIR));

	ck_assert_uint_eq(spec->n_rounds, 3);
	expect_round(&spec->rounds[0], CX_ROUND_ROUTE, "router", CX_FAILURE_FAIL_FAST);
	ck_assert_ptr_eq(spec->rounds[0].judge, &spec->members[1]);
	ck_assert_int_eq(spec->rounds[1].type, CX_ROUND_INDEPENDENT_ANALYSIS);
	ck_assert_int_eq(spec->rounds[2].type, CX_ROUND_SYNTHESIS);
	cx_spec_free(spec);
}
END_TEST

START_TEST(test_tool_timeout_defaults_to_30_seconds)
{
	struct cx_spec *spec = parse_ok(WITH(",'tools':[" TOOL_T "]"));

	ck_assert_int_eq(spec->tools[0].timeout_ms, 30000);
	ck_assert_uint_eq(spec->members[0].n_tools, 0);
	cx_spec_free(spec);
}
END_TEST

static const char *const examples[] = { "review.json", "exec.json", "ollama.json" };

START_TEST(test_example_councils_are_valid)
{
	char relative[256];
	snprintf(relative, sizeof relative, "examples/councils/%s", examples[_i]);
	const char *path = th_source_path(relative);
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;
	size_t len;
	char *text = th_read_file(path, &len);

	if (!text) {
		fprintf(stderr, "SKIP test_example_councils_are_valid: %s is absent\n", path);
		return;
	}
	int rc = cx_spec_parse(text, len, &spec, &diags);
	ck_assert_msg(rc == CX_OK, "%s refused:%s", path, listed(&diags));
	ck_assert_uint_ge(spec->n_members, 1);
	cx_spec_free(spec);
	cx_diags_free(&diags);
	free(text);
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *refused = tcase_create("refused");
	TCase *parsed = tcase_create("parsed");

	tcase_add_loop_test(refused, test_bad_spec_is_refused_with_its_path_and_code,
			    0, N_BAD_SPECS);
	tcase_add_test(refused, test_every_error_is_reported_at_once);
	tcase_add_test(refused, test_unknown_round_is_refused_with_its_path);
	tcase_add_test(refused, test_councilex_providers_are_not_in_this_build_yet);
	tcase_add_test(refused, test_key_of_another_round_type_is_one_finding);
	tcase_add_test(refused, test_invalid_json_names_the_byte_offset);
	tcase_add_test(refused, test_spec_over_the_size_limit_is_too_large);
	tcase_add_test(refused, test_a_valid_spec_then_a_nul_and_garbage_is_refused);
	tcase_add_test(refused, test_invalid_utf8_names_its_byte_offset);
	tcase_add_test(refused, test_nesting_too_deep_is_reported_as_such);
	tcase_add_test(refused, test_an_input_with_a_nul_is_refused);
	tcase_add_test(refused, test_too_many_members_are_refused);
	tcase_add_test(refused, test_system_prompt_over_its_limit_is_too_large);
	tcase_add_test(refused, test_findings_are_counted_without_a_diags_list);
	tcase_add_loop_test(refused, test_bad_run_options_are_refused_with_their_path_and_code,
			    0, (int)(sizeof bad_options / sizeof bad_options[0]));
	suite_add_tcase(s, refused);

	tcase_add_test(parsed, test_full_spec_parses_into_typed_values_with_defaults);
	tcase_add_test(parsed, test_member_profile_overrides_defaults_and_inherits_the_rest);
	tcase_add_test(parsed, test_exec_member_inherits_shared_keys_of_a_providerless_default);
	tcase_add_test(parsed, test_chair_synthesizes_after_the_listed_rounds);
	tcase_add_test(parsed, test_listed_synthesis_round_is_not_repeated);
	tcase_add_test(parsed, test_council_without_chair_runs_only_its_rounds);
	tcase_add_test(parsed, test_round_keys_parse_into_typed_values_with_defaults);
	tcase_add_test(parsed, test_sub_council_member_holds_its_parsed_council);
	tcase_add_test(parsed, test_free_accepts_null);
	tcase_add_test(parsed, test_round_types_and_providers_have_their_spec_names);
	tcase_add_test(parsed, test_http_members_get_their_provider_and_the_tools_they_name);
	tcase_add_test(parsed, test_tool_timeout_defaults_to_30_seconds);
	tcase_add_test(parsed, test_router_is_kept_for_the_run);
	tcase_add_test(parsed, test_router_member_answers_in_a_round_put_first);
	tcase_add_test(parsed, test_top_level_retry_and_timeout_are_defaults_under_each_members_own);
	tcase_add_test(parsed, test_sub_council_inherits_the_defaults_of_the_council_it_is_in);
	tcase_add_test(parsed, test_run_retry_lies_over_the_spec_defaults_under_the_members_own);
	tcase_add_loop_test(parsed, test_example_councils_are_valid, 0,
			    (int)(sizeof examples / sizeof examples[0]));
	suite_add_tcase(s, parsed);
	return s;
}

int main(void)
{
	return th_run_suite(spec_suite());
}
