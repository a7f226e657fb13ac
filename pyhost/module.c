/*
 * module.c: the _warmcgi module every interpreter's runtime runs in (the
 * runtime source is executed in its namespace), and the C methods it
 * offers the runtime: asynchronous exceptions, thread frames, the
 * streaming and body callbacks into Go, the park flag, the fast stdout
 * write and the builtins check.
 */
#include "pyhost_int.h"
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h> /* T_OBJECT_EX and READONLY, in Python.h from 3.12 */
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_READONLY READONLY
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "_cgo_export.h"

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
 * _ext_verdict(guard, name, path) asks the Go judge behind the interp's
 * handle guard (go_pyhost_ext_verdict) whether extension module name, from
 * the file path, may load in this sub-interpreter, without the GIL (the
 * first time, Go runs a probe process). Returns None (it may) or the
 * reason it may not, a str.
 */
static PyObject *
ext_verdict(PyObject *self, PyObject *args)
{
	unsigned long long guard;
	const char *name;
	Py_ssize_t nn;
	PyObject *path;
	char why[512];
	int rc;

	(void)self;
	if (!PyArg_ParseTuple(args, "Ks#O&:_ext_verdict", &guard, &name, &nn, PyUnicode_FSConverter, &path))
		return NULL;
	why[0] = '\0';
	Py_BEGIN_ALLOW_THREADS
	rc = go_pyhost_ext_verdict((uintptr_t)guard, (char *)name, (size_t)nn, PyBytes_AS_STRING(path),
				   (size_t)PyBytes_GET_SIZE(path), why, sizeof why);
	Py_END_ALLOW_THREADS
	Py_DECREF(path);
	if (rc <= 0)
		Py_RETURN_NONE;
	why[sizeof why - 1] = '\0';
	return PyUnicode_DecodeUTF8(why, (Py_ssize_t)strlen(why), "replace");
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

/*
 * The fast path of sys.stdout.write and sys.stderr.write (runtime/stdio.py,
 * _TextOut): a str written on the request's own thread to a sink that is
 * neither closed nor detached is encoded and appended to the sink's buffer
 * here; anything else goes to the Python method, _TextOut._write_py. A
 * print costs about half what the Python method cost.
 *
 * The stream's _fast slot holds what the method needs, in this order. The
 * slots of the stream and of its sink (runtime/sinks.py, _Sink) are read at
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
 * method of cls (runtime/stdio.py, _TextOut) as a C method, the same kind as
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
 * request, that a script left sqlite3's adapters alone. It never calls an object's
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

static PyMethodDef same_items_def = {
	"_same_items", (PyCFunction)(void (*)(void))same_items, METH_FASTCALL,
	"Whether a dict holds, in order, the very names and objects of a flat tuple."};

static PyMethodDef read_body_def = {
	"_read_body", read_body, METH_VARARGS, "Read the request body as it arrives."};

static PyMethodDef ext_verdict_def = {
	"_ext_verdict", ext_verdict, METH_VARARGS, "Whether an extension module may load in this sub-interpreter."};

/* _cflush() sends what C's stdout and stderr hold, as exit() does after
 * Python's own streams were flushed (process mode, as a script ends). */
static PyObject *
cflush(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	Py_BEGIN_ALLOW_THREADS
	fflush(stdout);
	fflush(stderr);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyMethodDef cflush_def = {"_cflush", cflush, METH_NOARGS, "Flush C's stdout and stderr."};

static PyMethodDef emit_def = {
	"_emit", emit, METH_VARARGS, "Send flushed output to the client."};

static PyMethodDef thread_frame_def = {
	"_thread_frame", thread_frame, METH_VARARGS,
	"The frame a thread of this interpreter is running, or None."};

static PyMethodDef async_raise_def = {
	"_async_raise", async_raise, METH_VARARGS,
	"Raise an exception type asynchronously in a thread of this interpreter."};

void
ph_set_error(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

PyObject *
ph_exception_text(void)
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

/* set_new stores obj, a new reference or NULL, as dict[name]. */
static int
set_new(PyObject *dict, const char *name, PyObject *obj)
{
	int rc;

	if (obj == NULL)
		return -1;
	rc = PyDict_SetItemString(dict, name, obj);
	Py_DECREF(obj);
	return rc;
}

/* str_list parses "a\0b\0" into a list of str (UTF-8). */
static PyObject *
str_list(ph_bytes b)
{
	PyObject *l = PyList_New(0);
	const char *p = b.p, *end = b.p + b.n;

	while (l != NULL && p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		PyObject *w;

		if (z == NULL)
			z = end;
		w = PyUnicode_DecodeUTF8(p, z - p, "strict");
		if (w == NULL || PyList_Append(l, w) < 0)
			Py_CLEAR(l);
		Py_XDECREF(w);
		p = z + 1;
	}
	return l;
}

/* str_dict makes a dict of the pairs of str_list(b): name, value, ... */
static PyObject *
str_dict(ph_bytes b)
{
	PyObject *l = str_list(b), *d = l ? PyDict_New() : NULL;
	Py_ssize_t i;

	for (i = 0; d != NULL && i + 1 < PyList_GET_SIZE(l); i += 2)
		if (PyDict_SetItem(d, PyList_GET_ITEM(l, i), PyList_GET_ITEM(l, i + 1)) < 0)
			Py_CLEAR(d);
	Py_XDECREF(l);
	return d;
}

/*
 * set_settings stores the interpreter's settings as the runtime's globals
 * (see runtime/sinks.py): _CHDIR, _MODULES, _GLOBALS, _TIMEOUT, _CGI_ESCAPE,
 * _PRELOAD, _MAIN, _REAL_PROCESS, _PYLIB and _EXT_GUARD.
 */
static int
set_settings(PyObject *dict, const ph_options *o, int in_main)
{
	PyObject *t = Py_True, *f = Py_False;

	if (PyDict_SetItemString(dict, "_CHDIR", o->chdir ? t : f) < 0 ||
	    set_new(dict, "_MODULES", PyUnicode_FromString(o->keep_modules ? "keep" : "purge")) < 0 ||
	    set_new(dict, "_GLOBALS", PyUnicode_FromString(o->keep_globals ? "keep" : "fresh")) < 0 ||
	    set_new(dict, "_TIMEOUT", PyFloat_FromDouble(o->timeout)) < 0 ||
	    PyDict_SetItemString(dict, "_CGI_ESCAPE", o->cgi_escape ? t : f) < 0 ||
	    set_new(dict, "_PRELOAD", str_list(o->preload)) < 0 ||
	    PyDict_SetItemString(dict, "_MAIN", in_main ? t : f) < 0 ||
	    PyDict_SetItemString(dict, "_REAL_PROCESS", o->real_process ? t : f) < 0 ||
	    set_new(dict, "_PYLIB", str_dict(o->pylib)) < 0 ||
	    set_new(dict, "_EXT_GUARD", PyLong_FromUnsignedLongLong((unsigned long long)o->ext_guard)) < 0)
		return -1;
	return 0;
}

PyObject *
ph_install_runtime(const ph_options *o, int in_main, int *park, char *errbuf, size_t errlen)
{
	PyObject *mod, *dict, *code = NULL, *r = NULL, *run;

	mod = PyImport_AddModule("_warmcgi"); /* borrowed */
	dict = mod ? PyModule_GetDict(mod) : NULL;
	if (dict != NULL && PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) == 0 &&
	    set_settings(dict, o, in_main) == 0) {
		PyObject *f = PyCFunction_New(&async_raise_def, NULL);
		PyObject *tf = PyCFunction_New(&thread_frame_def, NULL);
		PyObject *e = PyCFunction_New(&emit_def, NULL);
		PyObject *rb = PyCFunction_New(&read_body_def, NULL);
		PyObject *sv = PyCFunction_New(&same_items_def, NULL);
		PyObject *tw = PyCFunction_New(&text_write_def, NULL);
		PyObject *cap = PyCapsule_New(park, NULL, NULL);
		PyObject *pk = cap ? PyCFunction_New(&parked_def, cap) : NULL;
		PyObject *ev = PyCFunction_New(&ext_verdict_def, NULL);
		PyObject *cf = PyCFunction_New(&cflush_def, NULL);

		if (f != NULL && tf != NULL && e != NULL && rb != NULL && sv != NULL && tw != NULL && pk != NULL && ev != NULL && cf != NULL &&
		    PyDict_SetItemString(dict, "_async_raise", f) == 0 &&
		    PyDict_SetItemString(dict, "_thread_frame", tf) == 0 && PyDict_SetItemString(dict, "_emit", e) == 0 &&
		    PyDict_SetItemString(dict, "_read_body", rb) == 0 && PyDict_SetItemString(dict, "_same_items", sv) == 0 &&
		    PyDict_SetItemString(dict, "_text_write", tw) == 0 &&
		    PyDict_SetItemString(dict, "_parked", pk) == 0 && PyDict_SetItemString(dict, "_ext_verdict", ev) == 0 &&
		    PyDict_SetItemString(dict, "_cflush", cf) == 0 &&
		    ph_add_modstate(dict) == 0)
			code = Py_CompileString(o->runtime_src, "<warmcgi runtime>", Py_file_input);
		Py_XDECREF(f);
		Py_XDECREF(tf);
		Py_XDECREF(e);
		Py_XDECREF(rb);
		Py_XDECREF(sv);
		Py_XDECREF(tw);
		Py_XDECREF(cap);
		Py_XDECREF(pk);
		Py_XDECREF(ev);
		Py_XDECREF(cf);
	}
	if (code != NULL)
		r = PyEval_EvalCode(code, dict, dict);
	run = r ? PyDict_GetItemString(dict, "_run") : NULL; /* borrowed */
	if (run == NULL) {
		PyObject *t = PyErr_Occurred() ? ph_exception_text() : NULL;

		ph_set_error(errbuf, errlen, "runtime install: %s",
			  t ? PyBytes_AS_STRING(t) : "_run missing");
		Py_XDECREF(t);
	} else {
		Py_INCREF(run);
	}
	Py_XDECREF(code);
	Py_XDECREF(r);
	return run;
}
