/*
 * pyhost.c: the C layer between Go and libpython. It owns every PyObject:
 * interpreters, the runtime module in each, and the last result of each
 * interpreter. The compatibility work (stdio proxies, environ, __main__,
 * the code cache) is Python in runtime.py; this file only moves bytes in
 * and out in one call per request.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h> /* T_OBJECT_EX and READONLY, in Python.h from 3.12 */
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_READONLY READONLY
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <locale.h>
#include <sched.h>
#include <unistd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pyhost.h"
#include "_cgo_export.h"

/* Own-GIL sub-interpreters crash on 3.12 (DESIGN.md), so they need 3.13. */
#if PY_VERSION_HEX >= 0x030D0000
#define PH_HAVE_OWN_GIL 1
#else
#define PH_HAVE_OWN_GIL 0
#endif

/*
 * An interpreter runs requests on whichever OS thread calls ph_exec (the
 * Go goroutine that serves the request), one call at a time. CPython ties
 * a thread state to the OS thread that made it, so each interpreter keeps
 * one per thread it has run on, made on first use and reused after, as
 * mod_wsgi does for Apache's threads. Go runs goroutines on a small set of
 * threads (about GOMAXPROCS plus those blocked in calls), so the table
 * stays small; past PH_TSTATES a thread gets a thread state for the one
 * call only.
 */
#define PH_TSTATES 64
/* Slots of an interpreter's environment cache (a power of two), and the
 * longest name and value kept there. */
#define PH_ENVCACHE 128
#define PH_ENVKEY_MAX 128
#define PH_ENVVAL_MAX 1024

struct ph_tstate {
	pthread_t thread;
	PyThreadState *ts;
};

