/* HTTP requests on the worker's loop: libcurl's multi interface, its
 * sockets watched and its timeout kept by the loop (loop.h), so any number
 * of requests are in flight at once in one single-threaded process.
 *
 * One client per loop holds the multi handle and its connection cache.
 * A request (struct cx_http_req) is embedded in its owner, which hears of
 * it through two callbacks: body bytes of a 2xx response as they arrive,
 * then, once, the end. The body of any other response is kept (its first
 * CX_HTTP_ERROR_BODY_MAX bytes) to explain the failure.
 *
 * Nothing here writes anywhere: request headers (which carry API keys) are
 * never echoed, and curl's messages name the failure, not the request. */
#ifndef CX_HTTP_H
#define CX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "buf.h"
#include "loop.h"

#define CX_HTTP_ERROR_BODY_MAX (64u << 10)

struct cx_http;

/* A client on loop. Returns 0 or -errno (-EIO: libcurl would not start). */
int cx_http_new(struct cx_loop *loop, struct cx_http **out);
/* Frees a client whose requests are all over or cancelled. NULL is fine. */
void cx_http_free(struct cx_http *http);

enum cx_http_end {
	CX_HTTP_RESPONSE,   /* a whole response arrived: see status */
	CX_HTTP_STOPPED,    /* the body callback stopped it */
	CX_HTTP_TRANSIENT,  /* worth retrying: connection refused or reset, a
			     * timeout, a response cut short */
	CX_HTTP_FAILED,     /* anything else: a bad URL, TLS verification... */
};

struct cx_http_req;

/* n bytes of a 2xx response's body: a non-zero return stops the request,
 * which then ends CX_HTTP_STOPPED. */
typedef int cx_http_body_fn(struct cx_http_req *req, const char *p, size_t n);
/* The request is over (never called from inside cx_http_post or
 * cx_http_cancel). The callee may start another request, on this req too. */
typedef void cx_http_done_fn(struct cx_http_req *req);

struct cx_http_opts {
	long connect_timeout_ms;  /* to connect (TLS included) */
	long idle_timeout_ms;     /* receiving nothing this long is a timeout; 0: no limit */
};

struct cx_http_req {
	struct cx_http *http;
	CURL *easy;                 /* while in flight */
	struct curl_slist *headers;
	struct cx_timer idle;       /* idle_timeout_ms since the last byte */
	long idle_ms;
	bool stopped;               /* the body callback said stop */
	char curl_error[CURL_ERROR_SIZE];
	cx_http_body_fn *on_body;
	cx_http_done_fn *on_done;
	void *data;
	/* Known once it ended: */
	enum cx_http_end end;
	long status;                /* HTTP status; 0 before a response */
	int64_t retry_after_ms;     /* Retry-After, -1 when absent */
	struct cx_buf error_body;   /* a non-2xx response's body */
	char message[CURL_ERROR_SIZE + 64];  /* TRANSIENT, FAILED: what went wrong */
};

/* Prepares req (zeroed, or ended and released) for a request. */
void cx_http_req_init(struct cx_http_req *req, cx_http_body_fn *on_body, cx_http_done_fn *on_done,
		      void *data);
/* Adds the header "name: value" to the next request. Returns 0 or -ENOMEM. */
int cx_http_req_header(struct cx_http_req *req, const char *name, const char *value);

/* POSTs body (len bytes, copied) to url with the headers added. Returns 0,
 * or -errno with nothing in flight. */
int cx_http_post(struct cx_http *http, struct cx_http_req *req, const char *url,
		 const char *body, size_t len, const struct cx_http_opts *opts);

/* The response's Content-Type ("" when none): from the body callback on. */
const char *cx_http_content_type(const struct cx_http_req *req);

/* Stops a request in flight; on_done is not called. */
void cx_http_cancel(struct cx_http_req *req);

/* Frees what an ended (or never started) request holds: its headers and
 * kept body. */
void cx_http_req_release(struct cx_http_req *req);

#endif
