/* The client of councild (docs/protocol.md): one connection, synchronous
 * calls matched to their replies by id, and a queue for the messages
 * (DOWN, EXIT) that arrive while a call waits. */
#include "council/client.h"
#include "council/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "autostart.h"
#include "json.h"
#include "proc.h"
#include "rundir.h"
#include "shape.h"
#include "wire.h"

#define NO_DEADLINE UINT64_MAX
#define AUTOSTART_GRACE_MS 1000  /* councild failed to start: how long another may take */

struct cx_client {
	struct cx_wire wire;
	int64_t last_id;            /* of the last request sent */
	bool greeting;              /* hello is in flight */
	cJSON *messages;            /* DOWN/EXIT not yet taken, oldest first (an array) */
	int call_timeout_ms;
	pid_t server_pid;
	char runtime_dir[PATH_MAX];
};

/* Deadlines are monotonic milliseconds; NO_DEADLINE waits forever. */

static uint64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? NO_DEADLINE : cx_mono_ms() + (uint64_t)timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 when past. */
static int remaining_ms(uint64_t deadline)
{
	if (deadline == NO_DEADLINE)
		return -1;
	uint64_t now = cx_mono_ms();
	return now >= deadline ? 0 : (int)(deadline - now < INT_MAX ? deadline - now : INT_MAX);
}

/* Waits for events on the socket until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_socket(struct cx_client *cl, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = cl->wire.fd, .events = events };
	int r = poll(&p, 1, remaining_ms(deadline));
	if (r < 0)
		return errno == EINTR ? 1 : -errno;
	return r;
}

/* Reads what the server sent, waiting for it until the deadline. */
static int fill(struct cx_client *cl, uint64_t deadline, struct cx_error *err)
{
	for (;;) {
		ssize_t n = cx_wire_fill(&cl->wire);
		if (n > 0)
			return CX_OK;
		if (n == 0)
			return cx_fail(err, CX_EUNAVAILABLE, "councild closed the connection");
		if (n != -EAGAIN)
			return cx_fail(err, CX_EUNAVAILABLE, "reading from councild: %s",
				       strerror((int)-n));
		int r = wait_socket(cl, POLLIN, deadline);
		if (r < 0)
			return cx_fail(err, CX_ESYS, "poll: %s", strerror(-r));
		if (r == 0)
			return CX_ETIMEOUT;  /* the caller says what it waited for */
	}
}

/* The number of descriptors a line announces ("fds":N). */
static size_t line_fds(const cJSON *line)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(line, "fds");
	if (!cJSON_IsNumber(n) || n->valuedouble < 1)
		return 0;
	return n->valuedouble > CX_WIRE_FDS_MAX ? CX_WIRE_FDS_MAX : (size_t)n->valuedouble;
}

/* Takes the descriptors line carries: the first into *keep (when keep is
 * not NULL), the others closed. Descriptors come in line order, so every
 * line must take its own, wanted or not. */
static void take_fds(struct cx_client *cl, const cJSON *line, int *keep)
{
	for (size_t i = line_fds(line); i > 0; i--) {
		int fd = cx_wire_take_fd(&cl->wire);
		if (keep && *keep < 0)
			*keep = fd;
		else if (fd >= 0)
			close(fd);
	}
}

/* Files every whole line received: a message (no "id") joins the queue, the
 * reply with id `want` goes to *reply with its descriptor in *fd, and any
 * other reply is stale (its call gave up waiting) and dropped. */
static int file_lines(struct cx_client *cl, int64_t want, cJSON **reply, int *fd,
		      struct cx_error *err)
{
	char why[128];
	cJSON *line;
	int r;
	/* Nothing read yet is no line: cx_wire_next would memchr a NULL buffer. */
	while (cx_buf_unread(&cl->wire.in) &&
	       (r = cx_wire_next(&cl->wire, &line, why, sizeof why)) != 0) {
		if (r == -2)
			return cx_fail(err, CX_EUNAVAILABLE, "councild sent a %s", why);
		if (r < 0)
			continue;  /* not an object: nothing to file it under */
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(line, "id");
		/* During hello, an error with a null id is councild turning the
		 * connection away at the door: it answers the hello. */
		bool ours = (cl->greeting && cJSON_IsNull(id)) ||
			    (cJSON_IsNumber(id) && id->valuedouble == (double)want);
		if (!id) {
			cJSON_AddItemToArray(cl->messages, line);
		} else if (want > 0 && !*reply && ours) {
			take_fds(cl, line, fd);
			*reply = line;
		} else {
			take_fds(cl, line, NULL);
			cJSON_Delete(line);
		}
	}
	return CX_OK;
}

