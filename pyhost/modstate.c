/*
 * modstate.c: the module state every request starts from (issue 15, item 4).
 *
 * A CGI process starts with every module as its import made it. A warm
 * interpreter keeps the modules, so a name a script rebinds, adds or
 * deletes in a loaded module (json.dumps = f, os.flag = 1, del x.y) would
 * reach every later request. The runtime keeps, per module it watches, a
 * baseline: the module's dict as a flat tuple (name, object, ...) and the
 * dict's version when it was taken. _mstate_begin (as a request starts)
 * takes the baseline of modules new since the last request and retakes it
 * for dicts changed between requests; _mstate_end (as it ends) puts every
 * dict that changed during the request back to its baseline.
 *
 * "Changed": from 3.12 a dict watcher (PyDict_AddWatcher, what PEP 699
 * names in place of PEP 509's versions) lists the watched dicts a request
 * writes, so a request's cost follows what it changed, not what is
 * loaded. On 3.11, or where an interpreter has no watcher free, each
 * dict's ma_version_tag is looked at (up to 3.13: about 30 ns per loaded
 * module per request, the dicts' cache misses), or on 3.14, which has no
 * versions, the dict is compared with its baseline (about 2 ns per name:
 * 200 µs a request with 270 modules loaded).
 *
 * A record is a list [module, dict, version, items, seen]; the runtime
 * (state.py) decides which modules are watched, and which are the standard
 * library's, whose lazily built tables are learned (modcache.c).
 */
#include "pyhost_int.h"


#if PY_VERSION_HEX < 0x030E0000
#define HAVE_VERSION 1
static unsigned long long
version(PyObject *d)
{
	return ((PyDictObject *)d)->ma_version_tag;
}
#else
#define HAVE_VERSION 0
static unsigned long long
version(PyObject *d)
{
	(void)d;
	return 0;
}
#endif

int
ph_dict_versions(void)
{
	return HAVE_VERSION;
}


/* flat returns dict d as a flat tuple (name, object, name, object, ...). */
static PyObject *
flat(PyObject *d)
{
	Py_ssize_t n = PyDict_GET_SIZE(d), pos = 0, i = 0;
	PyObject *t = PyTuple_New(2 * n), *k, *v;

	if (t == NULL)
		return NULL;
	while (i < 2 * n && PyDict_Next(d, &pos, &k, &v)) {
		Py_INCREF(k);
		Py_INCREF(v);
		PyTuple_SET_ITEM(t, i++, k);
		PyTuple_SET_ITEM(t, i++, v);
	}
	return t;
}

/* same reports whether dict d holds exactly the names and objects of items, in order. */
static int
same(PyObject *d, PyObject *items)
{
	Py_ssize_t pos = 0, i = 0;
	PyObject *k, *v;

	if (2 * PyDict_GET_SIZE(d) != PyTuple_GET_SIZE(items))
		return 0;
	while (PyDict_Next(d, &pos, &k, &v)) {
		if (PyTuple_GET_ITEM(items, i) != k || PyTuple_GET_ITEM(items, i + 1) != v)
			return 0;
		i += 2;
	}
	return 1;
}

/* changed reports whether a record's dict differs from its baseline. */
static int
changed(PyObject *rec)
{
	PyObject *d = PyList_GET_ITEM(rec, R_DICT);

	if (HAVE_VERSION)
		return version(d) != PyLong_AsUnsignedLongLong(PyList_GET_ITEM(rec, R_VER));
	return !same(d, PyList_GET_ITEM(rec, R_ITEMS));
}

/*
 * retake makes the dict's present state the record's baseline. A dict
 * written but left as it was (the runtime sets threading's main thread for
 * each request and puts it back) only gets its new version: comparing is
 * about 2 ns a name, copying several times that.
 */
static int
retake(PyObject *rec)
{
	PyObject *d = PyList_GET_ITEM(rec, R_DICT);
	PyObject *items, *ver = PyLong_FromUnsignedLongLong(version(d));

	if (ver != NULL && PyTuple_Check(PyList_GET_ITEM(rec, R_ITEMS)) && same(d, PyList_GET_ITEM(rec, R_ITEMS))) {
		PyList_SetItem(rec, R_VER, ver);
		ph_watch(d);
		return 0;
	}
	items = flat(d);

	if (items == NULL || ver == NULL) {
		Py_XDECREF(items);
		Py_XDECREF(ver);
		return -1;
	}
	PyList_SetItem(rec, R_ITEMS, items); /* steals */
	PyList_SetItem(rec, R_VER, ver);
	ph_watch(d);
	return 0;
}

