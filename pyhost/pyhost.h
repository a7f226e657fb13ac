/*
 * pyhost.h: the whole C API that Go sees. It never includes Python.h, so
 * no CPython type crosses into Go: a ph_interp is opaque, and every result
 * is plain bytes.
 *
 * Conventions:
 *   - Every function that can fail returns 0 (PH_OK) or a negative PH_E*
 *     code; where a message is useful it is written to errbuf. The
 *     queries (ph_library_path, ph_python_static, ph_version, ph_own_gil,
 *     ph_dict_versions) cannot fail and return their answer; ph_park
 *     returns nothing.
 *   - Threads: the thread that creates an interp (ph_interp_new,
 *     ph_main_new) owns it. ph_exec and ph_interp_free must be called on
 *     that thread, one at a time; on any other they return
 *     PH_EWRONGTHREAD and change nothing. Only ph_park may be called from
 *     any thread.
 *   - Ownership: input pointers are borrowed for the duration of the call
 *     only: C copies what it keeps and never stores a caller's pointer.
 *     Output pointers (ph_result, *out) point to C-owned memory, valid as
 *     each declaration says.
 *   - No function is called with the GIL held, and none returns holding it.
 */
#ifndef PYHOST_H
#define PYHOST_H

#include <stddef.h>
#include <stdint.h>

enum {
	PH_OK = 0,
	PH_EINIT = -1,       /* Python could not be initialised */
	PH_ERUNTIME = -3,    /* the warmcgi runtime itself failed (a bug) */
	PH_ECREATE = -4,     /* a new interpreter could not be created */
	PH_ELEFT = -5,       /* ph_interp_free left the interpreter as it was (a thread of its own still ran) */
	PH_EWRONGTHREAD = -6 /* called on a thread other than the interp's owner: nothing was done */
};

/* ph_interp is one interpreter, owned by the C layer and by the thread that created it. */
typedef struct ph_interp ph_interp;

/*
 * ph_result is filled by ph_exec. Every pointer in it points into objects
 * owned by the interpreter and stays valid until that interpreter's next
 * ph_exec or ph_interp_free; the caller copies what it needs at once.
 */
typedef struct {
	int exit_code;          /* the script's exit status as CPython reports it */
	int compiled;           /* 0: code cache hit, 1: first compile, 2: recompiled after a change */
	const char *out;        /* stdout bytes (CGI headers, blank line, body) */
	size_t out_n;
	const char *err;        /* stderr bytes, tracebacks included */
	size_t err_n;
	const char *failure;    /* UTF-8; empty when the script completed; the runtime's failure on PH_ERUNTIME */
	size_t failure_n;
	const char *late;       /* output written while no request was active */
	size_t late_n;
	int threads_left;       /* threads the script started still run */
	int timed_out;          /* the runtime's watchdog ended the request (its time limit passed) */
	const char *needs_mode; /* UTF-8; why the script needs another mode than this one, or empty */
	size_t needs_mode_n;
} ph_result;

/*
 * ph_library_path returns the file name of the loaded libpython (from
 * dladdr), or NULL. Any thread, any time; the string is static.
 */
const char *ph_library_path(void);

/*
 * ph_python_static reports whether libpython is linked into the same file
 * as this code (pyhost/pylink.sh) rather than loaded as a shared library.
 */
int ph_python_static(void);

/* ph_version returns Py_GetVersion(). Any thread, any time; the string is static. */
const char *ph_version(void);

/*
 * ph_limit_memory sets the memory a request of an interpreter of this
 * process may allocate (--max-memory in embedded modes; 0: no limit). Call
 * it before ph_init.
 */
void ph_limit_memory(size_t per_request);

/* ph_own_gil reports whether ph_options.own_gil is available in this build. Any thread, any time. */
int ph_own_gil(void);

/*
 * ph_dict_versions reports whether this Python has PEP 509 dict versions
 * (up to 3.13); ph_dict_watch whether module state is watched through dict
 * watchers (3.12+; where an interpreter has no watcher free, through
 * versions, or on 3.14 by comparing dicts): modstate.c. Any thread, any time.
 */
int ph_dict_versions(void);
int ph_dict_watch(void);

