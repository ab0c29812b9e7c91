/* The clean environment: what a member command, a tool and the tenant
 * supervisor of another user start with, in place of whatever environment
 * their parent had (docs/security.md, "Environments").
 *
 * The fixed set is PATH, HOME and USER (from the password entry of the
 * process's uid, when it has one) and LANG; an exec profile's `env_pass`
 * names variables it takes from the worker's environment, and its `env`
 * sets variables outright, last, so `env` wins. Nothing else of the
 * worker's environment reaches a command: not an API key a provider of
 * the worker reads, not what councild was started with. */
#ifndef CX_CLEANENV_H
#define CX_CLEANENV_H

#include <cjson/cJSON.h>

/* The PATH of a tenant supervisor that does not inherit one. */
#define CX_CLEANENV_PATH "/usr/local/bin:/usr/bin:/bin"

/* An environment for execve: the fixed set (PATH and LANG as this process
 * has them, PATH defaulted), then the variables pass names (an array of
 * names, or NULL) that this process has, then set (an object of strings,
 * or NULL). NULL when out of memory; freed with cx_cleanenv_free. */
char **cx_cleanenv_build(const cJSON *set, const cJSON *pass);
void cx_cleanenv_free(char **envp);

/* Replaces this process's environment with the fixed set, PATH being
 * CX_CLEANENV_PATH, and the variables of keep (NULL-terminated names) it
 * had. Returns 0 or -ENOMEM (the environment is then left as it was). */
int cx_cleanenv_reset(const char *const *keep);

#endif
