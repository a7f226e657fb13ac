/*
 * environ.c: a process-mode worker's C environment, set whole before each
 * request as execve sets a new program's: exactly the request's entries,
 * nothing left of the last request or of what its script (or a C library
 * it called) set. Replacing the environ pointer costs one copy of the
 * block; the per-name unsetenv/putenv it replaced cost glibc a scan of the
 * environment and a search of its tree of known strings per call (tens
 * of microseconds a request).
 */
#include <stdlib.h>
#include <string.h>

#include "pyhost.h"

extern char **environ;

/* The last two environments set: the current one, and the one before,
 * which nothing reads any more once environ has moved on, but is freed
 * only now to leave a reader a request's grace. */
static char *env_buf[2];
static char **env_vec[2];
static int env_cur;

int ph_set_environ(const char *block, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += block[i] == '\0';
	char *buf = malloc(n + 1);
	char **vec = malloc((count + 2) * sizeof(char *));
	if (buf == NULL || vec == NULL) {
		free(buf);
		free(vec);
		return -1;
	}
	memcpy(buf, block, n);
	buf[n] = '\0';
	size_t k = 0;
	for (char *p = buf, *end = buf + n; p < end; p += strlen(p) + 1)
		if (*p != '\0')
			vec[k++] = p;
	vec[k] = NULL;
	environ = vec;
	int old = env_cur ^ 1;
	free(env_buf[old]);
	free(env_vec[old]);
	env_buf[old] = buf;
	env_vec[old] = vec;
	env_cur = old;
	return 0;
}
