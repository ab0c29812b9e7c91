/* councild's side of the control protocol (docs/protocol.md): bytes a
 * client writes, framed into lines by the wire as councild reads its
 * sockets (a real socket pair, the bytes arriving in pieces), each line
 * decoded into a request and its op's arguments checked. Every line gets
 * one answer: a decoded op, or an error reply naming its code; a line over
 * the limit makes the stream unusable, as it closes the connection. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "proc.h"
#include "request.h"
#include "wire.h"

/* What a reply must be: the request's id (or null), ok false, and an
 * error with a code word and a message. */
static void check_error_reply(const cJSON *reply)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(reply, "id");
	FUZZ_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(reply, "ok")));
	FUZZ_ASSERT(cJSON_IsNumber(id) || cJSON_IsString(id) || cJSON_IsNull(id));
	FUZZ_ASSERT(*cx_req_string(error, "code") && *cx_req_string(error, "message"));
	char *line = cJSON_PrintUnformatted(reply); /* what goes back on the wire */
	FUZZ_ASSERT(line && !strchr(line, '\n'));
	free(line);
}

/* Every field read the ways the op handlers read theirs: as a string, a
 * flag, a number in a range, a signal. */
static void read_fields(const cJSON *req)
{
	const cJSON *field;
	cJSON_ArrayForEach(field, req) {
		/* A key given twice reads as its first. */
		const cJSON *read = cJSON_GetObjectItemCaseSensitive(req, field->string);
		int64_t n;
		const char *s = cx_req_string(req, field->string);
		cx_req_bool(req, field->string);
		if (cx_req_int(req, field->string, 1, INT32_MAX, 0, &n))
			FUZZ_ASSERT(n >= 0 && n <= INT32_MAX);
		if (cx_req_int(req, field->string, INT64_MIN, INT64_MAX, 0, &n) && !cJSON_IsNull(read))
			FUZZ_ASSERT(cJSON_IsNumber(read) && (double)n == read->valuedouble);
		if (s)
			FUZZ_ASSERT(cx_signal_number(s) >= -1);
	}
}

/* The lines the wire has whole: false once the stream is unusable. */
static bool take_lines(struct cx_wire *w)
{
	cJSON *req;
	for (;;) {
		char why[128] = "";
		int r = cx_wire_next(w, &req, why, sizeof why);
		if (r == 0)
			return true;
		if (r == -2)
			return false;
		FUZZ_ASSERT(*why || r == 1);
		if (r < 0)
			continue;
		FUZZ_ASSERT(cJSON_IsObject(req));
		cJSON *reply;
		int op = cx_request_decode(req, CX_FROM_CLIENT, &reply);
		FUZZ_ASSERT((op >= 0 && op < CX_OP_N && !reply) || (op == -1 && reply));
		if (reply)
			check_error_reply(reply);
		else
			read_fields(req);
		cJSON_Delete(reply);
		cJSON_Delete(req);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	struct cx_wire w;
	cx_wire_init(&w, sv[0]);
	bool usable = true;
	size_t off = 0;
	while (usable && off < size) {
		ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
		FUZZ_ASSERT(n > 0 || errno == EAGAIN);
		off += n > 0 ? (size_t)n : 0;
		while (cx_wire_fill(&w) > 0)
			;
		usable = take_lines(&w);
	}
	close(sv[1]);
	while (usable && cx_wire_fill(&w) > 0)
		usable = take_lines(&w);
	cx_wire_close(&w);
	return 0;
}
