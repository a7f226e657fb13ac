/*
 * modcache.c: lazily built caches of the standard library, kept.
 *
 * The standard library builds some tables on first use and keeps them in
 * a module global that starts as None: urllib.parse's _hextobyte (every
 * unquote of a "%xx", so every cgi.FieldStorage of a form post),
 * posixpath's _varprog, zipfile's CRC table. A request that fills one
 * changes a watched module's dict, so as it ends modstate.c would put the
 * None back and the next request would build the table again: about
 * 130 µs a request for _hextobyte, five times a form handler's own work.
 *
 * A fresh CGI process builds them too, but what it builds is the same in
 * every process: the table is a function of nothing a request controls.
 * So a name is learned when, at the end of two requests in a row, it was
 * rebound from a None baseline to equal plain data: then its value
 * becomes the baseline, and later requests find the table built. Only in
 * modules of the standard library, only private names (a leading
 * underscore: what scripts set, such as tempfile.tempdir, is public), and
 * only plain data whose equality runs no Python code: None, bool, int,
 * float, complex, str, bytes, compiled patterns, and tuples, lists,
 * dicts, sets and frozensets of them (exact types, bounded in size). A
 * value that changes from request to request (uuid1's last timestamp) or
 * holds other objects (an opener, a lock) is put back every time, as
 * before; a table that stays is shared by later requests as every other
 * object in a module's baseline is.
 *
 * A record's R_SEEN is a dict {name: the value it held at the last end}
 * for such a module, None for the others.
 */
#include "pyhost_int.h"

#include <string.h>

enum { PLAIN_DEPTH = 4, PLAIN_ITEMS = 20000 };

/* plain reports whether o is plain data (above); *budget counts the items looked at. */
static int
plain(PyObject *o, int depth, Py_ssize_t *budget)
{
	PyTypeObject *t = Py_TYPE(o);

	if (--*budget < 0)
		return 0;
	if (o == Py_None || t == &PyBool_Type || t == &PyLong_Type || t == &PyFloat_Type ||
	    t == &PyComplex_Type || t == &PyUnicode_Type || t == &PyBytes_Type)
		return 1;
	if (strcmp(t->tp_name, "re.Pattern") == 0)
		return 1;
	if (depth <= 0)
		return 0;
	if (t == &PyTuple_Type) {
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++)
			if (!plain(PyTuple_GET_ITEM(o, i), depth - 1, budget))
				return 0;
		return 1;
	}
	if (t == &PyList_Type) {
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); i++)
			if (!plain(PyList_GET_ITEM(o, i), depth - 1, budget))
				return 0;
		return 1;
	}
	if (t == &PyDict_Type) {
		Py_ssize_t pos = 0;
		PyObject *k, *v;

		while (PyDict_Next(o, &pos, &k, &v))
			if (!plain(k, depth - 1, budget) || !plain(v, depth - 1, budget))
				return 0;
		return 1;
	}
	if (t == &PySet_Type || t == &PyFrozenSet_Type) {
		PyObject *it = PyObject_GetIter(o), *k; /* a set's own iterator: no Python code */
		int ok = 1;

		if (it == NULL) {
			PyErr_Clear();
			return 0;
		}
		while (ok && (k = PyIter_Next(it)) != NULL) {
			ok = plain(k, depth - 1, budget);
			Py_DECREF(k);
		}
		Py_DECREF(it);
		if (PyErr_Occurred()) {
			PyErr_Clear();
			return 0;
		}
		return ok;
	}
	return 0;
}

/* private reports whether a module global's name is private and not a dunder. */
static int
private(PyObject *k)
{
	Py_ssize_t n;
	const char *s;

	if (!PyUnicode_CheckExact(k) || (s = PyUnicode_AsUTF8AndSize(k, &n)) == NULL) {
		PyErr_Clear();
		return 0;
	}
	return n > 1 && s[0] == '_' && !(n > 4 && s[1] == '_' && s[n - 1] == '_' && s[n - 2] == '_');
}

/*
 * ph_learn_caches runs as a request ends, before rec's dict is put back:
 * a private name whose baseline is None and which now holds the same
 * plain data as at the last end becomes part of the baseline (R_ITEMS is
 * replaced by a copy). Returns the number of names learned, or -1.
 */
Py_ssize_t
ph_learn_caches(PyObject *rec)
{
	PyObject *seen = PyList_GET_ITEM(rec, R_SEEN), *d = PyList_GET_ITEM(rec, R_DICT);
	PyObject *items = PyList_GET_ITEM(rec, R_ITEMS), *copy = NULL;
	Py_ssize_t learned = 0;

	if (!PyDict_Check(seen) || !PyTuple_Check(items))
		return 0;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i += 2) {
		PyObject *k = PyTuple_GET_ITEM(items, i), *cur, *prev;
		Py_ssize_t budget = PLAIN_ITEMS;
		int eq;

		if (PyTuple_GET_ITEM(items, i + 1) != Py_None || !private(k))
			continue;
		cur = PyDict_GetItemWithError(d, k); /* borrowed */
		if (cur == NULL && PyErr_Occurred())
			goto fail;
		if (cur == NULL || cur == Py_None || !plain(cur, PLAIN_DEPTH, &budget)) {
			if (PyDict_DelItem(seen, k) < 0) {
				if (!PyErr_ExceptionMatches(PyExc_KeyError))
					goto fail;
				PyErr_Clear();
			}
			continue;
		}
		prev = PyDict_GetItemWithError(seen, k);
		if (prev == NULL && PyErr_Occurred())
			goto fail;
		eq = prev == NULL || Py_TYPE(prev) != Py_TYPE(cur) ? 0 : PyObject_RichCompareBool(prev, cur, Py_EQ);
		if (eq < 0)
			goto fail;
		if (!eq) {
			if (PyDict_SetItem(seen, k, cur) < 0)
				goto fail;
			continue;
		}
		if (copy == NULL) {
			if ((copy = PyTuple_New(PyTuple_GET_SIZE(items))) == NULL)
				goto fail;
			for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(items); j++)
				PyTuple_SET_ITEM(copy, j, Py_NewRef(PyTuple_GET_ITEM(items, j)));
		}
		Py_DECREF(PyTuple_GET_ITEM(copy, i + 1));
		PyTuple_SET_ITEM(copy, i + 1, Py_NewRef(cur));
		if (PyDict_DelItem(seen, k) < 0)
			goto fail;
		learned++;
	}
	if (copy != NULL)
		PyList_SetItem(rec, R_ITEMS, copy); /* steals copy */
	return learned;
fail:
	Py_XDECREF(copy);
	return -1;
}