struct ph_interp {
	PyInterpreterState *interp;
	struct ph_tstate ts[PH_TSTATES];
	int nts;
	PyObject *run;     /* _warmcgi._run */
	PyObject *last;    /* the previous result, kept alive for ph_result */
	PyObject *errtext; /* bytes describing a runtime failure */
	int in_main;       /* the main interpreter (ph_main_new): requests use each thread's pinned state */
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

/* thread_state finds or makes ip's thread state for the calling thread;
 * *temp says it is for this call only (the table is full). */
static PyThreadState *
thread_state(ph_interp *ip, int *temp)
{
	pthread_t self = pthread_self();
	PyThreadState *ts;
	int i;

	*temp = 0;
	for (i = 0; i < ip->nts; i++)
		if (pthread_equal(ip->ts[i].thread, self))
			return ip->ts[i].ts;
	ts = PyThreadState_New(ip->interp);
	if (ts == NULL)
		return NULL;
	if (ip->nts < PH_TSTATES) {
		ip->ts[ip->nts].thread = self;
		ip->ts[ip->nts].ts = ts;
		ip->nts++;
	} else {
		*temp = 1;
	}
	return ts;
}

/* drop_temp ends a thread state made for one call; it is current. */
static void
drop_temp(PyThreadState *ts)
{
	PyThreadState_Clear(ts);
	PyThreadState_DeleteCurrent();
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
 * _async_raise(thread_id, exc_type) raises exc_type in the given thread of
 * the calling interpreter the next time it runs bytecode; it returns how
 * many thread states were changed. The runtime uses it to deliver emulated
 * signals (signal.alarm) and timeouts.
 *
 * None clears a pending exception, and does nothing when none is pending:
 * PyThreadState_SetAsyncExc(id, NULL) flags the interpreter as having one
 * even so, and before 3.13 only raising one clears the flag. Left set, it
 * sends every later bytecode check down the slow path, and 3.11 loops
 * forever at the next function entry a profiler or tracer sees (cProfile,
 * pdb). After a real clear the runtime raises and catches one of its own.
 */
static PyObject *
async_raise(PyObject *self, PyObject *args)
{
	unsigned long id;
	PyObject *exc;
	PyThreadState *t;

	(void)self;
	if (!PyArg_ParseTuple(args, "kO:_async_raise", &id, &exc))
		return NULL;
	if (exc != Py_None)
		return PyLong_FromLong(PyThreadState_SetAsyncExc(id, exc));
	for (t = PyInterpreterState_ThreadHead(PyInterpreterState_Get()); t != NULL; t = PyThreadState_Next(t))
		if (t->thread_id == id)
			return PyLong_FromLong(t->async_exc == NULL ? 0 : PyThreadState_SetAsyncExc(id, NULL));
	return PyLong_FromLong(0);
}

/*
 * _thread_frame(thread_id) returns the frame a thread of the calling
 * interpreter is running, or None. The emulated SIGALRM hands it to the
 * script's handler. sys._current_frames() would walk the threads of every
 * interpreter, making frame objects for threads that other own-GIL
 * interpreters are running at that moment: memory of theirs, made under
 * this interpreter (on 3.13 the process aborted with free(): invalid
 * pointer when the interpreter ended).
 */
static PyObject *
thread_frame(PyObject *self, PyObject *args)
{
	unsigned long id;
	PyThreadState *t;

	(void)self;
	if (!PyArg_ParseTuple(args, "k:_thread_frame", &id))
		return NULL;
	for (t = PyInterpreterState_ThreadHead(PyInterpreterState_Get()); t != NULL; t = PyThreadState_Next(t)) {
		if (t->thread_id == id) {
			PyFrameObject *f = PyThreadState_GetFrame(t);

			if (f != NULL)
				return (PyObject *)f;
			break;
		}
	}
	Py_RETURN_NONE;
}

/*
 * _emit(stream, data) hands output a script flushed to Go while the script
 * still runs (go_pyhost_emit), without the GIL. Returns Go's answer:
 * 0 sent, 1 keep it and ask again, 2 keep it and stop asking, -1 the
 * client is gone.
 */
static PyObject *
emit(PyObject *self, PyObject *args)
{
	unsigned long long stream;
	Py_buffer data;
	int rc;

	(void)self;
	if (!PyArg_ParseTuple(args, "Ky*:_emit", &stream, &data))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = go_pyhost_emit((uintptr_t)stream, (char *)data.buf, (size_t)data.len);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&data);
	return PyLong_FromLong(rc);
}

/*
 * _read_body(handle, n) returns up to n bytes of the request body, read as
 * they arrive (b"" at the end); an OSError if the client left. The GIL is
 * released while Go waits for the client.
 */
static PyObject *
read_body(PyObject *self, PyObject *args)
{
	unsigned long long h;
	Py_ssize_t n;
	PyObject *b;
	long got;

	(void)self;
	if (!PyArg_ParseTuple(args, "Kn:_read_body", &h, &n))
		return NULL;
	if (n < 0)
		n = 0;
	b = PyBytes_FromStringAndSize(NULL, n);
	if (b == NULL)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	got = go_pyhost_read((uintptr_t)h, PyBytes_AS_STRING(b), (size_t)n);
	Py_END_ALLOW_THREADS
	if (got < 0) {
		Py_DECREF(b);
		PyErr_SetString(PyExc_ConnectionResetError, "the client did not send the whole request body");
		return NULL;
	}
	if (got != n && _PyBytes_Resize(&b, got) < 0)
		return NULL;
	return b;
}

/*
 * main_park is the park flag of the main interpreter: its runtime serves
 * every main-mode interp, one request at a time, so a request given up on
 * there parks its thread, and the main interpreter is not used again.
 */
static int main_park;

/*
 * _parked() reports whether the server has given up on this interpreter
 * (ph_park). Its self is a capsule of the interpreter's flag.
 */
static PyObject *
parked(PyObject *self, PyObject *unused)
{
	int *flag = PyCapsule_GetPointer(self, NULL);

	(void)unused;
	if (flag == NULL)
		return NULL;
	return PyBool_FromLong(__atomic_load_n(flag, __ATOMIC_RELAXED));
}

static PyMethodDef parked_def = {
	"_parked", parked, METH_NOARGS, "Whether the server has given up on this interpreter."};

void
ph_park(ph_interp *ip)
{
	__atomic_store_n(ip->in_main ? &main_park : &ip->park, 1, __ATOMIC_RELAXED);
}

/*
 * The fast path of sys.stdout.write and sys.stderr.write (runtime.py,
 * _TextOut): a str written on the request's own thread to a sink that is
 * neither closed nor detached is encoded and appended to the sink's buffer
 * here; anything else goes to the Python method, _TextOut._write_py. A
 * print costs about half what the Python method cost.
 *
 * The stream's _fast slot holds what the method needs, in this order. The
 * slots of the stream and of its sink (runtime.py, _Sink) are read at
 * their offsets, which _text_write takes from the classes' member
 * descriptors: plain numbers, the same in every interpreter, since the
 * classes are made from the same source on the same base.
 */
enum {
	FAST_FD,        /* index of the sink in _cur */
	FAST_CUR,       /* _cur: [stdin source, stdout sink, stderr sink] */
	FAST_GLOBALS,   /* the runtime's globals, for _worker */
	FAST_WORKER,    /* the name "_worker" */
	FAST_STREAM_AT, /* a streamed sink is flushed from this size on */
	FAST_FLUSHED,   /* _flushed(sink) */
	FAST_SLOW,      /* _TextOut._write_py(self, text) */
	FAST_SINK,      /* the class _Sink */
	FAST_N
};

enum { OFF_FAST, OFF_OK, OFF_BUF, OFF_ENCODING, OFF_ERRORS, OFF_STREAM, OFF_N };
static Py_ssize_t slot_off[OFF_N]; /* 0: not set; written once, by _text_write */

static PyObject *
slot(PyObject *o, int i)
{
	return *(PyObject **)((char *)o + __atomic_load_n(&slot_off[i], __ATOMIC_RELAXED));
}

static PyObject *
textout_write(PyObject *self, PyObject *text)
{
	PyObject *fast, *worker, *cur, *sink, *buf, *enc, *errs, *stream, *bytes = NULL, *r = NULL;
	const char *data;
	Py_ssize_t n, size;
	long fd;

	fast = slot(self, OFF_FAST);
	if (fast == NULL || !PyTuple_CheckExact(fast) || PyTuple_GET_SIZE(fast) != FAST_N) {
		PyErr_SetString(PyExc_RuntimeError, "warmcgi: a stream without its _fast slot");
		return NULL;
	}
	if (!PyUnicode_CheckExact(text))
		goto slow;
	worker = PyDict_GetItemWithError(PyTuple_GET_ITEM(fast, FAST_GLOBALS), PyTuple_GET_ITEM(fast, FAST_WORKER));
	if (worker == NULL || !PyLong_CheckExact(worker)) {
		if (PyErr_Occurred())
			return NULL;
		goto slow;
	}
	if (PyLong_AsUnsignedLong(worker) != PyThread_get_thread_ident()) {
		PyErr_Clear();
		goto slow;
	}
	fd = PyLong_AsLong(PyTuple_GET_ITEM(fast, FAST_FD));
	cur = PyTuple_GET_ITEM(fast, FAST_CUR);
	if (!PyList_CheckExact(cur) || fd < 0 || fd >= PyList_GET_SIZE(cur))
		goto slow;
	sink = PyList_GET_ITEM(cur, fd);
	if ((PyObject *)Py_TYPE(sink) != PyTuple_GET_ITEM(fast, FAST_SINK))
		goto slow; /* None between requests */
	buf = slot(sink, OFF_BUF);
	enc = slot(sink, OFF_ENCODING);
	errs = slot(sink, OFF_ERRORS);
	stream = slot(sink, OFF_STREAM);
	if (slot(sink, OFF_OK) != Py_True || buf == NULL || !PyByteArray_CheckExact(buf) || enc == NULL ||
	    !PyUnicode_CheckExact(enc) || errs == NULL || !PyUnicode_CheckExact(errs) || stream == NULL)
		goto slow;
	Py_INCREF(sink);
	Py_INCREF(buf);
	Py_INCREF(stream);
	if (PyUnicode_IS_ASCII(text) && PyUnicode_CompareWithASCIIString(enc, "utf-8") == 0) {
		/* ASCII is its own UTF-8, whatever the error handler. */
		data = (const char *)PyUnicode_DATA(text);
		n = PyUnicode_GET_LENGTH(text);
	} else {
		const char *e = PyUnicode_AsUTF8(enc), *es = PyUnicode_AsUTF8(errs);

		bytes = e && es ? PyUnicode_AsEncodedString(text, e, es) : NULL;
		if (bytes == NULL)
			goto fail;
		if (!PyBytes_Check(bytes)) {
			PyErr_SetString(PyExc_TypeError, "the codec did not return bytes");
			goto fail;
		}
		data = PyBytes_AS_STRING(bytes);
		n = PyBytes_GET_SIZE(bytes);
	}
	size = PyByteArray_GET_SIZE(buf);
	/* A BufferError when the buffer is exported, as from bytearray +=. */
	if (PyByteArray_Resize(buf, size + n) < 0)
		goto fail;
	memcpy(PyByteArray_AS_STRING(buf) + size, data, (size_t)n);
	if (stream != Py_False && PyObject_IsTrue(stream) &&
	    PyByteArray_GET_SIZE(buf) >= PyLong_AsSsize_t(PyTuple_GET_ITEM(fast, FAST_STREAM_AT))) {
		PyObject *f = PyObject_CallOneArg(PyTuple_GET_ITEM(fast, FAST_FLUSHED), sink);

		if (f == NULL)
			goto fail;
		Py_DECREF(f);
	}
	r = PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
fail:
	Py_XDECREF(bytes);
	Py_DECREF(stream);
	Py_DECREF(buf);
	Py_DECREF(sink);
	return r;
slow:
	{
		PyObject *args[2] = {self, text};

		return PyObject_Vectorcall(PyTuple_GET_ITEM(fast, FAST_SLOW), args, 2, NULL);
	}
}

static PyMethodDef textout_write_def = {
	"write", textout_write, METH_O, "Write a str to the request's output."};

/*
 * _text_write(cls, fast, ok, buf, encoding, errors, stream) makes the write
 * method of cls (runtime.py, _TextOut) as a C method, the same kind as
 * io.TextIOWrapper's own. The other arguments are the member descriptors
 * of cls._fast and of _Sink's slots.
 */
static PyObject *
text_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t off[OFF_N];
	int i;

