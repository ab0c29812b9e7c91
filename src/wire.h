/* JSON lines over a unix stream socket, with file descriptors (docs/protocol.md).
 *
 * A line that carries descriptors says how many ("fds":N); they travel with
 * SCM_RIGHTS on the line's first bytes, so they arrive no later than the
 * line. The receiver keeps them in arrival order and a line takes its N
 * from the front. Used by councild for its clients and for its tenant
 * supervisors, and by the client library. */
#ifndef CX_WIRE_H
#define CX_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "loop.h"

#define CX_WIRE_LINE_MAX (4 << 20)  /* a line over this is refused: too_large */
#define CX_WIRE_FDS_MAX 8

struct cx_wire {
	int fd;                 /* non-blocking */
	struct cx_buf in;
	struct cx_buf out;
	size_t sent;            /* bytes written so far: where out's head is in the stream */
	int *fds_in;            /* received, not yet taken */
	size_t n_fds_in;
	struct cx_wire_fds *fds_out; /* to attach when out reaches their offset */
	size_t n_fds_out;
	bool too_large;         /* a line over CX_WIRE_LINE_MAX came in */
	bool refuse_fds;        /* the peer may send none: close each as it comes */
	unsigned fds_refused;   /* how many were closed so */
};

void cx_wire_init(struct cx_wire *w, int fd);
/* Closes the socket and every descriptor still held. */
void cx_wire_close(struct cx_wire *w);

/* Queues msg (and fds, which are duplicated) and writes what the socket
 * takes. Returns 0 when all is written, 1 while some waits for EPOLLOUT,
 * -errno on failure (-EMSGSIZE: the line is over CX_WIRE_LINE_MAX, and
 * nothing was queued). */
int cx_wire_send(struct cx_wire *w, const cJSON *msg, const int *fds, size_t n_fds);
/* Writes what is queued: 0 all written, 1 more waits, -errno. */
int cx_wire_flush(struct cx_wire *w);
static inline bool cx_wire_pending(const struct cx_wire *w)
{
	return w->out.len > w->out.off;
}

/* Reads what the socket has: bytes read, 0 at EOF, -EAGAIN, or -errno. */
ssize_t cx_wire_fill(struct cx_wire *w);

/* The next whole line: 1 with *msg (the caller frees it), 0 when there is
 * none yet, -1 for a line that is not a JSON object (skipped; why says so),
 * -2 when a line was over CX_WIRE_LINE_MAX (the stream is unusable). */
int cx_wire_next(struct cx_wire *w, cJSON **msg, char *why, size_t why_size);

/* For a wire that a loop watches (watch->fd is w->fd): */

/* cx_wire_send, and asks for EPOLLOUT while some of it waits. Returns 0 or
 * -errno (the peer is gone). */
int cx_wire_post(struct cx_wire *w, struct cx_loop *loop, struct cx_watch *watch,
		 const cJSON *msg, const int *fds, size_t n_fds);
/* Handles one readiness event: writes what waits (dropping EPOLLOUT once
 * all is out), then reads. Returns 1 when lines may wait for cx_wire_next,
 * 0 when nothing came, -1 when the peer is gone (EOF or an error). */
int cx_wire_service(struct cx_wire *w, struct cx_loop *loop, struct cx_watch *watch,
		    uint32_t events);

/* The bytes held for an unfinished line; with none, the input buffer is
 * given back (a long line's room is not kept for an idle peer). */
size_t cx_wire_trim(struct cx_wire *w);

/* The oldest received descriptor (which the caller now owns), or -1. */
int cx_wire_take_fd(struct cx_wire *w);

/* One sendmsg of buf with n (at most CX_WIRE_FDS_MAX) descriptors attached,
 * never raising SIGPIPE; flags add to it (MSG_DONTWAIT). Bytes sent or
 * -errno. */
ssize_t cx_fds_send(int sock, const void *buf, size_t len, const int *fds, size_t n, int flags);
/* One recvmsg into buf: the descriptors that came with it (close-on-exec,
 * at most CX_WIRE_FDS_MAX) go to fds, *n of them. Bytes read, 0 at EOF, or
 * -errno. */
ssize_t cx_fds_recv(int sock, void *buf, size_t len, int *fds, size_t *n, int flags);

#endif
