/*
 * pyhost.c: the C layer between Go and libpython: initialisation, the
 * interpreters' lifecycle (sub-interpreters and main mode) and ph_exec,
 * which moves one request's bytes in and its result out. It owns every
 * PyObject: interpreters, the runtime module in each (module.c) and the
 * last result of each interpreter. The compatibility work (stdio proxies,
 * environ, __main__, the code cache) is Python in the runtime/ files.
 */
#include "pyhost_int.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <locale.h>
#include <sched.h>
#include <unistd.h>
#include <pthread.h>
#include <string.h>

/*
 * One thread owns an interpreter: the one that created it (pthread_self()
 * is recorded in owner). It runs every request on the thread state made
 * with the interpreter and ends it; every entry point but ph_park checks
 * the calling thread and refuses another with PH_EWRONGTHREAD. CPython's
 * threading module takes the thread that made an interpreter for its main
 * thread and wants that thread to end it, which this rule gives.
 */

/* Slots of an interpreter's environment cache (a power of two), and the
 * longest name and value kept there. */
#define PH_ENVCACHE 128
#define PH_ENVKEY_MAX 128
#define PH_ENVVAL_MAX 1024

struct ph_interp {
	PyInterpreterState *interp;
	pthread_t owner;   /* the thread that created it: the only one that may use it */
	PyThreadState *ts; /* the owner's thread state: the interpreter's own, or in main mode the owner's pinned one */
	PyObject *run;     /* _warmcgi._run */
	PyObject *last;    /* the previous result, kept alive for ph_result */
	PyObject *errtext; /* bytes describing a runtime failure */
	int in_main;       /* the main interpreter (ph_main_new) */
	int park;          /* set by ph_park, read by _parked; atomic */
	/* The environment's bytes objects of earlier requests (env_dict),
	 * by a hash of the name: most names and values are the same from
	 * one request to the next. */
	struct {
		PyObject *k, *v;
	} env[PH_ENVCACHE];
};

static PyInterpreterState *main_interp;

/* The server's working directory, put back on a thread after a request
 * that ran in its script's directory. */
static int server_cwd = -1;

/*
 * pin_thread gives the calling thread, once, a thread state of the main
 * interpreter that lives as long as the thread, and a private working
 * directory (unshare(CLONE_FS)) when want_fs is set. CPython remembers the
 * first thread state made on a thread for PyGILState_*; pinning that to a
 * main-interpreter state that is never freed means no thread is left
 * pointing at the state of an interpreter freed later. Returns whether the
 * thread's working directory is its own.
 */
static __thread PyThreadState *pinned;
static __thread int fs_private;

static int
pin_thread(int want_fs)
{
	if (pinned == NULL)
		pinned = PyThreadState_New(main_interp);
	if (want_fs && !fs_private)
		fs_private = unshare(CLONE_FS) == 0 ? 1 : -1;
	return fs_private == 1;
}

/* owned reports whether the calling thread is ip's owner. */
static int
owned(const ph_interp *ip)
{
	return pthread_equal(ip->owner, pthread_self());
}

/*
 * Main mode: every main-mode interp is a thread state of the main
 * interpreter, and they all share the one runtime installed there. That
 * runtime keeps the current request in interpreter-wide state (sys.stdout,
 * os.environ, sys.modules, sys.argv, __main__), so main-mode requests run
 * one at a time: main_mu is held for a whole ph_exec, taken before the
 * GIL so that a waiting worker never holds it. main_run and main_failed
 * are written once, under main_init_mu, which a running request never
 * holds: creating a main-mode interp does not wait for one.
 */
static pthread_mutex_t main_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t main_init_mu = PTHREAD_MUTEX_INITIALIZER;
static PyObject *main_run;       /* the main interpreter's _warmcgi._run, kept for the process */
static char main_failed[512];    /* why installing it failed, if it did */

/*
 * main_park is the park flag of the main interpreter: its runtime serves
 * every main-mode interp, one request at a time, so a request given up on
 * there parks its thread, and the main interpreter is not used again.
 */