	(void)self;
	if (nargs != 1 + OFF_N || !PyType_Check(args[0]))
		goto usage;
	for (i = 0; i < OFF_N; i++) {
		PyMemberDef *m;

		if (!Py_IS_TYPE(args[1 + i], &PyMemberDescr_Type))
			goto usage;
		m = ((PyMemberDescrObject *)args[1 + i])->d_member;
		if (m->type != Py_T_OBJECT_EX || (m->flags & Py_READONLY) || m->offset <= 0)
			goto usage;
		off[i] = m->offset;
	}
	for (i = 0; i < OFF_N; i++) {
		Py_ssize_t was = 0;

		/* Each interpreter's classes have the same layout. */
		if (!__atomic_compare_exchange_n(&slot_off[i], &was, off[i], 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
		    was != off[i]) {
			PyErr_SetString(PyExc_RuntimeError, "_text_write: the slots moved");
			return NULL;
		}
	}
	return PyDescr_NewMethod((PyTypeObject *)args[0], &textout_write_def);
usage:
	PyErr_SetString(PyExc_TypeError, "_text_write(cls, member descriptors of _fast, ok, buf, encoding, errors, stream)");
	return NULL;
}

static PyMethodDef text_write_def = {
	"_text_write", (PyCFunction)(void (*)(void))text_write, METH_FASTCALL,
	"The C write method of the runtime's text streams."};

/*
 * _same_items(d, items) reports whether dict d holds exactly the names and
 * objects of items, a flat tuple (name, object, name, object, ...) in the
 * dict's order, compared by identity: the runtime's check, after every
 * request, that a script left builtins alone. It never calls an object's
 * own __eq__, and costs two pointer comparisons per name instead of a
 * Python call per name (a few microseconds per request).
 */
static PyObject *
same_items(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *d, *items, *k, *v;
	Py_ssize_t pos = 0, i = 0;

	(void)self;
	if (nargs != 2 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1])) {
		PyErr_SetString(PyExc_TypeError, "_same_items(dict, tuple)");
		return NULL;
	}
	d = args[0];
	items = args[1];
	if (2 * PyDict_GET_SIZE(d) != PyTuple_GET_SIZE(items))
		Py_RETURN_FALSE;
	while (PyDict_Next(d, &pos, &k, &v)) {
		if (PyTuple_GET_ITEM(items, i) != k || PyTuple_GET_ITEM(items, i + 1) != v)
			Py_RETURN_FALSE;
		i += 2;
	}
	Py_RETURN_TRUE;
}

