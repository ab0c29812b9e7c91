/* Text that reaches events and files is UTF-8, whatever a member wrote:
 * JSON readers elsewhere refuse anything else. */
#ifndef CX_UTF8_H
#define CX_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when
 * s does not start one (a stray continuation byte, an overlong form, a
 * surrogate, a code point past U+10FFFF, or a sequence cut short). */
size_t cx_utf8_seq_len(const unsigned char *s, size_t n);

/* A copy of s in which each byte that does not start a valid sequence
 * becomes U+FFFD; NULL when out of memory. */
char *cx_utf8_dup(const char *s);

#endif
