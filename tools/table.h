/* Listings in aligned columns, like ps(1): cells are added row by row (the
 * header is the first row), and printed once every width is known. */
#ifndef CX_TOOLS_TABLE_H
#define CX_TOOLS_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table {
	size_t cols;
	char **cells;              /* row-major; NULL cells print empty */
	size_t n, cap;
};

/* A table of cols columns, named by header. */
void table_init(struct table *t, const char *const *header, size_t cols);
#define TABLE_INIT(t, header) table_init((t), (header), sizeof (header) / sizeof *(header))
/* One cell, printf-style. */
void table_add(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints every row, columns padded to their widest cell, then frees. */
void table_print(struct table *t, FILE *out);

#endif