static int main_park;

void
ph_park(ph_interp *ip)
{
	__atomic_store_n(ip->in_main ? &main_park : &ip->park, 1, __ATOMIC_RELAXED);
}

const char *
ph_library_path(void)
{
	Dl_info info;

	if (dladdr((void *)Py_GetVersion, &info) == 0)
		return NULL;
	return info.dli_fname;
}

int
ph_python_static(void)
{
	Dl_info py, self;

	/* Python's code sits in the same file as this one's. */
	if (dladdr((void *)Py_GetVersion, &py) == 0 || dladdr((void *)ph_python_static, &self) == 0)
		return 0;
	return py.dli_fbase == self.dli_fbase;
}

const char *
ph_version(void)
{
	return Py_GetVersion();
}

int
ph_own_gil(void)
{
	return PH_HAVE_OWN_GIL;
}

int
ph_start_python(const char *program_name, const char *pycache_prefix, int install_signals, char *errbuf, size_t errlen)
{
	PyPreConfig pre;
	PyConfig cfg;
	PyStatus st;

	/*
	 * A CGI child under Apache starts in the C locale, which CPython
	 * coerces to C.UTF-8 (PEP 538); give the process the same LC_CTYPE.
	 */
	setlocale(LC_CTYPE, "C.UTF-8");

	PyPreConfig_InitIsolatedConfig(&pre);
	pre.utf8_mode = 1;
	st = Py_PreInitialize(&pre);
	if (PyStatus_Exception(st)) {
		ph_set_error(errbuf, errlen, "preinitialize: %s", st.err_msg ? st.err_msg : "failed");
		return PH_EINIT;
	}

	ph_budget_install();

	PyConfig_InitIsolatedConfig(&cfg);
	cfg.install_signal_handlers = install_signals;
	cfg.site_import = 1;             /* Debian's dist-packages come from site */
	cfg.write_bytecode = pycache_prefix != NULL;
	if (program_name != NULL) {
		st = PyConfig_SetBytesString(&cfg, &cfg.program_name, program_name);
		if (PyStatus_Exception(st))
			goto fail;
	}
	if (pycache_prefix != NULL) {
		st = PyConfig_SetBytesString(&cfg, &cfg.pycache_prefix, pycache_prefix);
		if (PyStatus_Exception(st))
			goto fail;
	}
	st = Py_InitializeFromConfig(&cfg);
	if (PyStatus_Exception(st))
		goto fail;
	PyConfig_Clear(&cfg);
	return PH_OK;

fail:
	ph_set_error(errbuf, errlen, "initialize: %s", st.err_msg ? st.err_msg : "failed");
	PyConfig_Clear(&cfg);
	return PH_EINIT;
}

int
ph_init(const char *program_name, const char *pycache_prefix, char *errbuf, size_t errlen)
{
	int rc = ph_start_python(program_name, pycache_prefix, 0 /* Go owns signals */, errbuf, errlen);

	if (rc != PH_OK)
		return rc;
	main_interp = PyInterpreterState_Main();
	server_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#if PH_HAVE_OWN_GIL
	/*
	 * _datetime (imported by datetime, and so by sqlite3, email, cgi)
	 * keeps process-wide state made by whichever interpreter imports it
	 * first. Made by an own-GIL sub-interpreter, it is that interpreter's
	 * memory, which the others then share: when it ends, the process
	 * aborts (a double free on 3.13.0). Made here, it lives as long as the
	 * process. A Python without it only loses the warm-up.
	 */
	{
		PyObject *dt = PyImport_ImportModule("_datetime");

		if (dt == NULL)
			PyErr_Clear();
		Py_XDECREF(dt);
	}
#endif
	/* Release the main interpreter: it runs requests only in main mode.
	 * Its first thread state stays this thread's pinned one. */
	pinned = PyEval_SaveThread();
	return PH_OK;
}

