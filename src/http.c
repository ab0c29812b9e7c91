/* HTTP requests on the worker's loop (http.h).
 *
 * libcurl tells us, through the socket callback, which of its sockets to
 * watch for what, and through the timer callback when to call it back; we
 * hand both to the loop and report what they see with
 * curl_multi_socket_action, then collect the transfers that ended. Host
 * names are resolved by libcurl's threaded resolver, in a thread that
 * lives for the lookup only; addresses given as literals (127.0.0.1) and
 * "localhost" are resolved without one. */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

/* What one socket of libcurl's is watched with. */
struct sock {
	struct cx_watch watch;
	struct cx_http *http;
	LIST_ENTRY(sock) link;
};

struct cx_http {
	struct cx_loop *loop;
	CURLM *multi;
	struct cx_timer timer;
	LIST_HEAD(, sock) socks;
};

/* ---- requests ending ---- */

/* Connection refused or reset, a timeout, a response cut short: what
 * CouncilEx retries too. */
static bool transient(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* Takes req's easy handle out of the multi and frees it, and the headers
 * (which may carry a key) with it. */
static void detach(struct cx_http_req *req)
{
	if (req->http)
		cx_timer_disarm(req->http->loop, &req->idle);
	if (req->easy) {
		curl_multi_remove_handle(req->http->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	curl_slist_free_all(req->headers);
	req->headers = NULL;
}

/* The request is over, one way or another: its owner hears of it. */
static void conclude(struct cx_http_req *req)
{
	detach(req);
	req->on_done(req);
}

static void end(struct cx_http_req *req, CURLcode code)
{
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
	if (code == CURLE_OK)
		req->end = CX_HTTP_RESPONSE;
	else if (req->stopped)
		req->end = CX_HTTP_STOPPED;
	else
		req->end = transient(code) ? CX_HTTP_TRANSIENT : CX_HTTP_FAILED;
	if (code != CURLE_OK)
		snprintf(req->message, sizeof req->message, "%s",
			 req->curl_error[0] ? req->curl_error : curl_easy_strerror(code));
	conclude(req);
}

/* Nothing came for idle_ms: a timeout, as a stalled connection is. */
static void idle_fired(struct cx_loop *loop, struct cx_timer *t)
{
	struct cx_http_req *req = t->data;
	(void)loop;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
	req->end = CX_HTTP_TRANSIENT;
	snprintf(req->message, sizeof req->message, "nothing received for %ld ms", req->idle_ms);
	conclude(req);
}

/* Bytes came: the idle limit starts over. */
static void alive(struct cx_http_req *req)
{
	if (req->idle_ms > 0)
		cx_timer_arm(req->http->loop, &req->idle, (uint64_t)req->idle_ms);
}

/* Hands every transfer that ended to its owner. The message is copied out
 * first: ending one may add or remove handles. */
static void collect(struct cx_http *http)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(http->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct cx_http_req *req = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
		end(req, code);
	}
}

/* ---- the loop's side ---- */

static void sock_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct sock *sk = w->data;
	struct cx_http *http = sk->http;   /* sk may be freed by the action */
	int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		    (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		    (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
	int running;
	(void)loop;
	curl_multi_socket_action(http->multi, w->fd, flags, &running);
	collect(http);
}

static void timer_fired(struct cx_loop *loop, struct cx_timer *t)
{
	struct cx_http *http = t->data;
	int running;
	(void)loop;
	curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect(http);
}

static void sock_free(struct sock *sk)
{
	cx_watch_del(sk->http->loop, &sk->watch);
	LIST_REMOVE(sk, link);
	free(sk);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct cx_http *http = arg;
	struct sock *sk = sockp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_free(sk);
		return 0;
	}
	uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (sk)
		return cx_watch_mod(http->loop, &sk->watch, events) < 0 ? -1 : 0;
	if (!(sk = calloc(1, sizeof *sk)))
		return -1;
	*sk = (struct sock){ .watch = { fd, sock_ready, sk }, .http = http };
	if (cx_watch_add(http->loop, &sk->watch, events) < 0) {
		free(sk);
		return -1;
	}
	LIST_INSERT_HEAD(&http->socks, sk, link);
	curl_multi_assign(http->multi, fd, sk);
	return 0;
}

/* timeout_ms -1: no timeout; 0: call back at once, which the next loop
 * turn does (never from inside a libcurl call). */
static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct cx_http *http = arg;
	(void)multi;
	if (timeout_ms < 0)
		cx_timer_disarm(http->loop, &http->timer);
	else
		cx_timer_arm(http->loop, &http->timer, (uint64_t)timeout_ms);
	return 0;
}

int cx_http_new(struct cx_loop *loop, struct cx_http **out)
{
	struct cx_http *http = calloc(1, sizeof *http);
	if (!http)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(http);
		return -EIO;
	}
	*http = (struct cx_http){ .loop = loop, .timer = CX_TIMER_INIT(timer_fired, http) };
	LIST_INIT(&http->socks);
	if (!(http->multi = curl_multi_init())) {
		cx_http_free(http);
		return -ENOMEM;
	}
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	*out = http;
	return 0;
}

