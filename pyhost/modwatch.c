/*
 * modwatch.c: the dict watchers through which modstate.c learns, from
 * Python 3.12, which watched module dicts a request wrote.
 */
#include "pyhost_int.h"

/*
 * Dict watchers, 3.12+. The callback lists the dict it is told of as dirty,
 * once (the set of listed addresses), and on 3.14 unwatches it, so that
 * its further writes cost nothing until retake watches it again (on 3.12
 * and 3.13 the write that called the callback puts the watcher bits back:
 * there later writes call it again and find the dict listed). Each
 * interpreter keeps its own state in its interpreter dict: [watcher id or
 * -1, the dirty dicts, their addresses, lost (a dict could not be listed:
 * look at every one next time), {address of a watched dict: [names]}].
 */

int
ph_dict_watch(void)
{
	return HAVE_WATCH;
}

#if HAVE_WATCH
static const char wkey[] = "warmcgi.modstate";
static int on_write(PyDict_WatchEvent ev, PyObject *d, PyObject *k, PyObject *v);

/* ph_wstate returns this interpreter's watch state (borrowed), made when make is set; NULL when none (no error set). */
PyObject *
ph_wstate(int make)
{
	PyObject *idict = PyInterpreterState_GetDict(PyInterpreterState_Get()), *st, *exc;
	int id;

	if (idict == NULL)
		return NULL;
	st = PyDict_GetItemString(idict, wkey);
	if (st != NULL || !make)
		return st;
	exc = PyErr_GetRaisedException();
	id = PyDict_AddWatcher(on_write);
	if (id < 0)
		PyErr_Clear(); /* none free: dicts are compared */
	st = PyList_New(W_LEN);
	if (st != NULL) {
		PyList_SET_ITEM(st, W_ID, PyLong_FromLong(id));
		PyList_SET_ITEM(st, W_DIRTY, PyList_New(0));
		PyList_SET_ITEM(st, W_LISTED, PySet_New(NULL));
		PyList_SET_ITEM(st, W_LOST, Py_NewRef(Py_False));
		PyList_SET_ITEM(st, W_NAMES, PyDict_New());
		if (PyList_GET_ITEM(st, W_ID) == NULL || PyList_GET_ITEM(st, W_DIRTY) == NULL ||
		    PyList_GET_ITEM(st, W_LISTED) == NULL || PyList_GET_ITEM(st, W_NAMES) == NULL ||
		    PyDict_SetItemString(idict, wkey, st) < 0) {
			Py_CLEAR(st);
			if (id >= 0)
				PyDict_ClearWatcher(id);
		}
	}
	Py_XDECREF(st); /* the interpreter dict holds it */
	PyErr_Clear();
	PyErr_SetRaisedException(exc);
	return st != NULL ? PyDict_GetItemString(idict, wkey) : NULL;
}

int
ph_wid(PyObject *st)
{
	return (int)PyLong_AsLong(PyList_GET_ITEM(st, W_ID));
}

/* listed adds d to the dirty list unless it is there; -1 on error. */
static int
listed(PyObject *st, PyObject *d)
{
	PyObject *key = PyLong_FromVoidPtr(d);
	int r = key != NULL ? PySet_Contains(PyList_GET_ITEM(st, W_LISTED), key) : -1;

	if (r == 0 && (PySet_Add(PyList_GET_ITEM(st, W_LISTED), key) < 0 || PyList_Append(PyList_GET_ITEM(st, W_DIRTY), d) < 0))
		r = -1;
	Py_XDECREF(key);
	return r < 0 ? -1 : 0;
}

/* on_write: a watched dict is about to change. It is listed once (3.14: and unwatched until retaken). */
static int
on_write(PyDict_WatchEvent ev, PyObject *d, PyObject *k, PyObject *v)
{
	PyObject *st, *exc;

	(void)k;
	(void)v;
	if (ev == PyDict_EVENT_DEALLOCATED)
		return 0; /* not a record's (records hold their dicts) */
	exc = PyErr_GetRaisedException();
	st = ph_wstate(0);
	if (st != NULL && ph_wid(st) >= 0) {
		if ((UNWATCH_IN_CALLBACK && PyDict_Unwatch(ph_wid(st), d) < 0) || listed(st, d) < 0) {
			PyErr_Clear();
			PyList_SetItem(st, W_LOST, Py_NewRef(Py_True));
		}
	}
	PyErr_SetRaisedException(exc);
	return 0;
}