/*
 * put_back returns dict d to the flat baseline items: changed and deleted
 * names get their objects back, added names go. An added name bound to a
 * module stays: that is an import (a submodule bound on its package, a
 * function's `global x; import x`), which the import system does not
 * repeat while the module stays loaded. Returns the number of names put
 * back, or -1.
 */
static Py_ssize_t
put_back(PyObject *d, PyObject *items)
{
	Py_ssize_t n = PyTuple_GET_SIZE(items), pos = 0, count = 0;
	PyObject *base = PyDict_New(), *gone = PyList_New(0), *k, *v;

	if (base == NULL || gone == NULL)
		goto fail;
	for (Py_ssize_t i = 0; i < n; i += 2) {
		PyObject *bk = PyTuple_GET_ITEM(items, i), *bv = PyTuple_GET_ITEM(items, i + 1);

		if (PyDict_SetItem(base, bk, bv) < 0)
			goto fail;
	}
	while (PyDict_Next(d, &pos, &k, &v)) {
		PyObject *bv = PyDict_GetItemWithError(base, k);

		if (bv == NULL && PyErr_Occurred())
			goto fail;
		if (bv == NULL && !PyModule_Check(v) && PyList_Append(gone, k) < 0)
			goto fail;
	}
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(gone); i++) {
		if (PyDict_DelItem(d, PyList_GET_ITEM(gone, i)) < 0)
			goto fail;
		count++;
	}
	for (Py_ssize_t i = 0; i < n; i += 2) {
		PyObject *bk = PyTuple_GET_ITEM(items, i), *bv = PyTuple_GET_ITEM(items, i + 1);
		PyObject *cur = PyDict_GetItemWithError(d, bk);

		if (cur == bv)
			continue;
		if (cur == NULL && PyErr_Occurred())
			goto fail;
		if (PyDict_SetItem(d, bk, bv) < 0)
			goto fail;
		count++;
	}
	Py_DECREF(base);
	Py_DECREF(gone);
	return count;
fail:
	Py_XDECREF(base);
	Py_XDECREF(gone);
	return -1;
}

#if HAVE_WATCH
static int
retake_fn(PyObject *tracked, PyObject *name, PyObject *rec, void *arg)
{
	(void)tracked;
	(void)name;
	(void)arg;
	return retake(rec);
}

/* end_fn: _mstate_end for one record of a dirty dict (arg: the list of names put back). */
static int
end_fn(PyObject *tracked, PyObject *name, PyObject *rec, void *arg)
{
	PyObject *d = PyList_GET_ITEM(rec, R_DICT), *st = ph_wstate(0);
	Py_ssize_t n;

	(void)tracked;
	if (same(d, PyList_GET_ITEM(rec, R_ITEMS)))
		return retake(rec);
	if (st != NULL && ph_wid(st) >= 0)
		PyDict_Unwatch(ph_wid(st), d); /* putting back is not a change to list */
	PyErr_Clear();
	if (ph_learn_caches(rec) < 0)
		return -1;
	n = put_back(d, PyList_GET_ITEM(rec, R_ITEMS));
	if (n < 0 || retake(rec) < 0 || (n > 0 && PyList_Append((PyObject *)arg, name) < 0))
		return -1;
	return 0;
}
#endif

/*
 * scan, as _mstate_begin(tracked, modules, skip, cell), runs as a request
 * starts (cell: [sys.modules' version as _mstate_seal noted it, or None]). tracked
 * maps a module's name to its record, skip maps the names the runtime
 * chose not to watch to the module's type then. Records whose dict changed
 * since they were taken are retaken (a change between requests is not the
 * next request's to undo); records of modules no longer loaded are
 * dropped. Returns the names of loaded modules that are neither tracked
 * nor skipped (for the runtime to decide).
 */
