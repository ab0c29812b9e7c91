/* A growable byte buffer. Bytes data[off..len) are unread; consuming moves
 * off, and the unread bytes move to the front only when room is needed.
 * Once anything was added, data[len] is '\0', so text in it is a C string. */
#ifndef CX_BUF_H
#define CX_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct cx_buf {
	char *data;
	size_t off, len, cap;
};

/* Room for n more bytes (and the '\0' after them). Returns 0 or -ENOMEM. */
int cx_buf_reserve(struct cx_buf *b, size_t n);
int cx_buf_append(struct cx_buf *b, const void *p, size_t n);
/* Reads once from fd, up to n bytes: returns the count, 0 at EOF, or -errno
 * (-EAGAIN when a non-blocking fd has nothing). */
ssize_t cx_buf_read(struct cx_buf *b, int fd, size_t n);
void cx_buf_consume(struct cx_buf *b, size_t n);
void cx_buf_clear(struct cx_buf *b);
void cx_buf_free(struct cx_buf *b);

static inline size_t cx_buf_unread(const struct cx_buf *b)
{
	return b->len - b->off;
}

static inline char *cx_buf_head(const struct cx_buf *b)
{
	return b->data + b->off;
}

#endif