/* new_subinterpreter creates the interpreter; the main GIL is held on entry. */
static PyThreadState *
new_subinterpreter(int own_gil, char *errbuf, size_t errlen)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyThreadState *ts = NULL;
	PyInterpreterConfig c;
	PyStatus st;

	memset(&c, 0, sizeof c);
	c.use_main_obmalloc = !own_gil;
	c.allow_fork = 0; /* a forked Go process cannot run Go code */
	c.allow_exec = 1; /* subprocess needs it; os.exec* is emulated */
	c.allow_threads = 1;
	c.allow_daemon_threads = 1;
	c.check_multi_interp_extensions = own_gil;
	c.gil = own_gil ? PyInterpreterConfig_OWN_GIL : PyInterpreterConfig_SHARED_GIL;
	st = Py_NewInterpreterFromConfig(&ts, &c);
	if (PyStatus_Exception(st)) {
		ph_set_error(errbuf, errlen, "new interpreter: %s", st.err_msg ? st.err_msg : "failed");
		return NULL;
	}
	return ts;
#else
	PyThreadState *ts;

	(void)own_gil;
	ts = Py_NewInterpreter();
	if (ts == NULL)
		ph_set_error(errbuf, errlen, "new interpreter: Py_NewInterpreter failed");
	return ts;
#endif
}

int
ph_interp_new(const ph_options *o, ph_interp **out, char *errbuf, size_t errlen)
{
	PyThreadState *mts, *ts;
	PyObject *run;
	ph_interp *ip;

	if (main_interp == NULL) {
		ph_set_error(errbuf, errlen, "python is not initialised");
		return PH_EINIT;
	}
	if (o->own_gil && !PH_HAVE_OWN_GIL) {
		ph_set_error(errbuf, errlen, "own-GIL interpreters need Python 3.13 or later");
		return PH_ECREATE;
	}
	ip = calloc(1, sizeof *ip);
	if (ip == NULL) {
		ph_set_error(errbuf, errlen, "out of memory");
		return PH_ECREATE;
	}

	/* Create from this thread's main-interpreter thread state. */
	pin_thread(0);
	mts = pinned;
	PyEval_RestoreThread(mts);
	ts = new_subinterpreter(o->own_gil, errbuf, errlen);
	if (ts == NULL) {
		PyEval_SaveThread();
		free(ip);
		return PH_ECREATE;
	}

	/* Now ts is current and holds its GIL: install the runtime. */
	run = ph_install_runtime(o, 0, &ip->park, errbuf, errlen);
	if (run == NULL && PyThreadState_Next(PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(ts))) != NULL) {
		/* The runtime failed after starting a thread of its own:
		 * Py_EndInterpreter would abort the process, so the
		 * half-made interpreter is left alone. */
		PyEval_SaveThread();
		PyEval_RestoreThread(mts);
		PyEval_SaveThread();
		free(ip);
		return PH_ERUNTIME;
	}
	if (run == NULL) {
		Py_EndInterpreter(ts);
#if PY_VERSION_HEX < 0x030C0000
		PyThreadState_Swap(mts);
#else
		PyEval_RestoreThread(mts);
#endif
		PyEval_SaveThread();
		free(ip);
		return PH_ERUNTIME;
	}
	ip->run = run;
	ip->interp = PyThreadState_GetInterpreter(ts);
	ip->owner = pthread_self();
	ip->ts = ts;
	ph_gil_track(ip->interp);
	PyEval_SaveThread();

	/* Leave this thread's main-interpreter state detached, as it was. */
	PyEval_RestoreThread(mts);
	PyEval_SaveThread();
	*out = ip;
	return PH_OK;
}