static PyObject *
scan(PyObject *const *args, Py_ssize_t nargs, int begin)
{
	PyObject *tracked, *modules, *skip, *fresh, *name, *mod, *stale = NULL;
	Py_ssize_t pos = 0, seen = 0;

	if (nargs != 3 + begin || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyDict_Check(args[2]) ||
	    (begin && (!PyList_Check(args[3]) || PyList_GET_SIZE(args[3]) != 1))) {
		PyErr_SetString(PyExc_TypeError, "_mstate_begin(dict, dict, dict, [sealed]) or _mstate_fresh(dict, dict, dict)");
		return NULL;
	}
	tracked = args[0];
	modules = args[1];
	skip = args[2];
	if ((fresh = PyList_New(0)) == NULL)
		return NULL;
#if HAVE_WATCH
	PyObject *st = begin ? ph_watching() : NULL;

	if (st != NULL) {
		/* The dicts written since their baseline was taken (between
		 * requests) are retaken; sys.modules, watched since the seal,
		 * is among them when a module came or went. */
		PyObject *dirty = ph_take_dirty(st);
		int moved = 0;

		if (dirty == NULL)
			goto fail;
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dirty); i++) {
			PyObject *d = PyList_GET_ITEM(dirty, i);

			if (d == modules)
				moved = 1;
			else if (ph_each_record(st, tracked, d, retake_fn, NULL) < 0) {
				Py_DECREF(dirty);
				goto fail;
			}
		}
		Py_DECREF(dirty);
		if (!moved && PyList_GET_ITEM(args[3], 0) == Py_True)
			return fresh;
	}
#else
	PyObject *st = NULL;
#endif
	if (begin && HAVE_VERSION && PyLong_CheckExact(PyList_GET_ITEM(args[3], 0)) &&
	    version(modules) == PyLong_AsUnsignedLongLong(PyList_GET_ITEM(args[3], 0))) {
		/* sys.modules is as the last request left it: no module came
		 * or went, so only the watched dicts are looked at. */
		while (PyDict_Next(tracked, &pos, &name, &mod))
			if (changed(mod) && retake(mod) < 0)
				goto fail;
		return fresh;
	}
	while (PyDict_Next(modules, &pos, &name, &mod)) {
		PyObject *rec = PyDict_GetItemWithError(tracked, name), *t;

		if (rec != NULL && PyList_GET_ITEM(rec, R_MOD) == mod) {
			seen++;
			if (begin && st == NULL && changed(rec) && retake(rec) < 0)
				goto fail;
			continue;
		}
		if (rec == NULL && PyErr_Occurred())
			goto fail;
		t = PyDict_GetItemWithError(skip, name);
		if (t == (PyObject *)Py_TYPE(mod))
			continue;
		if ((t == NULL && PyErr_Occurred()) || PyList_Append(fresh, name) < 0)
			goto fail;
	}
	if (begin && seen < PyDict_GET_SIZE(tracked)) {
		/* Some watched module was removed or replaced: forget it. */
		if ((stale = PyList_New(0)) == NULL)
			goto fail;
		pos = 0;
		while (PyDict_Next(tracked, &pos, &name, &mod)) {
			PyObject *now = PyDict_GetItemWithError(modules, name);

			if (now == PyList_GET_ITEM(mod, R_MOD))
				continue;
			if ((now == NULL && PyErr_Occurred()) || PyList_Append(stale, name) < 0)
				goto fail;
		}
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stale); i++)
			if (PyDict_DelItem(tracked, PyList_GET_ITEM(stale, i)) < 0)
				goto fail;
		Py_DECREF(stale);
	}
	return fresh;
fail:
	Py_XDECREF(stale);
	Py_DECREF(fresh);
	return NULL;
}

static PyObject *
mstate_begin(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return scan(args, nargs, 1);
}

/* _mstate_fresh(tracked, modules, skip) lists the loaded modules neither tracked nor skipped, and changes nothing. */
static PyObject *
mstate_fresh(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return scan(args, nargs, 0);
}