/* ph_watching returns the state when watchers are in use and nothing was lost, else NULL. */
PyObject *
ph_watching(void)
{
	PyObject *st = ph_wstate(1);

	if (st == NULL || ph_wid(st) < 0 || PyList_GET_ITEM(st, W_LOST) != Py_False)
		return NULL;
	return st;
}

/* ph_watch makes d watched again (after retake); errors are cleared, the state marked lost. */
void
ph_watch(PyObject *d)
{
	PyObject *st = ph_wstate(1);

	if (st != NULL && ph_wid(st) >= 0 && PyDict_Watch(ph_wid(st), d) < 0) {
		PyErr_Clear();
		PyList_SetItem(st, W_LOST, Py_NewRef(Py_True));
	}
}

/* ph_set_dirty makes list (stolen) the dirty list, its addresses the listed set; -1 on error. */
int
ph_set_dirty(PyObject *st, PyObject *list)
{
	PyObject *set = PySet_New(NULL);

	for (Py_ssize_t i = 0; set != NULL && i < PyList_GET_SIZE(list); i++) {
		PyObject *key = PyLong_FromVoidPtr(PyList_GET_ITEM(list, i));

		if (key == NULL || PySet_Add(set, key) < 0)
			Py_CLEAR(set);
		Py_XDECREF(key);
	}
	if (set == NULL) {
		Py_DECREF(list);
		return -1;
	}
	PyList_SetItem(st, W_DIRTY, list); /* steals */
	PyList_SetItem(st, W_LISTED, set);
	return 0;
}

/* ph_take_dirty returns the dirty list (a new reference) and leaves an empty one in its place. */
PyObject *
ph_take_dirty(PyObject *st)
{
	PyObject *old = Py_NewRef(PyList_GET_ITEM(st, W_DIRTY)), *fresh = PyList_New(0);

	if (fresh == NULL || ph_set_dirty(st, fresh) < 0) {
		Py_DECREF(old);
		return NULL;
	}
	return old;
}

/*
 * ph_each_record calls fn(tracked, name, rec, arg) for each record of dict d
 * (found through the state's names; a stale name is skipped). Returns -1
 * on error.
 */
int
ph_each_record(PyObject *st, PyObject *tracked, PyObject *d, int (*fn)(PyObject *, PyObject *, PyObject *, void *), void *arg)
{
	PyObject *key = PyLong_FromVoidPtr(d), *names;
	int r = 0;

	if (key == NULL)
		return -1;
	names = PyDict_GetItemWithError(PyList_GET_ITEM(st, W_NAMES), key);
	Py_DECREF(key);
	if (names == NULL)
		return PyErr_Occurred() ? -1 : 0;
	Py_INCREF(names);
	for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(names); i++) {
		PyObject *name = PyList_GET_ITEM(names, i), *rec = PyDict_GetItemWithError(tracked, name);

		if (rec == NULL && PyErr_Occurred())
			r = -1;
		else if (rec != NULL && PyList_GET_ITEM(rec, R_DICT) == d)
			r = fn(tracked, name, rec, arg);
	}
	Py_DECREF(names);
	return r;
}

/* ph_note_names records that name's record watches dict d; the map is rebuilt from tracked when it has grown stale. */
int
ph_note_names(PyObject *st, PyObject *tracked, PyObject *name, PyObject *d)
{
	PyObject *map = PyList_GET_ITEM(st, W_NAMES), *key, *names, *n, *rec;
	Py_ssize_t pos = 0;

	if (PyDict_GET_SIZE(map) > 2 * PyDict_GET_SIZE(tracked) + 64) {
		PyDict_Clear(map);
		while (PyDict_Next(tracked, &pos, &n, &rec))
			if (n != name && ph_note_names(st, tracked, n, PyList_GET_ITEM(rec, R_DICT)) < 0)
				return -1;
	}
	if ((key = PyLong_FromVoidPtr(d)) == NULL)
		return -1;
	names = PyDict_GetItemWithError(map, key);
	if (names == NULL) {
		int r = PyErr_Occurred() ? -1 : 0;

		if (r == 0 && (names = PyList_New(0)) != NULL) {
			r = PyDict_SetItem(map, key, names);
			Py_DECREF(names);
		}
		if (names == NULL || r < 0) {
			Py_DECREF(key);
			return -1;
		}
	}
	Py_DECREF(key);
	switch (PySequence_Contains(names, name)) {
	case 0:
		return PyList_Append(names, name);
	case 1:
		return 0;
	default:
		return -1;
	}
}
#else
void
ph_watch(PyObject *d)
{
	(void)d;
}
#endif
