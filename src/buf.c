#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cx_buf_reserve(struct cx_buf *b, size_t n)
{
	if (b->cap - b->len > n)
		return 0;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len > n)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int cx_buf_append(struct cx_buf *b, const void *p, size_t n)
{
	if (cx_buf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

ssize_t cx_buf_read(struct cx_buf *b, int fd, size_t n)
{
	if (cx_buf_reserve(b, n) < 0)
		return -ENOMEM;
	ssize_t got;
	do
		got = read(fd, b->data + b->len, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	b->len += (size_t)got;
	b->data[b->len] = '\0';
	return got;
}

void cx_buf_consume(struct cx_buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void cx_buf_clear(struct cx_buf *b)
{
	b->off = b->len = 0;
}

void cx_buf_free(struct cx_buf *b)
{
	free(b->data);
	*b = (struct cx_buf){ 0 };
}