/*
 * PH_FORK_TEMPLATE_ENV names the environment variable that makes this
 * binary a fork template (--isolation fork): when it is set, a constructor
 * (early.c) runs before the Go runtime starts, becomes the template and
 * never returns into Go. Its value is the number of the fd of the
 * template's socket. internal/procmode.TemplateEnv is the same name.
 * PH_FORK_PROGRAM_ENV and PH_FORK_PYCACHE_ENV carry the program name and
 * the bytecode cache that ph_init would be given.
 */
#define PH_FORK_TEMPLATE_ENV "WARMCGI_FORK_TEMPLATE"
#define PH_FORK_PROGRAM_ENV "WARMCGI_FORK_PROGRAM"
#define PH_FORK_PYCACHE_ENV "WARMCGI_FORK_PYCACHE"

/* ph_fork_template_env returns PH_FORK_TEMPLATE_ENV (for a test that Go's name is the same). */
const char *ph_fork_template_env(void);

/*
 * ph_init initialises the main interpreter with an isolated configuration
 * (PYTHON* environment variables ignored, UTF-8 mode, no signal handlers)
 * and releases the GIL. Call once per process, from any thread.
 * program_name: the python executable that belongs to the linked libpython
 * (so the matching standard library is found), or NULL.
 * pycache_prefix: where bytecode of imported modules is written, or NULL to
 * write none. Both are borrowed (copied into Python's configuration);
 * errbuf (errlen bytes) is the caller's.
 */
int ph_init(const char *program_name, const char *pycache_prefix, char *errbuf, size_t errlen);

/* ph_bytes is a borrowed view of length n (p may be NULL when n is 0). */
typedef struct {
	const char *p;
	size_t n;
} ph_bytes;

/* ph_stamp identifies a script file's version: a change recompiles. */
typedef struct {
	int64_t mtime_ns;
	int64_t size;
	uint64_t inode;
	uint64_t dev;
} ph_stamp;

/*
 * ph_options configure a new interp. runtime_src is the warmcgi runtime's
 * Python source, NUL-terminated; the other fields become the runtime's
 * settings, globals it reads as it is installed (_CHDIR, _MODULES,
 * _GLOBALS, _TIMEOUT, _CGI_ESCAPE, _PRELOAD, _REAL_PROCESS, _PYLIB, _EXT_GUARD; _MAIN
 * says whether it is the main interpreter). Borrowed for the call.
 */
typedef struct {
	const char *runtime_src;
	int own_gil;        /* a GIL of its own (only when ph_own_gil()); ignored by ph_main_new */
	int chdir;          /* requests may start in their script's directory */
	int keep_modules;   /* --modules keep (else purge) */
	int keep_globals;   /* --globals keep (else fresh) */
	int cgi_escape;     /* define cgi.escape as before Python 3.8 */
	int real_process;   /* the interpreter owns its whole worker process */
	double timeout;     /* seconds a request may run; 0: no limit */
	ph_bytes preload;   /* modules imported at creation, "name\0" repeated (UTF-8) */
	ph_bytes pylib;     /* modules warmcgi brings, "name\0source\0" repeated (UTF-8) */
	uintptr_t ext_guard; /* not 0: Go handle judging extension modules (go_pyhost_ext_verdict); sub-interpreters only */
} ph_options;

/*
 * ph_interp_new creates a sub-interpreter on the calling thread, which
 * then owns it, and installs the warmcgi runtime in it with o's settings
 * (o borrowed for the call). Any thread after ph_init; the caller
 * serialises creations. On success *out is the new interp (the C layer's, until
 * ph_interp_free); on failure (PH_EINIT, PH_ECREATE, PH_ERUNTIME) errbuf
 * says why.
 */
int ph_interp_new(const ph_options *o, ph_interp **out, char *errbuf, size_t errlen);

/*
 * ph_main_new makes an interp of the calling thread's own thread state of
 * the main interpreter instead of a sub-interpreter (main mode, for C
 * extensions that refuse sub-interpreters); the calling thread owns it, as
 * with ph_interp_new. The first successful call in the process installs
 * the warmcgi runtime in the main interpreter with o's settings (o
 * borrowed for the call); later calls share that runtime and ignore o.
 * Main-mode interps share one runtime, so ph_exec runs their requests one
 * at a time (see ph_exec); sub-interpreters are not affected. After the
 * first call it neither takes the GIL nor waits for a running request. A
 * failed install is final: every later call fails with the same message.
 * On success *out is the new interp; on failure errbuf says why.
 */
