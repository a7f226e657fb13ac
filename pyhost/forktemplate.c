/*
 * forktemplate.c: the fork template, an early mode (early.c).
 *
 * The fork template (--isolation fork, PH_FORK_TEMPLATE_ENV): Python is
 * initialised in the main interpreter with the server's configuration but
 * CPython's own signal handlers (its children are plain Python
 * processes), the template's Python source is read as the first frame
 * from the socket the server passed (Go's embedded files are out of reach
 * before Go starts), run, and the process ends without returning into Go.
 */
#include "pyhost_int.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
ph_fork_template_env(void)
{
	return PH_FORK_TEMPLATE_ENV;
}

/* read_full reads n bytes from fd; -1 on EOF or error. */
static int
read_full(int fd, void *p, size_t n)
{
	char *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* env_copy returns a copy of the variable's value (NULL when unset or empty) and unsets it. */
static char *
env_copy(const char *name)
{
	const char *v = getenv(name);
	char *c = (v != NULL && *v != '\0') ? strdup(v) : NULL;

	unsetenv(name);
	return c;
}

/*
 * read_source reads the template's source, the first frame on fd: 'S', a
 * little-endian u32 length, the bytes (procmode's framing). NULL on error.
 */
static char *
read_source(int fd)
{
	unsigned char hdr[5];
	uint32_t n;
	char *src;

	if (read_full(fd, hdr, sizeof hdr) < 0 || hdr[0] != 'S')
		return NULL;
	n = (uint32_t)hdr[1] | (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3] << 16 | (uint32_t)hdr[4] << 24;
	if (n > (64u << 20) || (src = malloc((size_t)n + 1)) == NULL)
		return NULL;
	if (read_full(fd, src, n) < 0) {
		free(src);
		return NULL;
	}
	src[n] = '\0';
	return src;
}

/*
 * run_job runs a child's script when the template's code has returned in
 * a child (its _JOB set): here, so that the script's frame is the
 * outermost one, as under `python3 script.py` (tracebacks, stacks); the
 * template's _finish then ends it as CPython's main would. Never returns.
 */
static void
run_job(PyObject *dict)
{
	PyObject *job = PyDict_GetItemString(dict, "_JOB");
	PyObject *finish = PyDict_GetItemString(dict, "_finish");
	PyObject *res, *t = NULL, *v = NULL, *tb = NULL, *st;
	long status = 1;

	if (job == NULL || !PyTuple_Check(job) || PyTuple_GET_SIZE(job) != 2 || finish == NULL)
		_exit(0); /* the template itself: its code returned */
	res = PyEval_EvalCode(PyTuple_GET_ITEM(job, 0), PyTuple_GET_ITEM(job, 1), PyTuple_GET_ITEM(job, 1));
	if (res == NULL) {
		PyErr_Fetch(&t, &v, &tb);
		PyErr_NormalizeException(&t, &v, &tb);
		if (v != NULL && tb != NULL)
			PyException_SetTraceback(v, tb);
	} else {
		Py_DECREF(res);
	}
	st = PyObject_CallFunctionObjArgs(finish, v != NULL ? v : Py_None, NULL);
	if (st != NULL) {
		status = PyLong_AsLong(st);
	}
	if (st == NULL || PyErr_Occurred()) {
		PyErr_Print();
		status = 1;
	}
	fflush(stdout);
	fflush(stderr);
	/* The script's output ends here: its server sees EOF now, not once
	 * the kernel has torn down the fork's memory (exit closes the
	 * descriptors only after that), which takes milliseconds. */
	close(0);
	close(1);
	close(2);
	_exit((int)(status & 0xff));
}

/*
 * fork_template is the whole life of a fork template: it never returns.
 * The source runs in a module of its own (not __main__, which each child
 * makes fresh) with _SOCK_FD set; it ends the process itself.
 */
void
ph_fork_template(const char *fdtext)
{
	char errbuf[512];
	int fd = atoi(fdtext);
	char *prog = env_copy(PH_FORK_PROGRAM_ENV);
	char *cache = env_copy(PH_FORK_PYCACHE_ENV);
	char *src;
	PyObject *mod, *dict, *code, *res;

	unsetenv(PH_FORK_TEMPLATE_ENV);
	src = read_source(fd);
	if (src == NULL) {
		fprintf(stderr, "warmcgi fork template: no source on fd %d\n", fd);
		_exit(70);
	}
	if (ph_start_python(prog, cache, 1, errbuf, sizeof errbuf) != PH_OK) {
		fprintf(stderr, "warmcgi fork template: python: %s\n", errbuf);
		_exit(70);
	}
	mod = PyModule_New("_warmcgi_fork");
	dict = mod ? PyModule_GetDict(mod) : NULL;
	if (dict == NULL || PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0 ||
	    PyDict_SetItemString(dict, "_SOCK_FD", PyLong_FromLong(fd)) < 0) {
		PyErr_Print();
		_exit(70);
	}
	/* Named, so a stack a script prints says whose frames lie below its own. */
	code = Py_CompileString(src, "<warmcgi fork template>", Py_file_input);
	res = code ? PyEval_EvalCode(code, dict, dict) : NULL;
	if (res == NULL) {
		PyErr_Print();
		fflush(stderr);
		_exit(70);
	}
	run_job(dict);
	_exit(0);
}