/* Reads until the reply with id `want` is in *reply or, with want 0, until
 * a message is queued; both before the deadline. */
static int await(struct cx_client *cl, int64_t want, uint64_t deadline, cJSON **reply, int *fd,
		 struct cx_error *err)
{
	for (;;) {
		int r = file_lines(cl, want, reply, fd, err);
		if (r < 0)
			return r;
		if (want ? *reply != NULL : cJSON_GetArraySize(cl->messages) > 0)
			return CX_OK;
		r = fill(cl, deadline, err);
		if (r < 0)
			return r;
	}
}

/* Queues the request and writes it all, reading meanwhile so that a server
 * blocked on writing to us is never waited on. */
static int send_request(struct cx_client *cl, const cJSON *request, uint64_t deadline,
			struct cx_error *err)
{
	int r = cx_wire_send(&cl->wire, request, NULL, 0);
	while (r == 1) {
		r = wait_socket(cl, POLLOUT | POLLIN, deadline);
		if (r == 0)
			return CX_ETIMEOUT;
		if (r > 0) {
			ssize_t n = cx_wire_fill(&cl->wire);
			if (n == 0)
				r = -ECONNRESET;
			else if (n < 0 && n != -EAGAIN)
				r = (int)n;
			else
				r = cx_wire_flush(&cl->wire);
		}
	}
	if (r == -EMSGSIZE)
		return cx_fail(err, CX_EUSAGE, "too_large: the request is over %d bytes",
			       CX_WIRE_LINE_MAX);
	if (r < 0)
		return cx_fail(err, r == -ENOMEM ? CX_ENOMEM : CX_EUNAVAILABLE,
			       "writing to councild: %s", strerror(-r));
	return CX_OK;
}

/* The error words of docs/protocol.md that are not cx_code_word() of a code. */
static const struct {
	const char *word;
	int code;
} error_aliases[] = {
	{ "bad_request", CX_EUSAGE },
	{ "unknown_op", CX_EUSAGE },
	{ "unknown_tenant", CX_ENOT_FOUND },
	{ "too_large", CX_EUSAGE },
};

static int code_of_word(const char *word)
{
	for (int code = CX_EINVALID; code >= CX_ETENANT_STOPPED; code--)
		if (!strcmp(word, cx_code_word(code)))
			return code;
	for (size_t i = 0; i < sizeof error_aliases / sizeof *error_aliases; i++)
		if (!strcmp(word, error_aliases[i].word))
			return error_aliases[i].code;
	return CX_ESYS;
}

/* CX_OK for an ok:true reply, else its error as a code and message. */
static int reply_code(const cJSON *reply, const char *op, struct cx_error *err)
{
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")))
		return CX_OK;
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
	const char *word = cx_json_str(error, "code"), *message = cx_json_str(error, "message");
	int code = code_of_word(word);
	if (*message)
		return cx_fail(err, code, "%s", message);
	return cx_fail(err, code, "%s: %s", op, *word ? word : "failed without an error");
}

int cx_client_call(struct cx_client *cl, cJSON *request, cJSON **reply, int *fd,
		   int timeout_ms, struct cx_error *err)
{
	cJSON *got = NULL;
	int got_fd = -1;
	if (reply)
		*reply = NULL;
	if (fd)
		*fd = -1;
	if (!request)
		return cx_fail(err, CX_ENOMEM, "building a request");
	char op[32];
	strlcpy(op, cx_json_str(request, "op"), sizeof op);
	int64_t id = ++cl->last_id;
	cJSON_DeleteItemFromObjectCaseSensitive(request, "id");
	if (!cJSON_AddNumberToObject(request, "id", (double)id)) {
		cJSON_Delete(request);
		return cx_fail(err, CX_ENOMEM, "building %s", op);
	}
	uint64_t deadline = deadline_after(timeout_ms);
	int r = send_request(cl, request, deadline, err);
	cJSON_Delete(request);
	if (r == CX_OK)
		r = await(cl, id, deadline, &got, fd ? &got_fd : NULL, err);
	if (r == CX_ETIMEOUT && !got)
		return cx_fail(err, CX_ETIMEOUT, "councild did not answer %s within %d ms", op,
			       timeout_ms);
	if (r < 0)
		return r;
	/* The lines that came with the reply: their messages wait in the
	 * queue, so the socket not being readable means nothing is missed. */
	r = file_lines(cl, 0, NULL, NULL, err);
	if (r == CX_OK)
		r = reply_code(got, op, err);
	if (fd)
		*fd = got_fd;
	if (reply)
		*reply = got;
	else
		cJSON_Delete(got);
	return r;
}

