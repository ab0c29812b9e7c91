/* Replays inputs through a harness without libFuzzer: each file named, and
 * each file of each directory named (in name order), is read whole and
 * handed to LLVMFuzzerTestOneInput. A crash or sanitizer report ends the
 * replay, as it ends a fuzzing run; the corpus file is then the one named
 * last on stderr. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "fuzz.h"

static int replay_file(const char *path)
{
	char *data;
	size_t len;
	int r = cx_read_file(AT_FDCWD, path, SIZE_MAX, &data, &len);
	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return -1;
	}
	fprintf(stderr, "replay: %s\n", path);
	/* An exact-size copy, so ASan sees a read past the input's end. */
	uint8_t *input = malloc(len ? len : 1);
	memcpy(input, data, len);
	free(data);
	LLVMFuzzerTestOneInput(input, len);
	free(input);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Returns how many inputs it replayed, or -1. */
static int replay(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	struct dirent **names;
	int n = scandir(path, &names, not_hidden, by_name), done = 0;
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];
		snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
		if (done >= 0)
			done = replay_file(file) < 0 ? -1 : done + 1;
		free(names[i]);
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	int total = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int n = replay(argv[i]);
		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("corpus: %d inputs replayed\n", total);
	return 0;
}