/*
 * _dict_version(d) returns a number that changes whenever dict d changes
 * (PEP 509's ma_version_tag, which CPython keeps up to 3.13), or -1 where
 * there is none. The runtime compares builtins' items (_same_items) only
 * after a request that changed the dict: the check took about 1 µs of
 * every request.
 */
static PyObject *
dict_version(PyObject *self, PyObject *d)
{
	(void)self;
#if PY_VERSION_HEX < 0x030E0000
	if (PyDict_Check(d))
		return PyLong_FromUnsignedLongLong(((PyDictObject *)d)->ma_version_tag);
#else
	(void)d;
#endif
	return PyLong_FromLong(-1);
}

static PyMethodDef dict_version_def = {
	"_dict_version", dict_version, METH_O, "A number that changes whenever a dict changes, or -1."};

static PyMethodDef same_items_def = {
	"_same_items", (PyCFunction)(void (*)(void))same_items, METH_FASTCALL,
	"Whether a dict holds, in order, the very names and objects of a flat tuple."};

static PyMethodDef read_body_def = {
	"_read_body", read_body, METH_VARARGS, "Read the request body as it arrives."};

static PyMethodDef emit_def = {
	"_emit", emit, METH_VARARGS, "Send flushed output to the client."};

static PyMethodDef thread_frame_def = {
	"_thread_frame", thread_frame, METH_VARARGS,
	"The frame a thread of this interpreter is running, or None."};

