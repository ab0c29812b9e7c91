/* council: supervised LLM council runs, one OS process per run. */
#ifndef COUNCIL_H
#define COUNCIL_H

#include "council/client.h"
#include "council/error.h"
#include "council/ids.h"
#include "council/spec.h"
#include "council/supervisor.h"

#endif