/* libcurl may close its cached connections without a word to the socket
 * callback: whatever watch is left goes with the client. */
void cx_http_free(struct cx_http *http)
{
	if (!http)
		return;
	if (http->multi)
		curl_multi_cleanup(http->multi);
	while (!LIST_EMPTY(&http->socks))
		sock_free(LIST_FIRST(&http->socks));
	cx_timer_disarm(http->loop, &http->timer);
	free(http);
	curl_global_cleanup();
}

/* ---- a request ---- */

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	struct cx_http_req *req = arg;
	size_t len = size * n;
	long status = 0;
	alive(req);
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status / 100 == 2) {
		if (req->on_body(req, p, len) == 0)
			return len;
		req->stopped = true;
		return CURL_WRITEFUNC_ERROR;
	}
	size_t room = CX_HTTP_ERROR_BODY_MAX - req->error_body.len;
	if (room)
		cx_buf_append(&req->error_body, p, len < room ? len : room);
	return len;
}

/* Retry-After: delay-seconds, or an HTTP-date. */
static int64_t retry_after_ms(const char *value)
{
	char *end;
	errno = 0;
	unsigned long long s = strtoull(value, &end, 10);
	if (end != value && !*end && !errno && value[0] != '-')
		return s > 86400 ? 86400 * 1000LL : (int64_t)s * 1000;
	time_t when = curl_getdate(value, NULL);
	if (when == -1)
		return -1;
	time_t now = time(NULL);
	return when > now ? (int64_t)(when - now) * 1000 : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	static const char name[] = "Retry-After:";
	struct cx_http_req *req = arg;
	size_t len = size * n;
	char value[128];

	alive(req);
	if (len >= 5 && !strncasecmp(p, "HTTP/", 5)) {
		req->retry_after_ms = -1;   /* a new response: a 100 Continue's ended */
	} else if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
		const char *v = p + sizeof name - 1, *e = p + len;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && strchr(" \t\r\n", e[-1]))
			e--;
		if ((size_t)(e - v) < sizeof value) {
			memcpy(value, v, (size_t)(e - v));
			value[e - v] = '\0';
			req->retry_after_ms = retry_after_ms(value);
		}
	}
	return len;
}

void cx_http_req_init(struct cx_http_req *req, cx_http_body_fn *on_body, cx_http_done_fn *on_done,
		      void *data)
{
	struct cx_buf kept = req->error_body;
	cx_buf_clear(&kept);
	*req = (struct cx_http_req){
		.on_body = on_body,
		.on_done = on_done,
		.data = data,
		.retry_after_ms = -1,
		.error_body = kept,
		.idle = CX_TIMER_INIT(idle_fired, req),
	};
}

int cx_http_req_header(struct cx_http_req *req, const char *name, const char *value)
{
	char *line;
	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -ENOMEM;
	struct curl_slist *list = curl_slist_append(req->headers, line);
	free(line);
	if (!list)
		return -ENOMEM;
	req->headers = list;
	return 0;
}

int cx_http_post(struct cx_http *http, struct cx_http_req *req, const char *url,
		 const char *body, size_t len, const struct cx_http_opts *opts)
{
	CURL *e = curl_easy_init();
	/* No "Expect: 100-continue" round trip before a large body. */
	int rc = e ? cx_http_req_header(req, "Expect", "") : -ENOMEM;
	if (rc < 0) {
		curl_easy_cleanup(e);
		return rc;
	}
	req->http = http;
	req->easy = e;
	req->idle_ms = opts->idle_timeout_ms;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "council/" COUNCIL_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->curl_error);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms);
	if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
	    curl_multi_add_handle(http->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		req->easy = NULL;
		return -ENOMEM;
	}
	alive(req);
	return 0;
}

const char *cx_http_content_type(const struct cx_http_req *req)
{
	char *type = NULL;
	if (req->easy)
		curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &type);
	return type ? type : "";
}

void cx_http_cancel(struct cx_http_req *req)
{
	detach(req);
}

void cx_http_req_release(struct cx_http_req *req)
{
	detach(req);
	cx_buf_free(&req->error_body);
}
