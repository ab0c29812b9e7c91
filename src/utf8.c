#include "utf8.h"

#include <stdlib.h>
#include <string.h>

size_t cx_utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;  /* the second byte's range (RFC 3629) */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

char *cx_utf8_dup(const char *s)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t n = strlen(s), bad = 0;
	for (size_t i = 0, k; i < n; i += k ? k : 1)
		bad += !(k = cx_utf8_seq_len(in + i, n - i));
	char *out = malloc(n + 2 * bad + 1), *o = out;
	if (!out || !bad)
		return out ? memcpy(out, s, n + 1) : NULL;
	for (size_t i = 0, k; i < n; i += k ? k : 1) {
		if ((k = cx_utf8_seq_len(in + i, n - i))) {
			memcpy(o, in + i, k);
			o += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
		}
	}
	*o = '\0';
	return out;
}
