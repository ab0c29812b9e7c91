#include "table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, const char *const *header, size_t cols)
{
	*t = (struct table){ .cols = cols };
	for (size_t i = 0; i < cols; i++)
		table_add(t, "%s", header[i]);
}

void table_add(struct table *t, const char *fmt, ...)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8 * t->cols;
		char **cells = reallocarray(t->cells, cap, sizeof *cells);
		if (!cells)
			return;  /* the listing loses a cell; there is nothing better to do */
		t->cells = cells;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&t->cells[t->n], fmt, ap) < 0)
		t->cells[t->n] = NULL;
	va_end(ap);
	t->n++;
}

/* Columns of a UTF-8 string: continuation bytes take none. */
static int width(const char *s)
{
	int w = 0;
	for (; s && *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void table_print(struct table *t, FILE *out)
{
	int *widths = calloc(t->cols, sizeof *widths);
	for (size_t i = 0; widths && i < t->n; i++)
		if (width(t->cells[i]) > widths[i % t->cols])
			widths[i % t->cols] = width(t->cells[i]);
	for (size_t i = 0; i < t->n; i++) {
		size_t col = i % t->cols;
		const char *cell = t->cells[i] ? t->cells[i] : "";
		bool last = col == t->cols - 1 || i == t->n - 1;
		if (last)
			fprintf(out, "%s\n", cell);
		else
			fprintf(out, "%s%*s  ", cell, widths ? widths[col] - width(cell) : 0, "");
		free(t->cells[i]);
	}
	free(widths);
	free(t->cells);
	*t = (struct table){ 0 };
}
