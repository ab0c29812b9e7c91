/* Which containment a run gets (containment.h says why, in that order). */
#include "containment.h"

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

enum cx_containment cx_containment_detect(void)
{
	if (cx_cgroup_available())
		return CX_CONTAIN_CGROUP;
	if (cx_pidns_available())
		return CX_CONTAIN_PIDNS;
	return CX_CONTAIN_PGROUP;
}