int
ph_main_new(const ph_options *o, ph_interp **out, char *errbuf, size_t errlen)
{
	PyThreadState *ts;
	ph_interp *ip;

	if (main_interp == NULL) {
		ph_set_error(errbuf, errlen, "python is not initialised");
		return PH_EINIT;
	}
	ip = calloc(1, sizeof *ip);
	if (ip == NULL) {
		ph_set_error(errbuf, errlen, "out of memory");
		return PH_ECREATE;
	}
	pthread_mutex_lock(&main_init_mu);
	if (main_failed[0] != '\0') {
		/* A half-installed runtime cannot be undone: never retry. */
		ph_set_error(errbuf, errlen, "%s", main_failed);
		goto fail;
	}
	/* The interp is this thread's pinned state of the main interpreter:
	 * the runtime is installed with it, and its requests run on it. */
	pin_thread(0);
	ts = pinned;
	if (main_run == NULL) {
		char why[sizeof main_failed - 32];

		PyEval_RestoreThread(ts);
		main_run = ph_install_runtime(o, 1, &main_park, why, sizeof why);
		PyEval_SaveThread();
		if (main_run == NULL) {
			ph_set_error(main_failed, sizeof main_failed, "main interpreter: %s", why);
			ph_set_error(errbuf, errlen, "%s", main_failed);
			goto fail;
		}
	}
	pthread_mutex_unlock(&main_init_mu);
	ip->run = main_run; /* borrowed: main_run lives as long as the process */
	ip->in_main = 1;
	ip->interp = main_interp;
	ip->owner = pthread_self();
	ip->ts = pinned;
	*out = ip;
	return PH_OK;

fail:
	pthread_mutex_unlock(&main_init_mu);
	free(ip);
	return PH_ERUNTIME;
}

/* env_bytes returns a new reference to a bytes object of p[0:n]: cached,
 * if *slot holds one equal to it, else a new one, kept in *slot when
 * keep is set. */
static PyObject *
env_bytes(PyObject **slot, const char *p, Py_ssize_t n, int keep)
{
	PyObject *b = *slot;

	if (b != NULL && PyBytes_GET_SIZE(b) == n && memcmp(PyBytes_AS_STRING(b), p, (size_t)n) == 0) {
		Py_INCREF(b);
		return b;
	}
	b = PyBytes_FromStringAndSize(p, n);
	if (b != NULL && keep) {
		PyObject *old = *slot;

		Py_INCREF(b);
		*slot = b;
		Py_XDECREF(old);
	}
	return b;
}

static void
env_cache_clear(ph_interp *ip)
{
	int i;

	for (i = 0; i < PH_ENVCACHE; i++) {
		Py_CLEAR(ip->env[i].k);
		Py_CLEAR(ip->env[i].v);
	}
}

/*
 * env_dict parses "K=V\0K=V\0" into {bytes: bytes}, os.environ's storage.
 * A name and value equal to those an earlier request had in the same
 * slot are the same (immutable) objects again: no allocation, and the
 * name's hash is kept.
 */
static PyObject *
env_dict(ph_interp *ip, const char *p, size_t n)
{
	PyObject *d = PyDict_New();
	const char *end = p + n;

	while (d != NULL && p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		const char *eq;

		if (z == NULL)
			z = end;
		eq = memchr(p, '=', (size_t)(z - p));
		if (eq != NULL && eq > p) {
			Py_ssize_t kn = eq - p, vn = z - eq - 1;
			uint32_t h = 2166136261u; /* FNV-1a of the name */
			const char *c;
			PyObject *k, *v;
			int i, keep = kn <= PH_ENVKEY_MAX && vn <= PH_ENVVAL_MAX;

			for (c = p; c < eq; c++)
				h = (h ^ (unsigned char)*c) * 16777619u;
			i = (int)(h & (PH_ENVCACHE - 1));
			k = env_bytes(&ip->env[i].k, p, kn, keep);
			v = k != NULL ? env_bytes(&ip->env[i].v, eq + 1, vn, keep) : NULL;
			if (k == NULL || v == NULL || PyDict_SetItem(d, k, v) < 0)
				Py_CLEAR(d);
			Py_XDECREF(k);
			Py_XDECREF(v);
		}
		p = z + 1;
	}
	return d;
}

