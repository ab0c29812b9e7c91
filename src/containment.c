/* Which containment a run gets (containment.h says why, in that order). */
#include "containment.h"

#include <errno.h>
#include <string.h>

const char *cx_containment_name(enum cx_containment c)
{
	switch (c) {
	case CX_CONTAIN_CGROUP:
		return "cgroup";
	case CX_CONTAIN_PIDNS:
		return "pidns";
	case CX_CONTAIN_PGROUP:
		break;
	}
	return "pgroup";
}

int cx_containment_from_name(const char *name, enum cx_containment *out)
{
	static const enum cx_containment all[] = {
		CX_CONTAIN_PGROUP, CX_CONTAIN_PIDNS, CX_CONTAIN_CGROUP,
	};
	for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(name, cx_containment_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

enum cx_containment cx_containment_detect(void)
{
	if (cx_cgroup_available())
		return CX_CONTAIN_CGROUP;
	if (cx_pidns_available())
		return CX_CONTAIN_PIDNS;
	return CX_CONTAIN_PGROUP;
}