static PyMethodDef async_raise_def = {
	"_async_raise", async_raise, METH_VARARGS,
	"Raise an exception type asynchronously in a thread of this interpreter."};

static void
set_error(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/*
 * exception_text returns "Type: message" for the raised exception as a new
 * bytes object and clears it, or NULL if that fails too. GIL held.
 */
static PyObject *
exception_text(void)
{
	PyObject *type, *value, *tb, *s = NULL, *out = NULL;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (value != NULL)
		s = PyUnicode_FromFormat("%s: %S", Py_TYPE(value)->tp_name, value);
	if (s != NULL)
		out = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
	Py_XDECREF(s);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	PyErr_Clear();
	return out;
}

const char *
ph_library_path(void)
{
	Dl_info info;

	if (dladdr((void *)Py_GetVersion, &info) == 0)
		return NULL;
	return info.dli_fname;
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
ph_init(const char *program_name, const char *pycache_prefix, char *errbuf, size_t errlen)
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
		set_error(errbuf, errlen, "preinitialize: %s", st.err_msg ? st.err_msg : "failed");
		return PH_EINIT;
	}

	PyConfig_InitIsolatedConfig(&cfg);
	cfg.install_signal_handlers = 0; /* Go owns signals */
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

fail:
	set_error(errbuf, errlen, "initialize: %s", st.err_msg ? st.err_msg : "failed");
	PyConfig_Clear(&cfg);
	return PH_EINIT;
}