/* _mstate_track(tracked, name, module) watches a module from now on, its dict as it is now its baseline. */
static PyObject *
mstate_track(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *rec, *d;

	(void)self;
	if (nargs != 4 || !PyDict_Check(args[0]) || !PyModule_Check(args[2])) {
		PyErr_SetString(PyExc_TypeError, "_mstate_track(dict, name, module, stdlib)");
		return NULL;
	}
	d = PyModule_GetDict(args[2]); /* borrowed; no attribute hooks run */
	if (d == NULL || (rec = PyList_New(R_LEN)) == NULL)
		return NULL;
	Py_INCREF(args[2]);
	Py_INCREF(d);
	Py_INCREF(Py_None);
	Py_INCREF(Py_None);
	PyList_SET_ITEM(rec, R_MOD, args[2]);
	PyList_SET_ITEM(rec, R_DICT, d);
	PyList_SET_ITEM(rec, R_VER, Py_None);
	PyList_SET_ITEM(rec, R_ITEMS, Py_None);
	PyList_SET_ITEM(rec, R_SEEN, PyObject_IsTrue(args[3]) == 1 ? PyDict_New() : Py_NewRef(Py_None));
	if (PyList_GET_ITEM(rec, R_SEEN) == NULL) {
		Py_DECREF(rec);
		return NULL;
	}
	if (retake(rec) < 0 || PyDict_SetItem(args[0], args[1], rec) < 0) {
		Py_DECREF(rec);
		return NULL;
	}
	Py_DECREF(rec);
#if HAVE_WATCH
	PyObject *st = ph_wstate(1);

	if (st != NULL && ph_wid(st) >= 0 && ph_note_names(st, args[0], args[1], d) < 0)
		return NULL;
#endif
	Py_RETURN_NONE;
}

/*
 * _mstate_end(tracked) runs as a request ends: every watched dict the
 * request changed is put back to its baseline, which is then retaken (its
 * version moved, and an import the request bound stays). Returns the list
 * of names of the modules put back (empty when none: the common case).
 */
static PyObject *
mstate_end(PyObject *self, PyObject *tracked)
{
	PyObject *name, *rec, *back;
	Py_ssize_t pos = 0;

	(void)self;
	if (!PyDict_Check(tracked)) {
		PyErr_SetString(PyExc_TypeError, "_mstate_end(dict)");
		return NULL;
	}
	if ((back = PyList_New(0)) == NULL)
		return NULL;
#if HAVE_WATCH
	PyObject *st = ph_wstate(1), *dirty;

	if (st != NULL && ph_wid(st) >= 0) {
		if ((dirty = ph_take_dirty(st)) == NULL) {
			Py_DECREF(back);
			return NULL;
		}
		if (PyList_GET_ITEM(st, W_LOST) == Py_False) {
			/* Only the dicts written since their baseline. */
			for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dirty); i++)
				if (ph_each_record(st, tracked, PyList_GET_ITEM(dirty, i), end_fn, back) < 0) {
					Py_DECREF(dirty);
					Py_DECREF(back);
					return NULL;
				}
			Py_DECREF(dirty);
			return back;
		}
		/* A write was not listed: every dict is compared below, and watched again. */
		Py_DECREF(dirty);
		PyList_SetItem(st, W_LOST, Py_NewRef(Py_False));
	}
#endif
	while (PyDict_Next(tracked, &pos, &name, &rec)) {
		Py_ssize_t n;

		if (!changed(rec)) {
			ph_watch(PyList_GET_ITEM(rec, R_DICT));
			continue;
		}
		if (same(PyList_GET_ITEM(rec, R_DICT), PyList_GET_ITEM(rec, R_ITEMS))) {
			if (retake(rec) < 0) {
				Py_DECREF(back);
				return NULL;
			}
			continue;
		}
		n = ph_learn_caches(rec) < 0 ? -1 : put_back(PyList_GET_ITEM(rec, R_DICT), PyList_GET_ITEM(rec, R_ITEMS));
		if (n < 0 || retake(rec) < 0 || (n > 0 && PyList_Append(back, name) < 0)) {
			Py_DECREF(back);
			return NULL;
		}
	}
	return back;
}

/* global_version returns a version no older than any dict's now (a dict just changed gets the newest). */
static unsigned long long
global_version(void)
{
	PyObject *d = PyDict_New();
	unsigned long long v = 0;

	if (d != NULL && PyDict_SetItem(d, Py_None, Py_None) == 0)
		v = version(d);
	Py_XDECREF(d);
	PyErr_Clear();
	return v;
}