int cx_client_next_message(struct cx_client *cl, int timeout_ms, cJSON **msg,
			   struct cx_error *err)
{
	*msg = NULL;
	int r = await(cl, 0, deadline_after(timeout_ms), NULL, NULL, err);
	if (r == CX_ETIMEOUT)
		return cx_fail(err, CX_ETIMEOUT, "no message within %d ms", timeout_ms);
	if (r < 0)
		return r;
	*msg = cJSON_DetachItemFromArray(cl->messages, 0);
	return CX_OK;
}

/* Connecting */

/* A connected, non-blocking socket at dir/councild.sock, or -errno. */
static int connect_socket(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, CX_SOCKET_NAME) >=
	    sizeof sa.sun_path)
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		r = -1;
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Nobody answers there (as opposed to: something is wrong with the path). */
static bool nobody_listens(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED;
}

static int connect_error(const char *dir, int r, struct cx_error *err)
{
	if (nobody_listens(r))
		return cx_fail(err, CX_EUNAVAILABLE, "no councild answers on %s/%s", dir, CX_SOCKET_NAME);
	return cx_fail(err, r == -EACCES || r == -EPERM ? CX_EPERM : CX_EUNAVAILABLE,
		       "connecting to %s/%s: %s", dir, CX_SOCKET_NAME, strerror(-r));
}

/* Who answers on the socket, before anything is sent: root, ourselves, or
 * the owner of the runtime directory (whom we trust by using it: ours, for
 * the default, cx_runtime_dir_ready). Another user who took the socket's
 * name would otherwise read our requests and answer them. */