/*
 * install_runtime runs the warmcgi runtime source in the current
 * interpreter's _warmcgi module and returns a new reference to its _run,
 * or NULL with errbuf filled. GIL held.
 */
static PyObject *
install_runtime(const char *runtime_src, int *park, char *errbuf, size_t errlen)
{
	PyObject *mod, *dict, *code = NULL, *r = NULL, *run;

	mod = PyImport_AddModule("_warmcgi"); /* borrowed */
	dict = mod ? PyModule_GetDict(mod) : NULL;
	if (dict != NULL && PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) == 0) {
		PyObject *f = PyCFunction_New(&async_raise_def, NULL);
		PyObject *tf = PyCFunction_New(&thread_frame_def, NULL);
		PyObject *e = PyCFunction_New(&emit_def, NULL);
		PyObject *rb = PyCFunction_New(&read_body_def, NULL);
		PyObject *sv = PyCFunction_New(&same_items_def, NULL);
		PyObject *dv = PyCFunction_New(&dict_version_def, NULL);
		PyObject *tw = PyCFunction_New(&text_write_def, NULL);
		PyObject *cap = PyCapsule_New(park, NULL, NULL);
		PyObject *pk = cap ? PyCFunction_New(&parked_def, cap) : NULL;

		if (f != NULL && tf != NULL && e != NULL && rb != NULL && sv != NULL && dv != NULL && tw != NULL && pk != NULL &&
		    PyDict_SetItemString(dict, "_async_raise", f) == 0 &&
		    PyDict_SetItemString(dict, "_thread_frame", tf) == 0 && PyDict_SetItemString(dict, "_emit", e) == 0 &&
		    PyDict_SetItemString(dict, "_read_body", rb) == 0 && PyDict_SetItemString(dict, "_same_items", sv) == 0 &&
		    PyDict_SetItemString(dict, "_dict_version", dv) == 0 && PyDict_SetItemString(dict, "_text_write", tw) == 0 &&
		    PyDict_SetItemString(dict, "_parked", pk) == 0)
			code = Py_CompileString(runtime_src, "<warmcgi runtime>", Py_file_input);
		Py_XDECREF(f);
		Py_XDECREF(tf);
		Py_XDECREF(e);
		Py_XDECREF(rb);
		Py_XDECREF(sv);
		Py_XDECREF(dv);
		Py_XDECREF(tw);
		Py_XDECREF(cap);
		Py_XDECREF(pk);
	}
	if (code != NULL)
		r = PyEval_EvalCode(code, dict, dict);
	run = r ? PyDict_GetItemString(dict, "_run") : NULL; /* borrowed */
	if (run == NULL) {
		PyObject *t = PyErr_Occurred() ? exception_text() : NULL;

		set_error(errbuf, errlen, "runtime install: %s",
			  t ? PyBytes_AS_STRING(t) : "_run missing");
		Py_XDECREF(t);
	} else {
		Py_INCREF(run);
	}
	Py_XDECREF(code);
	Py_XDECREF(r);
	return run;
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
		set_error(errbuf, errlen, "new interpreter: %s", st.err_msg ? st.err_msg : "failed");
		return NULL;
	}
	return ts;
#else
	PyThreadState *ts;

	(void)own_gil;
	ts = Py_NewInterpreter();
	if (ts == NULL)
		set_error(errbuf, errlen, "new interpreter: Py_NewInterpreter failed");
	return ts;
#endif
}

