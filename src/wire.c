#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"

#define READ_CHUNK (64 * 1024)

struct cx_wire_fds {
	size_t at;                  /* stream position of the line's first byte */
	size_t n;
	int fd[CX_WIRE_FDS_MAX];
};

void cx_wire_init(struct cx_wire *w, int fd)
{
	*w = (struct cx_wire){ .fd = fd };
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

void cx_wire_close(struct cx_wire *w)
{
	if (w->fd >= 0)
		close(w->fd);
	close_fds(w->fds_in, w->n_fds_in);
	for (size_t i = 0; i < w->n_fds_out; i++)
		close_fds(w->fds_out[i].fd, w->fds_out[i].n);
	free(w->fds_in);
	free(w->fds_out);
	cx_buf_free(&w->in);
	cx_buf_free(&w->out);
	*w = (struct cx_wire){ .fd = -1 };
}

ssize_t cx_fds_send(int sock, const void *buf, size_t len, const int *fds, size_t n, int flags)
{
	struct iovec iov = { (void *)buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * CX_WIRE_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n > CX_WIRE_FDS_MAX)
		return -EINVAL;
	if (n) {
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	ssize_t sent;
	do
		sent = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -errno : sent;
}

ssize_t cx_fds_recv(int sock, void *buf, size_t len, int *fds, size_t *n, int flags)
{
	struct iovec iov = { buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * CX_WIRE_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t got;
	do
		got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (got < 0 && errno == EINTR);
	*n = 0;
	if (got < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds + *n, CMSG_DATA(c), k * sizeof(int));
		*n += k;
	}
	return got;
}

/* One sendmsg of what is queued, up to the next line that carries fds (or
 * with them, when it starts here, and then up to the one after it: each
 * line's fds must go with its own first byte). Returns bytes sent or -errno. */
static ssize_t send_some(struct cx_wire *w)
{
	size_t len = cx_buf_unread(&w->out);
	struct cx_wire_fds *next = w->n_fds_out ? &w->fds_out[0] : NULL;
	bool attach = next && next->at == w->sent;
	struct cx_wire_fds *stop = !attach ? next : w->n_fds_out > 1 ? &w->fds_out[1] : NULL;
	if (stop && stop->at - w->sent < len)
		len = stop->at - w->sent;
	ssize_t sent = cx_fds_send(w->fd, cx_buf_head(&w->out), len, attach ? next->fd : NULL,
				   attach ? next->n : 0, MSG_DONTWAIT);
	if (sent >= 0 && attach) { /* the kernel holds its own references now */
		close_fds(next->fd, next->n);
		memmove(w->fds_out, w->fds_out + 1, --w->n_fds_out * sizeof *w->fds_out);
	}
	return sent;
}

int cx_wire_flush(struct cx_wire *w)
{
	while (cx_wire_pending(w)) {
		ssize_t sent = send_some(w);
		if (sent == -EAGAIN)
			return 1;
		if (sent < 0)
			return (int)sent;
		cx_buf_consume(&w->out, (size_t)sent);
		w->sent += (size_t)sent;
	}
	return 0;
}

int cx_wire_send(struct cx_wire *w, const cJSON *msg, const int *fds, size_t n_fds)
{
	if (n_fds > CX_WIRE_FDS_MAX)
		return -EINVAL;
	char *line = cJSON_PrintUnformatted(msg);
	if (!line)
		return -ENOMEM;
	size_t len = strlen(line);
	line[len] = '\n';
	int r = len > CX_WIRE_LINE_MAX ? -EMSGSIZE : 0;  /* the peer would refuse it */
	if (n_fds && r == 0) {
		struct cx_wire_fds *v = reallocarray(w->fds_out, w->n_fds_out + 1, sizeof *v);
		if (!v) {
			r = -ENOMEM;
		} else {
			w->fds_out = v;
			struct cx_wire_fds *f = &v[w->n_fds_out];
			f->at = w->sent + cx_buf_unread(&w->out);
			f->n = 0;
			for (size_t i = 0; i < n_fds && r == 0; i++) {
				f->fd[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
				if (f->fd[i] < 0)
					r = -errno;
				else
					f->n++;
			}
			if (r < 0)
				close_fds(f->fd, f->n);
			else
				w->n_fds_out++;
		}
	}
	if (r == 0)
		r = cx_buf_append(&w->out, line, len + 1);
	free(line);
	return r < 0 ? r : cx_wire_flush(w);
}

ssize_t cx_wire_fill(struct cx_wire *w)
{
	if (cx_buf_reserve(&w->in, READ_CHUNK) < 0)
		return -ENOMEM;
	int fds[CX_WIRE_FDS_MAX];
	size_t n;
	ssize_t got = cx_fds_recv(w->fd, w->in.data + w->in.len, READ_CHUNK, fds, &n, MSG_DONTWAIT);
	if (got < 0)
		return got;
	int *v = n && !w->refuse_fds ? reallocarray(w->fds_in, w->n_fds_in + n, sizeof *v)
					 : w->fds_in;
	if (n && w->refuse_fds) { /* held, they would pile up until the line ends */
		close_fds(fds, n);
		w->fds_refused += n;
	} else if (!v) {
		close_fds(fds, n);
	} else {
		w->fds_in = v;
		memcpy(v + w->n_fds_in, fds, n * sizeof(int));
		w->n_fds_in += n;
	}
	w->in.len += (size_t)got;
	w->in.data[w->in.len] = '\0';
	return got;
}

int cx_wire_next(struct cx_wire *w, cJSON **msg, char *why, size_t why_size)
{
	*msg = NULL;
	size_t avail = cx_buf_unread(&w->in);
	if (!avail)
		return 0;
	char *head = cx_buf_head(&w->in);
	char *nl = memchr(head, '\n', avail);
	if (!nl) {
		if (avail > CX_WIRE_LINE_MAX)
			w->too_large = true;
		if (w->too_large)
			snprintf(why, why_size, "line over %d bytes", CX_WIRE_LINE_MAX);
		return w->too_large ? -2 : 0;
	}
	size_t len = (size_t)(nl - head);
	if (len > CX_WIRE_LINE_MAX) {
		w->too_large = true;
		snprintf(why, why_size, "line over %d bytes", CX_WIRE_LINE_MAX);
		return -2;
	}
	cJSON *j = cx_json_parse(head, len, why, why_size);
	cx_buf_consume(&w->in, len + 1);
	if (!cJSON_IsObject(j)) {
		if (j)
			snprintf(why, why_size, "not a JSON object");
		cJSON_Delete(j);
		return -1;
	}
	*msg = j;
	return 1;
}

int cx_wire_post(struct cx_wire *w, struct cx_loop *loop, struct cx_watch *watch,
		 const cJSON *msg, const int *fds, size_t n_fds)
{
	int r = cx_wire_send(w, msg, fds, n_fds);
	if (r > 0)
		cx_watch_mod(loop, watch, EPOLLIN | EPOLLOUT);
	return r < 0 ? r : 0;
}

int cx_wire_service(struct cx_wire *w, struct cx_loop *loop, struct cx_watch *watch,
		    uint32_t events)
{
	if (events & EPOLLOUT) {
		int r = cx_wire_flush(w);
		if (r < 0)
			return -1;
		if (r == 0)
			cx_watch_mod(loop, watch, EPOLLIN);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	ssize_t got = cx_wire_fill(w);
	if (got == -EAGAIN)
		return 0;
	return got > 0 ? 1 : -1;
}

size_t cx_wire_trim(struct cx_wire *w)
{
	if (cx_buf_unread(&w->in))
		return w->in.cap;
	cx_buf_free(&w->in);
	return 0;
}

int cx_wire_take_fd(struct cx_wire *w)
{
	if (!w->n_fds_in)
		return -1;
	int fd = w->fds_in[0];
	memmove(w->fds_in, w->fds_in + 1, --w->n_fds_in * sizeof *w->fds_in);
	return fd;
}