static int trusted_peer(struct cx_client *cl, struct cx_error *err)
{
	struct ucred peer;
	socklen_t len = sizeof peer;
	struct stat dir;
	if (getsockopt(cl->wire.fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		return cx_fail(err, CX_EUNAVAILABLE, "%s/%s: who answers: %s", cl->runtime_dir,
			       CX_SOCKET_NAME, strerror(errno));
	if (peer.uid == 0 || peer.uid == geteuid() ||
	    (stat(cl->runtime_dir, &dir) == 0 && peer.uid == dir.st_uid))
		return CX_OK;
	return cx_fail(err, CX_EPERM, "%s/%s is answered by uid %u, neither root nor you (uid %u) "
		       "nor the directory's owner: not talking to it", cl->runtime_dir, CX_SOCKET_NAME,
		       (unsigned)peer.uid, (unsigned)geteuid());
}

/* Starts councild, then connects with backoff until it answers. */
static int autostart(struct cx_client *cl, const struct cx_client_options *opts,
		     struct cx_error *err)
{
	char why[256] = "";
	uint64_t deadline = deadline_after(CX_CLIENT_AUTOSTART_MS);
	/* Another client may be starting one too: councild's pidfile lets one
	 * win, and the connect loop below finds the winner either way. */
	int started = cx_councild_start(opts ? opts->councild_path : NULL, cl->runtime_dir,
				       deadline, why, sizeof why);
	if (started < 0 && remaining_ms(deadline) > AUTOSTART_GRACE_MS)
		deadline = deadline_after(AUTOSTART_GRACE_MS);  /* the winner is binding, if any */
	int fd = -ENOENT;
	for (unsigned backoff_ms = 5; ; backoff_ms = backoff_ms < 200 ? backoff_ms * 2 : 200) {
		fd = connect_socket(cl->runtime_dir);
		if (fd >= 0 || !nobody_listens(fd) || remaining_ms(deadline) == 0)
			break;
		struct timespec ts = { 0, (long)backoff_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (fd >= 0) {
		cx_wire_init(&cl->wire, fd);
		return CX_OK;
	}
	if (!nobody_listens(fd))
		return connect_error(cl->runtime_dir, fd, err);
	if (started < 0)
		return cx_fail(err, CX_EUNAVAILABLE, "councild did not start: %s", why);
	return cx_fail(err, CX_EUNAVAILABLE, "councild did not start: nothing answered on %s/%s "
		       "within %d ms", cl->runtime_dir, CX_SOCKET_NAME, CX_CLIENT_AUTOSTART_MS);
}

static int hello(struct cx_client *cl, struct cx_error *err)
{
	cJSON *req = cJSON_CreateObject(), *reply;
	cJSON_AddStringToObject(req, "op", "hello");
	cJSON_AddNumberToObject(req, "version", CX_PROTOCOL_VERSION);
	cl->greeting = true;
	int r = cx_client_call(cl, req, &reply, NULL, cl->call_timeout_ms, err);
	if (r == CX_EUNAVAILABLE) {
		/* Turned away before our hello was even read: the why may
		 * still wait in the socket. */
		struct cx_error ignored;
		while (cx_wire_fill(&cl->wire) > 0)
			;
		if (file_lines(cl, cl->last_id, &reply, NULL, &ignored) == CX_OK && reply)
			r = reply_code(reply, "hello", err);
	}
	cl->greeting = false;
	if (r == CX_OK) {
		const cJSON *version = cJSON_GetObjectItemCaseSensitive(reply, "version");
		if (!cJSON_IsNumber(version) || version->valueint != CX_PROTOCOL_VERSION)
			r = cx_fail(err, CX_EUNAVAILABLE, "councild speaks protocol version %s, "
				    "this client %d", cJSON_IsNumber(version) ? "another" : "no",
				    CX_PROTOCOL_VERSION);
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(reply, "pid");
		cl->server_pid = cJSON_IsNumber(pid) ? (pid_t)pid->valueint : 0;
	}
	cJSON_Delete(reply);
	return r;
}

int cx_client_connect(const struct cx_client_options *opts, struct cx_client **out,
		      struct cx_error *err)
{
	*out = NULL;
	struct cx_client *cl = calloc(1, sizeof *cl);
	if (!cl || !(cl->messages = cJSON_CreateArray())) {
		free(cl);
		return cx_fail(err, CX_ENOMEM, "client");
	}
	cx_wire_init(&cl->wire, -1);
	cl->call_timeout_ms = opts && opts->call_timeout_ms ? opts->call_timeout_ms
							    : CX_CLIENT_CALL_MS;
	/* Made here when councild is to be started in it: it starts with the
	 * directory given, which it does not verify. */
	char why[sizeof cl->runtime_dir + 160];
	bool autostarts = opts && opts->autostart;
	int r = cx_runtime_dir_ready(opts ? opts->runtime_dir : NULL, autostarts, cl->runtime_dir,
				     sizeof cl->runtime_dir, why, sizeof why);
	if (r < 0) {
		cx_client_close(cl);
		return cx_fail(err, r == -EPERM ? CX_EPERM : CX_EUSAGE, "%s", why);
	}
	int fd = connect_socket(cl->runtime_dir);
	if (fd >= 0)
		cx_wire_init(&cl->wire, fd);
	r = fd >= 0 ? CX_OK
	    : nobody_listens(fd) && autostarts ? autostart(cl, opts, err)
	    : connect_error(cl->runtime_dir, fd, err);
	if (r == CX_OK)
		r = trusted_peer(cl, err);
	if (r == CX_OK)
		r = hello(cl, err);
	if (r < 0) {
		cx_client_close(cl);
		return r;
	}
	*out = cl;
	return CX_OK;
}

void cx_client_close(struct cx_client *cl)
{
	if (!cl)
		return;
	cx_wire_close(&cl->wire);
	cJSON_Delete(cl->messages);
	free(cl);
}

int cx_client_fd(const struct cx_client *cl)
{
	return cl->wire.fd;
}

pid_t cx_client_server_pid(const struct cx_client *cl)
{
	return cl->server_pid;
}

const char *cx_client_runtime_dir(const struct cx_client *cl)
{
	return cl->runtime_dir;
}

/* Replies into C types */

int cx_run_status_parse(const char *name, enum cx_run_status *out)
{
	for (enum cx_run_status s = CX_RUN_PENDING; s <= CX_RUN_CANCELLED; s++) {
		if (name && !strcmp(name, cx_run_status_name(s))) {
			*out = s;
			return CX_OK;
		}
	}
	return CX_EUSAGE;
}

int cx_run_summary_from_json(const cJSON *json, struct cx_run_summary *out)
{
	*out = (struct cx_run_summary){ .round_idx = -1 };
	if (!cJSON_IsObject(json) ||
	    cx_run_status_parse(cx_json_str(json, "status"), &out->status) < 0)
		return CX_EUSAGE;
	strlcpy(out->run_id, cx_json_str(json, "run_id"), sizeof out->run_id);
	strlcpy(out->council, cx_json_str(json, "council"), sizeof out->council);
	strlcpy(out->tenant, cx_json_str(json, "tenant"), sizeof out->tenant);
	const cJSON *round = cJSON_GetObjectItemCaseSensitive(json, "current_round");
	if (cJSON_IsObject(round)) {
		strlcpy(out->round, cx_json_str(round, "name"), sizeof out->round);
		out->round_idx = (int)cx_json_int(round, "idx", 0, INT_MAX, -1);
	}
	out->rounds_completed = (int)cx_json_int(json, "rounds_completed", 0, INT_MAX, 0);
	out->started_at_ms = cx_ts_parse(cx_json_str(json, "started_at"));
	out->finished_at_ms = cx_ts_parse(cx_json_str(json, "finished_at"));
	out->pid = (pid_t)cx_json_int(json, "pid", 0, INT32_MAX, 0);
	out->events = (uint64_t)cx_json_int(json, "events", 0, INT64_MAX, 0);
	strlcpy(out->exit, *cx_json_str(json, "exit") ? cx_json_str(json, "exit") : "-",
		sizeof out->exit);
	strlcpy(out->containment, cx_json_str(json, "containment"), sizeof out->containment);
	strlcpy(out->unwritten, cx_json_str(json, "unwritten"), sizeof out->unwritten);
	const cJSON *owner = cJSON_GetObjectItemCaseSensitive(json, "owner");
	if (cJSON_IsObject(owner)) {
		out->owner.pid = (pid_t)cx_json_int(owner, "pid", 0, INT32_MAX, 0);
		out->owner.ino = (uint64_t)cx_json_int(owner, "ino", 0, INT64_MAX, 0);
		strlcpy(out->owner.boot_id, cx_json_str(owner, "boot_id"), sizeof out->owner.boot_id);
	}
	return CX_OK;
}

/* Typed calls: request() builds, call() sends and waits, the parsers below
 * read the reply. */

/* {"op": op, key: value} (without key when value is NULL); NULL when out
 * of memory, which cx_client_call reports. */
static cJSON *request(const char *op, const char *key, const char *value)
{
	cJSON *req = cJSON_CreateObject();
	if (req && (!cJSON_AddStringToObject(req, "op", op) ||
		    (key && value && !cJSON_AddStringToObject(req, key, value)))) {
		cJSON_Delete(req);
		req = NULL;
	}
	return req;
}

/* req with key: number added; NULL (req freed) when out of memory. */
static cJSON *with_number(cJSON *req, const char *key, double number)
{
	if (req && !cJSON_AddNumberToObject(req, key, number)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return req;
}

static cJSON *with_true(cJSON *req, const char *key)
{
	if (req && !cJSON_AddTrueToObject(req, key)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return req;
}

static int call(struct cx_client *cl, cJSON *req, cJSON **reply, int *fd, struct cx_error *err)
{
	return cx_client_call(cl, req, reply, fd, cl->call_timeout_ms, err);
}

/* A request about one run, whose reply has nothing the caller needs. */
static int run_op(struct cx_client *cl, const char *op, const char *run_id, struct cx_error *err)
{
	return call(cl, request(op, "run_id", run_id), NULL, NULL, err);
}

static int tenant_op(struct cx_client *cl, const char *op, const char *tenant,
		     struct cx_error *err)
{
	return call(cl, request(op, "tenant", tenant), NULL, NULL, err);
}

/* The diagnostics of an invalid_council reply (in its error, or beside it). */
static void reply_diags(const cJSON *reply, struct cx_diags *diags)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(error, "diagnostics");
	const cJSON *d;
	if (!list)
		list = cJSON_GetObjectItemCaseSensitive(reply, "diagnostics");
	cJSON_ArrayForEach(d, list)
		cx_diags_add(diags, cx_json_str(d, "path"), cx_json_str(d, "code"), "%s",
			     cx_json_str(d, "message"));
}

static cJSON *start_request(const struct cx_client_start *req, bool link, struct cx_diags *diags,
			    int *code, struct cx_error *err)
{
	/* The spec and the input as the supervisor will take them, refused
	 * here (councild is never asked) by the same rules and size limits. */
	struct cx_check check = { .diags = diags };
	const char *text = req->spec_json ? req->spec_json : "";
	cJSON *spec = cx_spec_json(&check, text, strlen(text)), *input = NULL;
	struct cx_start_opts opts;
	bool options_ok = cx_start_opts_parse(req->options_json, &opts, diags) == CX_OK;
	*code = spec && options_ok &&
		(!req->input_json || cx_input_parse(req->input_json, &input, diags) == CX_OK)
		? CX_OK : cx_fail(err, CX_EINVALID, "invalid council: see the diagnostics");
	cJSON *r = *code == CX_OK ? request("start", "tenant", req->tenant) : NULL;
	if (!r) {
		cJSON_Delete(spec);
		cJSON_Delete(input);
		return NULL;
	}
	cJSON_AddItemToObject(r, "spec", spec);
	if (input)
		cJSON_AddItemToObject(r, "input", input);
	if (req->options_json)
		cJSON_AddItemToObject(r, "options", cJSON_Parse(req->options_json));
	if (req->run_id)
		cJSON_AddStringToObject(r, "run_id", req->run_id);
	if (link)
		r = with_true(r, "link");
	if (link && req->exit_signal > 0)
		cJSON_AddStringToObject(r, "exit_signal", cx_signal_name(req->exit_signal));
	if (req->subscribe)
		r = with_true(r, "subscribe");
	if (req->shutdown_ms > 0)
		r = with_number(r, "shutdown_ms", req->shutdown_ms);
	char here[PATH_MAX];
	const char *cwd = req->cwd ? req->cwd : getcwd(here, sizeof here);
	if (cwd)
		cJSON_AddStringToObject(r, "cwd", cwd);
	return r;
}

static int start(struct cx_client *cl, const struct cx_client_start *req, bool link,
		 struct cx_started *out, struct cx_diags *diags, struct cx_error *err)
{
	*out = (struct cx_started){ .subscriber_fd = -1 };
	int code;
	cJSON *r = start_request(req, link, diags, &code, err), *reply;
	if (code == CX_EINVALID)
		return code;
	code = call(cl, r, &reply, req->subscribe ? &out->subscriber_fd : NULL, err);
	if (code == CX_EINVALID)
		reply_diags(reply, diags);
	if (code == CX_OK) {
		strlcpy(out->run_id, cx_json_str(reply, "run_id"), sizeof out->run_id);
		strlcpy(out->tenant, cx_json_str(reply, "tenant"), sizeof out->tenant);
		out->pid = (pid_t)cx_json_int(reply, "pid", 0, INT32_MAX, 0);
		if (req->subscribe && out->subscriber_fd < 0)
			code = cx_fail(err, CX_ESYS, "councild started %s without its event pipe",
				       out->run_id);
	}
	cJSON_Delete(reply);
	return code;
}

int cx_start(struct cx_client *cl, const struct cx_client_start *req, struct cx_started *out,
	     struct cx_diags *diags, struct cx_error *err)
{
	return start(cl, req, false, out, diags, err);
}

int cx_start_link(struct cx_client *cl, const struct cx_client_start *req,
		  struct cx_started *out, struct cx_diags *diags, struct cx_error *err)
{
	return start(cl, req, true, out, diags, err);
}

int cx_sup_start_child(struct cx_client *cl, const char *tenant,
		       const struct cx_client_start *req, struct cx_started *out,
		       struct cx_diags *diags, struct cx_error *err)
{
	if (!tenant || !*tenant) {
		*out = (struct cx_started){ .subscriber_fd = -1 };
		return cx_fail(err, CX_EUSAGE, "a child is started in a named tenant");
	}
	struct cx_client_start child = *req;
	child.tenant = tenant;
	return start(cl, &child, false, out, diags, err);
}

/* cx_run: the subscriber pipe read to its end, line by line. */

#define EVENTS_READ 65536

/* Hands on each whole line buf holds; at EOF (eof) the rest too. */
static void hand_on_lines(struct cx_buf *buf, bool eof, const struct cx_run_options *opts)
{
	char *line, *nl;
	while (cx_buf_unread(buf)) {
		line = cx_buf_head(buf);
		nl = memchr(line, '\n', cx_buf_unread(buf));
		if (!nl && !eof)
			return;
		size_t len = nl ? (size_t)(nl - line) : cx_buf_unread(buf);
		line[len] = '\0';  /* the newline, or the NUL cx_buf keeps after its data */
		if (opts && opts->on_event)
			opts->on_event(opts->data, line, len);
		cx_buf_consume(buf, nl ? len + 1 : len);
	}
}

/* Reads the events until EOF (CX_OK) or the deadline (CX_ETIMEOUT). The
 * deadline is checked before every read, so a run that never stops
 * talking still times out. */
static int follow_events(int fd, uint64_t deadline, const struct cx_run_options *opts,
			 struct cx_error *err)
{
	struct cx_buf buf = { 0 };
	int r = 1;
	while (r > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait = remaining_ms(deadline);
		int ready = wait == 0 ? 0 : poll(&p, 1, wait);
		ssize_t n = ready > 0 ? cx_buf_read(&buf, fd, EVENTS_READ) : 0;
		if (ready == 0)
			r = CX_ETIMEOUT;
		else if (ready < 0)
			r = errno == EINTR ? 1 : cx_fail(err, CX_ESYS, "poll: %s", strerror(errno));
		else if (n < 0 && n != -EAGAIN)
			r = cx_fail(err, n == -ENOMEM ? CX_ENOMEM : CX_ESYS, "reading events: %s",
				    strerror((int)-n));
		else {
			hand_on_lines(&buf, n == 0, opts);
			r = n != 0;  /* 0 at EOF */
		}
	}
	cx_buf_free(&buf);
	return r;
}

int cx_run(struct cx_client *cl, const struct cx_client_start *req, int timeout_ms,
	   const struct cx_run_options *opts, char **result_json, enum cx_run_status *status,
	   struct cx_started *out, struct cx_diags *diags, struct cx_error *err)
{
	uint64_t deadline = deadline_after(timeout_ms);
	struct cx_client_start linked = *req;
	linked.subscribe = true;
	*result_json = NULL;
	int r = start(cl, &linked, true, out, diags, err);
	if (r < 0)
		return r;
	r = follow_events(out->subscriber_fd, deadline, opts, err);
	close(out->subscriber_fd);
	out->subscriber_fd = -1;
	if (r == CX_OK)
		return cx_fetch_result(cl, out->run_id, cl->call_timeout_ms, result_json, status,
				       err);
	if (r != CX_ETIMEOUT)
		return r;
	/* Terminated, the run is final within its shutdown time: the result
	 * says how it ended. Neither call's failure changes what we return. */
	cx_terminate_run(cl, out->run_id, NULL);
	cx_fetch_result(cl, out->run_id, cl->call_timeout_ms + (req->shutdown_ms > 0 ?
			req->shutdown_ms : 0), result_json, status, NULL);
	return cx_fail(err, CX_ETIMEOUT, "run %s did not end within %d ms: terminated",
		       out->run_id, timeout_ms);
}

int cx_pid_for(struct cx_client *cl, const char *run_id, pid_t *pid, struct cx_error *err)
{
	cJSON *reply;
	int r = call(cl, request("pid_for", "run_id", run_id), &reply, NULL, err);
	*pid = r == CX_OK ? (pid_t)cx_json_int(reply, "pid", 0, INT32_MAX, 0) : 0;
	cJSON_Delete(reply);
	return r;
}

int cx_run_id(struct cx_client *cl, pid_t pid, char run_id[CX_RUN_ID_MAX + 1],
	      struct cx_error *err)
{
	cJSON *reply;
	int r = call(cl, with_number(request("run_id", NULL, NULL), "pid", pid), &reply, NULL, err);
	strlcpy(run_id, r == CX_OK ? cx_json_str(reply, "run_id") : "", CX_RUN_ID_MAX + 1);
	cJSON_Delete(reply);
	return r;
}

int cx_state(struct cx_client *cl, const char *run_id, struct cx_run_summary *out,
	     struct cx_error *err)
{
	cJSON *reply;
	int r = call(cl, request("state", "run_id", run_id), &reply, NULL, err);
	if (r == CX_OK &&
	    cx_run_summary_from_json(cJSON_GetObjectItemCaseSensitive(reply, "summary"), out) < 0)
		r = cx_fail(err, CX_ESYS, "councild's state of %s has no run summary", run_id);
	cJSON_Delete(reply);
	return r;
}

int cx_fetch_result(struct cx_client *cl, const char *run_id, int timeout_ms,
		    char **result_json, enum cx_run_status *status, struct cx_error *err)
{
	cJSON *req = with_number(request("fetch_result", "run_id", run_id), "timeout_ms",
				 timeout_ms), *reply;
	*result_json = NULL;
	/* The server waits timeout_ms; the reply gets the usual time on top. */
	int wait = timeout_ms < 0 ? -1 : timeout_ms + cl->call_timeout_ms;
	int r = cx_client_call(cl, req, &reply, NULL, wait, err);
	if (r == CX_OK) {
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(reply, "result");
		*result_json = result ? cJSON_PrintUnformatted(result) : NULL;
		if (!*result_json)
			r = cx_fail(err, result ? CX_ENOMEM : CX_ESYS, "the result of %s", run_id);
		if (status && cx_run_status_parse(cx_json_str(reply, "status"), status) < 0)
			*status = CX_RUN_FAILED;
	}
	cJSON_Delete(reply);
	return r;
}

int cx_cancel(struct cx_client *cl, const char *run_id, struct cx_error *err)
{
	return run_op(cl, "cancel", run_id, err);
}

int cx_terminate_run(struct cx_client *cl, const char *run_id, struct cx_error *err)
{
	return run_op(cl, "terminate", run_id, err);
}

int cx_subscribe(struct cx_client *cl, const char *run_id, uint64_t since, int *fd,
		 struct cx_error *err)
{
	cJSON *req = with_number(request("subscribe", "run_id", run_id), "since",
				 (double)(since ? since : 1));
	int r = call(cl, req, NULL, fd, err);
	if (r == CX_OK && *fd < 0)
		r = cx_fail(err, CX_ESYS, "councild's subscribe reply for %s carried no pipe", run_id);
	return r;
}

void cx_unsubscribe(int fd)
{
	if (fd >= 0)
		close(fd);
}

int cx_monitor(struct cx_client *cl, const char *run_id, uint64_t *ref, struct cx_error *err)
{
	cJSON *reply;
	int r = call(cl, request("monitor", "run_id", run_id), &reply, NULL, err);
	*ref = r == CX_OK ? (uint64_t)cx_json_int(reply, "ref", 0, INT64_MAX, 0) : 0;
	cJSON_Delete(reply);
	return r;
}

int cx_demonitor(struct cx_client *cl, uint64_t ref, struct cx_error *err)
{
	return call(cl, with_number(request("demonitor", NULL, NULL), "ref", (double)ref), NULL,
		    NULL, err);
}

/* The array at key of reply, each element parsed into an n-element malloc'd
 * vector of `size`-byte items by parse (which returns < 0 to skip one). */
static int reply_list(const cJSON *reply, const char *key, size_t size,
		      int (*parse)(const cJSON *, void *), void **out, size_t *n,
		      struct cx_error *err)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, key), *item;
	size_t count = (size_t)cJSON_GetArraySize(list);
	char *v = count ? calloc(count, size) : NULL;
	*out = NULL;
	*n = 0;
	if (count && !v)
		return cx_fail(err, CX_ENOMEM, "%zu %s", count, key);
	cJSON_ArrayForEach(item, list)
		if (parse(item, v + *n * size) == CX_OK)
			(*n)++;
	*out = v;
	return CX_OK;
}

static int parse_summary(const cJSON *json, void *out)
{
	return cx_run_summary_from_json(json, out);
}

int cx_ps(struct cx_client *cl, const char *tenant, bool all, struct cx_run_summary **runs,
	  size_t *n, struct cx_error *err)
{
	cJSON *req = request("ps", "tenant", tenant), *reply;
	if (all)
		req = with_true(req, "all");
	*runs = NULL;
	*n = 0;
	int r = call(cl, req, &reply, NULL, err);
	if (r == CX_OK)
		r = reply_list(reply, "runs", sizeof **runs, parse_summary, (void **)runs, n, err);
	cJSON_Delete(reply);
	return r;
}

static int parse_child(const cJSON *json, void *out)
{
	struct cx_child *c = out;
	if (cx_run_status_parse(cx_json_str(json, "status"), &c->status) < 0)
		return CX_EUSAGE;
	strlcpy(c->run_id, cx_json_str(json, "run_id"), sizeof c->run_id);
	c->pid = (pid_t)cx_json_int(json, "pid", 0, INT32_MAX, 0);
	return CX_OK;
}

int cx_which_children(struct cx_client *cl, const char *tenant, struct cx_child **children,
		      size_t *n, struct cx_error *err)
{
	cJSON *reply;
	*children = NULL;
	*n = 0;
	int r = call(cl, request("which_children", "tenant", tenant), &reply, NULL, err);
	if (r == CX_OK)
		r = reply_list(reply, "children", sizeof **children, parse_child,
			       (void **)children, n, err);
	cJSON_Delete(reply);
	return r;
}

int cx_terminate_all(struct cx_client *cl, const char *tenant, struct cx_error *err)
{
	return tenant_op(cl, "terminate_all", tenant, err);
}

int cx_tenant_stop(struct cx_client *cl, const char *tenant, struct cx_error *err)
{
	return tenant_op(cl, "tenant_stop", tenant, err);
}

int cx_tenant_start(struct cx_client *cl, const char *tenant, struct cx_error *err)
{
	return tenant_op(cl, "tenant_start", tenant, err);
}