/* word_list parses "a\0b\0" into a list of str (file-system decoding). */
static PyObject *
word_list(const char *p, size_t n)
{
	PyObject *l = PyList_New(0);
	const char *end = p + n;

	while (l != NULL && p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		PyObject *w;

		if (z == NULL)
			z = end;
		w = PyUnicode_DecodeFSDefaultAndSize(p, z - p);
		if (w == NULL || PyList_Append(l, w) < 0)
			Py_CLEAR(l);
		Py_XDECREF(w);
		p = z + 1;
	}
	return l;
}

/* The items of the runtime's result tuple (runtime/run.py, _run). */
enum {
	RES_EXIT_CODE,
	RES_STDOUT,
	RES_STDERR,
	RES_FAILURE,
	RES_LATE,
	RES_COMPILED,
	RES_THREADS_LEFT,
	RES_TIMED_OUT,
	RES_NEEDS_MODE,
	RES_N
};

static int
fill_result(ph_interp *ip, PyObject *r, ph_result *res)
{
	PyObject *out, *err, *failure, *late, *needs;
	Py_ssize_t fn, nn;
	long code, compiled;

	if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != RES_N)
		return -1;
	code = PyLong_AsLong(PyTuple_GET_ITEM(r, RES_EXIT_CODE));
	compiled = PyLong_AsLong(PyTuple_GET_ITEM(r, RES_COMPILED));
	out = PyTuple_GET_ITEM(r, RES_STDOUT);
	err = PyTuple_GET_ITEM(r, RES_STDERR);
	failure = PyTuple_GET_ITEM(r, RES_FAILURE);
	late = PyTuple_GET_ITEM(r, RES_LATE);
	needs = PyTuple_GET_ITEM(r, RES_NEEDS_MODE);
	if ((code == -1 && PyErr_Occurred()) || (compiled == -1 && PyErr_Occurred()) || !PyByteArray_Check(out) ||
	    !PyByteArray_Check(err) || !PyUnicode_Check(failure) || !PyByteArray_Check(late) || !PyUnicode_Check(needs))
		return -1;
	res->exit_code = (int)code;
	res->compiled = (int)compiled;
	res->threads_left = PyObject_IsTrue(PyTuple_GET_ITEM(r, RES_THREADS_LEFT)) == 1;
	res->timed_out = PyObject_IsTrue(PyTuple_GET_ITEM(r, RES_TIMED_OUT)) == 1;
	res->out = PyByteArray_AS_STRING(out);
	res->out_n = (size_t)PyByteArray_GET_SIZE(out);
	res->err = PyByteArray_AS_STRING(err);
	res->err_n = (size_t)PyByteArray_GET_SIZE(err);
	res->failure = PyUnicode_AsUTF8AndSize(failure, &fn);
	if (res->failure == NULL)
		return -1;
	res->failure_n = (size_t)fn;
	res->needs_mode = PyUnicode_AsUTF8AndSize(needs, &nn);
	if (res->needs_mode == NULL)
		return -1;
	res->needs_mode_n = (size_t)nn;
	res->late = PyByteArray_AS_STRING(late);
	res->late_n = (size_t)PyByteArray_GET_SIZE(late);
	ip->last = r;
	return 0;
}

