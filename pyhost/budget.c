/*
 * budget.c: --max-memory for scripts in the server's own interpreters
 * (sub-interpreters and main mode), where no process limit can single a
 * request out. While a request runs, what its thread allocates in large
 * blocks (a bytearray, a big list's array, a file read whole) and in
 * object arenas (where small objects live) counts against the limit; an
 * allocation beyond it fails, which Python raises as MemoryError, as
 * RLIMIT_DATA makes it fail in a CGI process. What the request frees
 * counts back. Threads the script starts are not counted (their memory is
 * the process's, as in process mode's RLIMIT_DATA it would be the
 * worker's). Installed only with a limit: without one, no allocation
 * passes through here.
 */
#include "pyhost_int.h"
#include <malloc.h>

/* Blocks below this come from CPython's small-object arenas (counted as
 * arenas) or are too small to matter one by one. */
#define BIG_BLOCK (64 * 1024)

static size_t limit;               /* bytes per request; 0: not installed */
static PyMemAllocatorEx raw;       /* CPython's raw allocator, wrapped */
static PyObjectArenaAllocator arena;
static __thread int counting;      /* this thread runs a request */
static __thread size_t used;       /* what its request holds */

static int
take(size_t n)
{
	if (used + n > limit || used + n < used)
		return 0;
	used += n;
	return 1;
}

static void
give(size_t n)
{
	used = used > n ? used - n : 0;
}

static void *
b_malloc(void *ctx, size_t n)
{
	void *p;

	(void)ctx;
	if (!counting || n < BIG_BLOCK)
		return raw.malloc(raw.ctx, n);
	if (!take(n))
		return NULL;
	if ((p = raw.malloc(raw.ctx, n)) == NULL)
		give(n);
	return p;
}

static void *
b_calloc(void *ctx, size_t nelem, size_t elsize)
{
	size_t n = nelem * elsize;
	void *p;

	(void)ctx;
	if (!counting || (elsize != 0 && n / elsize != nelem) || n < BIG_BLOCK)
		return raw.calloc(raw.ctx, nelem, elsize);
	if (!take(n))
		return NULL;
	if ((p = raw.calloc(raw.ctx, nelem, elsize)) == NULL)
		give(n);
	return p;
}

static void *
b_realloc(void *ctx, void *ptr, size_t n)
{
	size_t old, grow;
	void *p;

	(void)ctx;
	if (!counting)
		return raw.realloc(raw.ctx, ptr, n);
	old = ptr ? malloc_usable_size(ptr) : 0;
	grow = n > old && n >= BIG_BLOCK ? n - old : 0;
	if (grow && !take(grow))
		return NULL;
	if ((p = raw.realloc(raw.ctx, ptr, n)) == NULL) {
		give(grow);
		return NULL;
	}
	if (n < old && old >= BIG_BLOCK)
		give(old - n);
	return p;
}

static void
b_free(void *ctx, void *ptr)
{
	(void)ctx;
	if (counting && ptr != NULL) {
		size_t n = malloc_usable_size(ptr);

		if (n >= BIG_BLOCK)
			give(n);
	}
	raw.free(raw.ctx, ptr);
}

static void *
b_arena_alloc(void *ctx, size_t n)
{
	void *p;

	(void)ctx;
	if (!counting)
		return arena.alloc(arena.ctx, n);
	if (!take(n))
		return NULL;
	if ((p = arena.alloc(arena.ctx, n)) == NULL)
		give(n);
	return p;
}

static void
b_arena_free(void *ctx, void *ptr, size_t n)
{
	(void)ctx;
	if (counting)
		give(n);
	arena.free(arena.ctx, ptr, n);
}

void
ph_limit_memory(size_t per_request)
{
	limit = per_request;
}

void
ph_budget_install(void)
{
	static PyMemAllocatorEx wrapped = {NULL, b_malloc, b_calloc, b_realloc, b_free};
	static PyObjectArenaAllocator wrapped_arena = {NULL, b_arena_alloc, b_arena_free};

	if (limit == 0)
		return;
	PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
	PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &wrapped);
	PyObject_GetArenaAllocator(&arena);
	PyObject_SetArenaAllocator(&wrapped_arena);
}

void
ph_budget_begin(void)
{
	if (limit != 0) {
		used = 0;
		counting = 1;
	}
}

void
ph_budget_end(void)
{
	counting = 0;
}