#if HAVE_WATCH
static int
name_fn(PyObject *tracked, PyObject *name, PyObject *rec, void *arg)
{
	(void)tracked;
	(void)rec;
	return PyList_Append((PyObject *)arg, name);
}

struct adopt {
	PyObject *names; /* the modules the request wrote before the import */
	int kept;        /* a record of the dict is among them: it stays dirty */
};

static int
adopt_fn(PyObject *tracked, PyObject *name, PyObject *rec, void *arg)
{
	struct adopt *a = arg;
	int r = PySequence_Contains(a->names, name);

	(void)tracked;
	if (r < 0)
		return -1;
	if (r) {
		a->kept = 1;
		return 0;
	}
	return retake(rec);
}
#endif

/*
 * _mstate_mark(tracked) runs as a request starts importing a module that
 * stays loaded: returns (mark, names) — a version older than any change
 * from now on, and the names of the watched modules the request had
 * already changed, for _mstate_adopt.
 */
static PyObject *
mstate_mark(PyObject *self, PyObject *tracked)
{
	PyObject *name, *rec, *dirty;
	Py_ssize_t pos = 0;

	(void)self;
	if (!PyDict_Check(tracked)) {
		PyErr_SetString(PyExc_TypeError, "_mstate_mark(dict)");
		return NULL;
	}
	if ((dirty = PyList_New(0)) == NULL)
		return NULL;
#if HAVE_WATCH
	PyObject *st = ph_watching();

	if (st != NULL) {
		/* The mark is -1 - the length of the dirty list: what the
		 * import writes is listed after it (a version is never
		 * negative). */
		PyObject *list = PyList_GET_ITEM(st, W_DIRTY);

		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++)
			if (ph_each_record(st, tracked, PyList_GET_ITEM(list, i), name_fn, dirty) < 0) {
				Py_DECREF(dirty);
				return NULL;
			}
		return Py_BuildValue("(nN)", -1 - PyList_GET_SIZE(list), dirty);
	}
#endif
	while (PyDict_Next(tracked, &pos, &name, &rec))
		if (changed(rec) && PyList_Append(dirty, name) < 0) {
			Py_DECREF(dirty);
			return NULL;
		}
	return Py_BuildValue("(KN)", global_version(), dirty);
}

/*
 * _mstate_adopt(tracked, mark, names) runs when that import is done: what
 * it changed in other modules (a library registering itself, patching
 * another on import) becomes their baseline, since the import that did it
 * is not repeated while its module stays loaded. Modules the request had
 * changed before the import (names) are left for _mstate_end to put back.
 */
static PyObject *
mstate_adopt(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *name, *rec;
	Py_ssize_t pos = 0;
	unsigned long long mark;

	(void)self;
	if (nargs != 3 || !PyDict_Check(args[0]) || !PyList_Check(args[2])) {
		PyErr_SetString(PyExc_TypeError, "_mstate_adopt(dict, mark, list)");
		return NULL;
	}
#if HAVE_WATCH
	PyObject *st = ph_watching();

	if (st != NULL) {
		/* The dicts listed since the mark: retaken (and so no longer
		 * dirty) unless the request had written them before. */
		PyObject *list = PyList_GET_ITEM(st, W_DIRTY), *keep;
		Py_ssize_t from = -1 - PyLong_AsSsize_t(args[1]);

		if (PyErr_Occurred())
			return NULL;
		if (from < 0 || from > PyList_GET_SIZE(list))
			from = PyList_GET_SIZE(list);
		if ((keep = PyList_GetSlice(list, 0, from)) == NULL)
			return NULL;
		for (Py_ssize_t i = from; i < PyList_GET_SIZE(list); i++) {
			PyObject *d = PyList_GET_ITEM(list, i);
			struct adopt a = {args[2], 0};

			if (ph_each_record(st, args[0], d, adopt_fn, &a) < 0 || (a.kept && PyList_Append(keep, d) < 0)) {
				Py_DECREF(keep);
				return NULL;
			}
		}
		if (ph_set_dirty(st, keep) < 0)
			return NULL;
		Py_RETURN_NONE;
	}
#endif
	if (PyLong_Check(args[1])) {
		long long m = PyLong_AsLongLong(args[1]); /* a version past LLONG_MAX overflows: not a watch mark */

		if (m == -1 && PyErr_Occurred())
			PyErr_Clear();
		else if (m < 0)
			Py_RETURN_NONE; /* marked while watching, lost since: the request's end compares every dict */
	}
	mark = PyLong_AsUnsignedLongLong(args[1]);
	if (PyErr_Occurred())
		return NULL;
	while (PyDict_Next(args[0], &pos, &name, &rec)) {
		int r;

		if (HAVE_VERSION ? version(PyList_GET_ITEM(rec, R_DICT)) <= mark : !changed(rec))
			continue;
		if ((r = PySequence_Contains(args[2], name)) < 0)
			return NULL;
		if (r == 0 && retake(rec) < 0)
			return NULL;
	}
	Py_RETURN_NONE;
}