int
ph_exec(ph_interp *ip, const ph_request *req, ph_result *res)
{
	PyObject *args[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	PyObject *r = NULL;
	int i, own_cwd, st = PH_OK;
	long long flags;

	if (!owned(ip))
		return PH_EWRONGTHREAD; /* res is the owner's: untouched */
	memset(res, 0, sizeof *res);
	own_cwd = pin_thread(req->chdir);
	if (ip->in_main)
		pthread_mutex_lock(&main_mu);
	ph_gil_running(1);
	PyEval_RestoreThread(ip->ts);
	Py_CLEAR(ip->last);
	Py_CLEAR(ip->errtext);

	/* The runtime's stamp: (mtime_ns, size, inode, dev, flags), flags bit
	 * 0 python -u, bits 1-2 the -O level. */
	flags = (long long)((req->optimize & 3) << 1) | (req->unbuffered ? 1 : 0);
	args[0] = PyUnicode_DecodeFSDefaultAndSize(req->path.p, (Py_ssize_t)req->path.n);
	args[1] = Py_BuildValue("(LLKKL)", (long long)req->stamp.mtime_ns, (long long)req->stamp.size,
				(unsigned long long)req->stamp.inode, (unsigned long long)req->stamp.dev, flags);
	args[2] = env_dict(ip, req->env.p, req->env.n);
	args[3] = word_list(req->args.p, req->args.n);
	args[4] = req->body_fd >= 0 ? PyLong_FromLong(req->body_fd)
				    : PyBytes_FromStringAndSize(req->body.p, (Py_ssize_t)req->body.n);
	args[5] = PyLong_FromUnsignedLongLong((unsigned long long)req->stream);
	args[6] = PyBool_FromLong(own_cwd);
	args[7] = PyLong_FromUnsignedLongLong((unsigned long long)req->reader);
	if (args[0] && args[1] && args[2] && args[3] && args[4] && args[5] && args[6] && args[7]) {
		ph_budget_begin();
		r = PyObject_Vectorcall(ip->run, args, 8, NULL);
		ph_budget_end();
	}
	for (i = 0; i < 8; i++)
		Py_XDECREF(args[i]);

	if (r == NULL || fill_result(ip, r, res) < 0) {
		ip->errtext = PyErr_Occurred() ? ph_exception_text() : PyBytes_FromString("bad result from _run");
		Py_XDECREF(r);
		memset(res, 0, sizeof *res);
		st = PH_ERUNTIME;
		if (ip->errtext != NULL) {
			res->failure = PyBytes_AS_STRING(ip->errtext);
			res->failure_n = (size_t)PyBytes_GET_SIZE(ip->errtext);
		}
	}
	PyEval_SaveThread();
	ph_gil_running(-1);
	if (ip->in_main)
		pthread_mutex_unlock(&main_mu);
	/* The script ran in its own directory; the thread goes back to the
	 * server's, for whatever Go runs on it next. */
	if (own_cwd && server_cwd >= 0)
		(void)fchdir(server_cwd);
	return st;
}

int
ph_interp_free(ph_interp *ip)
{
	PyObject *finish, *ok;
	int safe;

	if (ip == NULL)
		return PH_OK;
	if (!owned(ip))
		return PH_EWRONGTHREAD; /* ip stays as it is, for its owner to free */
	PyEval_RestoreThread(ip->ts);
	Py_CLEAR(ip->last);
	Py_CLEAR(ip->errtext);
	env_cache_clear(ip);
	if (ip->in_main) {
		/* The main interpreter and its runtime stay for the other
		 * main-mode interps, and ip->ts is the thread's pinned state. */
		PyEval_SaveThread();
		free(ip);
		return PH_OK;
	}
	/* Py_EndInterpreter aborts the process if another thread of the
	 * interpreter still runs (a script's daemon thread): then the
	 * interpreter is leaked instead. */
	finish = PyDict_GetItemString(PyFunction_GetGlobals(ip->run), "_finish");
	ok = finish ? PyObject_CallNoArgs(finish) : NULL;
	safe = ok == Py_True;
	Py_XDECREF(ok);
	PyErr_Clear();
	Py_CLEAR(ip->run);
	if (!safe) {
		PyEval_SaveThread();
		free(ip);
		return PH_ELEFT;
	}
	ph_gil_untrack(ip->interp);
	Py_EndInterpreter(ip->ts);
#if PY_VERSION_HEX < 0x030C0000
	/* Before 3.12 Py_EndInterpreter returns holding the GIL with no thread state. */
	PyThreadState_Swap(pinned);
	PyEval_SaveThread();
#endif
	free(ip);
	return PH_OK;
}