int ph_main_new(const ph_options *o, ph_interp **out, char *errbuf, size_t errlen);

/*
 * ph_request is one CGI request. Every pointer in it is borrowed for the
 * ph_exec call only (Go pins the memory for the call).
 */
typedef struct {
	ph_bytes path;        /* absolute script path (file-system encoding); the code cache key */
	ph_stamp stamp;       /* with unbuffered and optimize, the code cache key */
	int unbuffered;       /* python -u */
	int optimize;         /* python -O level: 0, 1 or 2 */
	ph_bytes env;         /* "K=V\0" repeated */
	ph_bytes args;        /* argv[1:], "word\0" repeated */
	ph_bytes body;        /* the request body, unless body_fd or reader */
	int body_fd;          /* >= 0: a seekable file holding the body, read through a dup */
	uintptr_t stream;     /* not 0: Go handle flushed output goes to (go_pyhost_emit) */
	uintptr_t reader;     /* not 0: Go handle the body is read from (go_pyhost_read) */
	int chdir;            /* start the script in its directory */
} ph_request;

/*
 * ph_exec runs one CGI request: the script at req->path with its stamp,
 * environment block, argv[1:] block and body. When req->stream is not 0,
 * output the script flushes is sent to that Go handle while it runs
 * (go_pyhost_emit, called on this thread without the GIL). When
 * req->reader is not 0 the body is read from that Go handle as the script
 * reads it (go_pyhost_read; body and body_fd are then unused). When
 * req->chdir is set the script starts in its directory, after the calling
 * thread is given a working directory of its own (unshare(CLONE_FS), once
 * per thread); the thread is back in the server's directory when ph_exec
 * returns. The owner thread only (else PH_EWRONGTHREAD, res untouched);
 * req is borrowed for the call, res is the caller's and is filled as
 * ph_result says. Returns PH_OK when the script ran, whatever it did, or
 * PH_ERUNTIME with the runtime's failure in res->failure. The only call
 * into C on the per-request path. For a main-mode interp the call first
 * waits, without the GIL, until no other main-mode request runs.
 */
int ph_exec(ph_interp *ip, const ph_request *req, ph_result *res);

/*
 * ph_set_environ makes block (n bytes of "NAME=value\0" entries) the
 * process's whole C environment, as execve makes a new program's: what
 * getenv, C extensions and child processes see. For a process-mode
 * worker, before each request, on the thread that runs it, while no other
 * thread of the process reads the environment. Returns 0, or -1 when out
 * of memory (the environment is then unchanged).
 */
int ph_set_environ(const char *block, size_t n);

/*
 * ph_environ_kept is how many bytes of environment strings
 * ph_set_environ keeps (each distinct entry once, never freed: C code may
 * hold what getenv returned).
 */
size_t ph_environ_kept(void);

/*
 * ph_drop_cstdio, after each request of a process-mode worker (whose fd 1
 * is a different request's pipe each time), drops what C's stdout or
 * stderr still holds and returns 1 if there was any. The runtime flushes
 * them as the script ends (_cflush, after Python's own streams, as exit()
 * does after Py_Finalize), so only what a failed flush left (the client
 * went away) is dropped: it never goes out with the next request.
 */
int ph_drop_cstdio(void);

/*
 * ph_trim_memory gives the pages malloc holds free back to the kernel
 * (glibc's malloc_trim; elsewhere nothing): once Python's interpreters
 * have started, and when no request has run for a second (TrimWhenIdle).
 */
void ph_trim_memory(void);

/*
 * ph_interp_free ends the interpreter and frees ip. The owner thread only
 * (else PH_EWRONGTHREAD, and ip stays as it is), with no ph_exec on it
 * running. For a main-mode interp it only frees the handle: the main
 * interpreter and its runtime stay for the other main-mode interps.
 * Returns PH_ELEFT when the interpreter had to be left as it is (a thread
 * of its own still ran: Py_EndInterpreter would abort the process), PH_OK
 * otherwise; either way ip is freed. NULL is PH_OK.
 */
int ph_interp_free(ph_interp *ip);

/*
 * ph_park tells the interpreter that the server has given up on the
 * request it runs (it overran its time limit and did not stop) and will
 * never use it again: the runtime's watchdog then parks the request's
 * thread for good, asleep. Any thread, any time before ph_interp_free,
 * no GIL; only an atomic store.
 */
void ph_park(ph_interp *ip);

#endif