int
ph_interp_new(const char *runtime_src, int own_gil, ph_interp **out, char *errbuf, size_t errlen)
{
	PyThreadState *mts, *ts;
	PyObject *run;
	ph_interp *ip;

	if (main_interp == NULL) {
		set_error(errbuf, errlen, "python is not initialised");
		return PH_EINIT;
	}
	if (own_gil && !PH_HAVE_OWN_GIL) {
		set_error(errbuf, errlen, "own-GIL interpreters need Python 3.13 or later");
		return PH_ECREATE;
	}
	ip = calloc(1, sizeof *ip);
	if (ip == NULL) {
		set_error(errbuf, errlen, "out of memory");
		return PH_ECREATE;
	}

	/* Create from this thread's main-interpreter thread state. */
	pin_thread(0);
	mts = pinned;
	PyEval_RestoreThread(mts);
	ts = new_subinterpreter(own_gil, errbuf, errlen);
	if (ts == NULL) {
		PyEval_SaveThread();
		free(ip);
		return PH_ECREATE;
	}

	/* Now ts is current and holds its GIL: install the runtime. */
	run = install_runtime(runtime_src, &ip->park, errbuf, errlen);
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
	ip->ts[0].thread = pthread_self();
	ip->ts[0].ts = ts;
	ip->nts = 1;
	PyEval_SaveThread();

	/* Leave this thread's main-interpreter state detached, as it was. */
	PyEval_RestoreThread(mts);
	PyEval_SaveThread();
	*out = ip;
	return PH_OK;
}

int
ph_main_new(const char *runtime_src, ph_interp **out, char *errbuf, size_t errlen)
{
	PyThreadState *ts;
	ph_interp *ip;

	if (main_interp == NULL) {
		set_error(errbuf, errlen, "python is not initialised");
		return PH_EINIT;
	}
	ip = calloc(1, sizeof *ip);
	if (ip == NULL) {
		set_error(errbuf, errlen, "out of memory");
		return PH_ECREATE;
	}
	pthread_mutex_lock(&main_init_mu);
	if (main_failed[0] != '\0') {
		/* A half-installed runtime cannot be undone: never retry. */
		set_error(errbuf, errlen, "%s", main_failed);
		goto fail;
	}
	/* The runtime is installed with this thread's pinned state of the
	 * main interpreter; requests use the pinned state of their threads. */
	pin_thread(0);
	ts = pinned;
	if (main_run == NULL) {
		char why[sizeof main_failed - 32];

		PyEval_RestoreThread(ts);
		main_run = install_runtime(runtime_src, &main_park, why, sizeof why);
		PyEval_SaveThread();
		if (main_run == NULL) {
			set_error(main_failed, sizeof main_failed, "main interpreter: %s", why);
			set_error(errbuf, errlen, "%s", main_failed);
			goto fail;
		}
	}
	pthread_mutex_unlock(&main_init_mu);
	ip->run = main_run; /* borrowed: main_run lives as long as the process */
	ip->in_main = 1;
	ip->interp = main_interp;
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

static int
fill_result(ph_interp *ip, PyObject *r, ph_result *res)
{
	PyObject *out, *err, *failure, *late;
	Py_ssize_t fn;
	long code, compiled;

	if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 7)
		return -1;
	code = PyLong_AsLong(PyTuple_GET_ITEM(r, 0));
	compiled = PyLong_AsLong(PyTuple_GET_ITEM(r, 5));
	out = PyTuple_GET_ITEM(r, 1);
	err = PyTuple_GET_ITEM(r, 2);
	failure = PyTuple_GET_ITEM(r, 3);
	late = PyTuple_GET_ITEM(r, 4);
	if ((code == -1 && PyErr_Occurred()) || (compiled == -1 && PyErr_Occurred()) || !PyByteArray_Check(out) ||
	    !PyByteArray_Check(err) || !PyUnicode_Check(failure) || !PyByteArray_Check(late))
		return -1;
	res->exit_code = (int)code;
	res->compiled = (int)compiled;
	res->threads_left = PyObject_IsTrue(PyTuple_GET_ITEM(r, 6)) == 1;
	res->out = PyByteArray_AS_STRING(out);
	res->out_n = (size_t)PyByteArray_GET_SIZE(out);
	res->err = PyByteArray_AS_STRING(err);
	res->err_n = (size_t)PyByteArray_GET_SIZE(err);
	res->failure = PyUnicode_AsUTF8AndSize(failure, &fn);
	if (res->failure == NULL)
		return -1;
	res->failure_n = (size_t)fn;
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
	PyThreadState *ts;
	int i, temp, own_cwd;
	long long flags;

	memset(res, 0, sizeof *res);
	own_cwd = pin_thread(req->chdir);
	if (ip->in_main) {
		/* The thread's own, pinned, state of the main interpreter. */
		temp = 0;
		ts = pinned;
		pthread_mutex_lock(&main_mu);
	} else {
		ts = thread_state(ip, &temp);
		if (ts == NULL) {
			res->status = PH_ERUNTIME;
			return PH_ERUNTIME;
		}
	}
	PyEval_RestoreThread(ts);
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
	if (args[0] && args[1] && args[2] && args[3] && args[4] && args[5] && args[6] && args[7])
		r = PyObject_Vectorcall(ip->run, args, 8, NULL);
	for (i = 0; i < 8; i++)
		Py_XDECREF(args[i]);

	if (r == NULL || fill_result(ip, r, res) < 0) {
		ip->errtext = PyErr_Occurred() ? exception_text() : PyBytes_FromString("bad result from _run");
		Py_XDECREF(r);
		memset(res, 0, sizeof *res);
		res->status = PH_ERUNTIME;
		if (ip->errtext != NULL) {
			res->failure = PyBytes_AS_STRING(ip->errtext);
			res->failure_n = (size_t)PyBytes_GET_SIZE(ip->errtext);
		}
	}
	if (temp)
		drop_temp(ts);
	else
		PyEval_SaveThread();
	if (ip->in_main)
		pthread_mutex_unlock(&main_mu);
	/* The script ran in its own directory; the thread goes back to the
	 * server's, for whatever Go runs on it next. */
	if (own_cwd && server_cwd >= 0)
		(void)fchdir(server_cwd);
	return res->status;
}

