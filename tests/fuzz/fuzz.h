/* What every fuzz harness (tests/fuzz/fuzz_<target>.c) provides: libFuzzer's
 * entry point. libFuzzer calls it with inputs it mutates (./tools/dev fuzz);
 * driver.c calls it with each file of the target's corpus, so the plain and
 * sanitizer builds replay every input ever found interesting. */
#ifndef CX_FUZZ_H
#define CX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A promise of the code under test that the input broke: a crash, like a
 * sanitizer's report, so libFuzzer keeps the input and the replay fails. */
#define FUZZ_ASSERT(cond)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                   \
		}                                                                  \
	} while (0)

#endif
