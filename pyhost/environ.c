/*
 * environ.c: a process-mode worker's C environment, set whole before each
 * request as execve sets a new program's: exactly the request's entries,
 * nothing left of the last request or of what its script (or a C library
 * it called) set. Replacing the environ pointer costs one pass over the
 * block; the per-name unsetenv/putenv it replaced cost glibc a scan of the
 * environment and a search of its tree of known strings per call (tens
 * of microseconds a request).
 *
 * C code may keep what getenv returned (a C extension reads a variable
 * once, at import, and keeps the pointer): an entry string, once in
 * environ, is never freed. Each distinct "NAME=value" is kept once, in a
 * table, as glibc's setenv keeps every string it made; ph_environ_kept
 * says how much the table holds, so the worker can be retired before it
 * grows without bound (a distinct QUERY_STRING per request, say).
 */
#define _GNU_SOURCE /* strnlen */
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "pyhost.h"

extern char **environ;

/* The kept strings: an open-addressing set, never shrunk. */
static char **kept;
static size_t kept_cap, kept_len, kept_bytes;

/* The last two vectors set: the current one, and the one before, freed
 * only now (getenv's pointers are into the strings, not the vector). */
static char **env_vec[2];
static int env_cur;

static uint64_t hash_of(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static int kept_grow(void)
{
	size_t cap = kept_cap ? 2 * kept_cap : 256;
	char **t = calloc(cap, sizeof(char *));
	if (t == NULL)
		return -1;
	for (size_t i = 0; i < kept_cap; i++) {
		char *s = kept[i];
		if (s == NULL)
			continue;
		size_t j = hash_of(s, strlen(s)) & (cap - 1);
		while (t[j] != NULL)
			j = (j + 1) & (cap - 1);
		t[j] = s;
	}
	free(kept);
	kept = t;
	kept_cap = cap;
	return 0;
}

/* intern returns the kept copy of s (n bytes, no NUL), making it if it is
 * new; NULL when out of memory. */
static char *intern(const char *s, size_t n)
{
	if (2 * (kept_len + 1) > kept_cap && kept_grow() != 0)
		return NULL;
	size_t j = hash_of(s, n) & (kept_cap - 1);
	for (char *k; (k = kept[j]) != NULL; j = (j + 1) & (kept_cap - 1))
		if (strncmp(k, s, n) == 0 && k[n] == '\0')
			return k;
	char *k = malloc(n + 1);
	if (k == NULL)
		return NULL;
	memcpy(k, s, n);
	k[n] = '\0';
	kept[j] = k;
	kept_len++;
	kept_bytes += n + 1;
	return k;
}

int ph_set_environ(const char *block, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += block[i] == '\0';
	char **vec = malloc((count + 2) * sizeof(char *));
	if (vec == NULL)
		return -1;
	size_t k = 0;
	for (const char *p = block, *end = block + n; p < end;) {
		size_t len = strnlen(p, end - p);
		if (len > 0) {
			char *s = intern(p, len);
			if (s == NULL) {
				free(vec);
				return -1;
			}
			vec[k++] = s;
		}
		p += len + 1;
	}
	vec[k] = NULL;
	environ = vec;
	int old = env_cur ^ 1;
	free(env_vec[old]);
	env_vec[old] = vec;
	env_cur = old;
	return 0;
}

size_t ph_environ_kept(void) { return kept_bytes; }

int ph_drop_cstdio(void)
{
	int left = __fpending(stdout) > 0 || __fpending(stderr) > 0;
	if (left) {
		__fpurge(stdout);
		__fpurge(stderr);
	}
	clearerr(stdout);
	clearerr(stderr);
	return left;
}

void ph_trim_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}