/*
 * _mstate_seal(modules, cell) runs when a request has ended and the runtime is
 * done with sys.modules: the next _mstate_begin skips its scan when
 * nothing changed it in between (the scan was most of the cost: about
 * 25 ns per loaded module).
 */
static PyObject *
mstate_seal(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *v;

	(void)self;
	if (nargs != 2 || !PyDict_Check(args[0]) || !PyList_Check(args[1]) || PyList_GET_SIZE(args[1]) != 1) {
		PyErr_SetString(PyExc_TypeError, "_mstate_seal(dict, [sealed])");
		return NULL;
	}
#if HAVE_WATCH
	PyObject *st = ph_watching();

	if (st != NULL) {
		/* sys.modules watched from here: the next _mstate_begin finds
		 * it dirty when a module came or went. */
		PyObject *list = PyList_GET_ITEM(st, W_DIRTY), *rest = PyList_New(0);

		for (Py_ssize_t i = 0; rest != NULL && i < PyList_GET_SIZE(list); i++)
			if (PyList_GET_ITEM(list, i) != args[0] && PyList_Append(rest, PyList_GET_ITEM(list, i)) < 0)
				Py_CLEAR(rest);
		if (rest == NULL || ph_set_dirty(st, rest) < 0 || PyDict_Watch(ph_wid(st), args[0]) < 0)
			return NULL;
		PyList_SetItem(args[1], 0, Py_NewRef(Py_True));
		Py_RETURN_NONE;
	}
#endif
	if ((v = PyLong_FromUnsignedLongLong(version(args[0]))) == NULL)
		return NULL;
	PyList_SetItem(args[1], 0, v); /* steals */
	Py_RETURN_NONE;
}

static PyMethodDef mstate_defs[] = {
	{"_mstate_seal", (PyCFunction)(void (*)(void))mstate_seal, METH_FASTCALL, "Note sys.modules as a request leaves it."},
	{"_mstate_mark", mstate_mark, METH_O, "Mark the start of an import of a module that stays loaded."},
	{"_mstate_adopt", (PyCFunction)(void (*)(void))mstate_adopt, METH_FASTCALL,
	 "Make what that import changed in watched modules their baseline."},
	{"_mstate_begin", (PyCFunction)(void (*)(void))mstate_begin, METH_FASTCALL,
	 "Retake changed baselines and list the loaded modules not yet decided."},
	{"_mstate_fresh", (PyCFunction)(void (*)(void))mstate_fresh, METH_FASTCALL,
	 "List the loaded modules not yet decided."},
	{"_mstate_track", (PyCFunction)(void (*)(void))mstate_track, METH_FASTCALL,
	 "Watch a module, its present dict its baseline."},
	{"_mstate_end", mstate_end, METH_O, "Put back every watched module the request changed."},
	{NULL, NULL, 0, NULL},
};

int
ph_add_modstate(PyObject *dict)
{
	for (PyMethodDef *m = mstate_defs; m->ml_name != NULL; m++) {
		PyObject *f = PyCFunction_New(m, NULL);

		if (f == NULL || PyDict_SetItemString(dict, m->ml_name, f) < 0) {
			Py_XDECREF(f);
			return -1;
		}
		Py_DECREF(f);
	}
	return 0;
}
