/* Sub-councils named by path (docs/spec.md): read by the client that sends
 * the spec, with its user's own rights, and put in place before the spec
 * leaves it, so the supervisor never opens a file a spec names. A path is
 * relative to the directory of the file that names it. Only regular files
 * are read (never a FIFO or a device that could block or never end), a
 * council that includes itself is refused, and what is read is bounded:
 * CX_SPEC_MAX_DEPTH levels, MAX_FILES files, CX_SPEC_MAX_BYTES in all. */
#include "council/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "shape.h"

#define MAX_FILES 64

struct reader {
	struct cx_check check;
	size_t files, bytes;
	bool changed;              /* a path was replaced */
	struct { dev_t dev; ino_t ino; } chain[CX_SPEC_MAX_DEPTH + 1];
	int depth;                 /* files on the chain: the one being resolved and its includers */
};

static void resolve(struct reader *rd, cJSON *spec, const char *dir, const char *at, int depth);

/* dir/name, or name when absolute. */
static char *joined(const char *dir, const char *name)
{
	char *path;
	if (name[0] == '/')
		return strdup(name);
	return asprintf(&path, "%s/%s", dir, name) < 0 ? NULL : path;
}

/* Opens a regular file to read, refusing what would block or loop. */
static int open_regular(struct reader *rd, const char *path, const char *at, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || fstat(fd, st) < 0) {
		cx_check_report(&rd->check, at, "unreadable_council", "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *refusal = !S_ISREG(st->st_mode) ? "not a regular file"
			      : (size_t)st->st_size > CX_SPEC_MAX_BYTES - rd->bytes
				? "over the 1 MiB a spec may hold in all" : NULL;
	for (int i = 0; !refusal && i < rd->depth; i++)
		if (rd->chain[i].dev == st->st_dev && rd->chain[i].ino == st->st_ino)
			refusal = "a council that includes itself";
	if (!refusal && ++rd->files > MAX_FILES)
		refusal = "more than 64 files of sub-councils";
	if (refusal) {
		cx_check_report(&rd->check, at, "unreadable_council", "%s: %s", path, refusal);
		close(fd);
		return -1;
	}
	return fd;
}

/* At most size bytes of fd; *n of them came. */
static char *read_all(int fd, size_t size, size_t *got_n)
{
	char *text = malloc(size + 1);
	size_t n = 0;

	while (text && n < size) {
		ssize_t got = read(fd, text + n, size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (text)
		text[n] = '\0';
	*got_n = n;
	return text;
}

/* The council in the file `name` (relative to dir), its own sub-councils
 * put in place; NULL when it cannot be had (reported at `at`). */
static cJSON *council_from(struct reader *rd, const char *dir, const char *name,
			   const char *at, int depth)
{
	char *path = joined(dir, name);
	struct stat st;
	cJSON *council = NULL;
	int fd = path ? open_regular(rd, path, at, &st) : -1;

	if (fd >= 0) {
		size_t n;
		char *text = read_all(fd, (size_t)st.st_size, &n);
		close(fd);
		rd->bytes += (size_t)st.st_size;
		char why[128];
		council = text ? cx_json_parse(text, n, why, sizeof why) : NULL;
		if (text && !council)
			cx_check_report(&rd->check, at, "invalid_json", "%s: %s", path, why);
		free(text);
	}
	if (council) {
		*strrchr(path, '/') = '\0';   /* joined() gave it a '/' */
		rd->chain[rd->depth].dev = st.st_dev;
		rd->chain[rd->depth].ino = st.st_ino;
		rd->depth++;
		resolve(rd, council, path[0] ? path : "/", at, depth);
		rd->depth--;
	}
	free(path);
	return council;
}

static void resolve_member(struct reader *rd, cJSON *member, const char *dir,
			   const char *member_at, int depth)
{
	cJSON *council = cJSON_GetObjectItemCaseSensitive(member, "council");
	char at[CX_PATH_MAX];

	if (!council)
		return;
	cx_path_key(at, member_at, "council");
	if (depth > CX_SPEC_MAX_DEPTH) {
		cx_check_report(&rd->check, at, "too_deep", "sub-councils nest at most %d deep",
				CX_SPEC_MAX_DEPTH);
		return;
	}
	if (cJSON_IsObject(council)) {
		resolve(rd, council, dir, at, depth);
		return;
	}
	if (!cJSON_IsString(council) || !council->valuestring[0])
		return;   /* the spec's check reports it */
	cJSON *read = council_from(rd, dir, council->valuestring, at, depth);
	if (read) {
		cJSON_ReplaceItemInObjectCaseSensitive(member, "council", read);
		rd->changed = true;
	}
}

/* The sub-councils of spec, itself at depth (0: the run's council). */
static void resolve(struct reader *rd, cJSON *spec, const char *dir, const char *at, int depth)
{
	char member_at[CX_PATH_MAX], members_at[CX_PATH_MAX];
	cJSON *member;
	size_t i = 0;

	cx_path_key(members_at, at, "members");
	cJSON_ArrayForEach(member, cJSON_GetObjectItemCaseSensitive(spec, "members")) {
		cx_path_index(member_at, members_at, i++);
		resolve_member(rd, member, dir, member_at, depth + 1);
	}
	cx_path_key(member_at, at, "chair");
	resolve_member(rd, cJSON_GetObjectItemCaseSensitive(spec, "chair"), dir, member_at,
		       depth + 1);
}

int cx_spec_inline(const char *text, size_t len, const char *dir, char **out,
		   size_t *out_len, struct cx_diags *diags)
{
	struct reader rd = { .check = { .diags = diags } };
	cJSON *spec = cx_spec_json(&rd.check, text, len);
	char *inlined = NULL;

	*out = NULL;
	if (spec) {
		rd.bytes = len;
		resolve(&rd, spec, dir, "", 0);
	}
	if (rd.check.errors) {
		cJSON_Delete(spec);
		return CX_EINVALID;
	}
	/* Untouched, the text stays as written: cx_spec_parse reports what is
	 * wrong with its fields at their own byte offsets. */
	inlined = rd.changed ? cJSON_PrintUnformatted(spec) : strndup(text, len);
	cJSON_Delete(spec);
	if (!inlined)
		return CX_ENOMEM;
	*out = inlined;
	*out_len = strlen(inlined);
	return CX_OK;
}