int
ph_interp_free(ph_interp *ip)
{
	PyObject *finish, *ok;
	PyThreadState *ts;
	int i, temp, safe;

	if (ip == NULL)
		return PH_OK;
	if (ip->in_main) {
		/* The main interpreter and its runtime stay for the other
		 * main-mode interps and the thread states pinned to threads. */
		pin_thread(0);
		PyEval_RestoreThread(pinned);
		env_cache_clear(ip);
		Py_CLEAR(ip->last);
		Py_CLEAR(ip->errtext);
		PyEval_SaveThread();
		free(ip);
		return PH_OK;
	}
	pin_thread(0);
	ts = thread_state(ip, &temp);
	if (ts == NULL) {
		free(ip); /* the interpreter is leaked */
		return PH_ELEFT;
	}
	PyEval_RestoreThread(ts);
	Py_CLEAR(ip->last);
	Py_CLEAR(ip->errtext);
	env_cache_clear(ip);
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
	/* The thread states other threads used are idle: end them first, as
	 * Py_EndInterpreter wants to be the interpreter's last thread. */
	for (i = 0; i < ip->nts; i++) {
		if (ip->ts[i].ts == ts)
			continue;
		PyThreadState_Clear(ip->ts[i].ts);
		PyThreadState_Delete(ip->ts[i].ts);
	}
	Py_EndInterpreter(ts);
#if PY_VERSION_HEX < 0x030C0000
	/* Before 3.12 Py_EndInterpreter returns holding the GIL with no thread state. */
	PyThreadState_Swap(pinned);
	PyEval_SaveThread();
#endif
	free(ip);
	return PH_OK;
}
