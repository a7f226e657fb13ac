/*
 * swiglike: a C extension that is unsafe in sub-interpreters the way SWIG
 * bindings are (the Subversion bindings' svn_swig_py_* code): single-phase
 * init (PyModule_Create, m_size = -1), and objects of whichever
 * interpreter ran the init kept in C globals for the whole process. Built
 * by the tests (gcc, pkg-config python3-embed); never committed as a binary.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *registry;      /* owned: a list made by the init */
static PyObject *owner_modules; /* borrowed: sys.modules of the interpreter that ran the init */
static PyObject *handle_type;   /* borrowed: a class the module's dict holds */

/* work() makes a Handle with the cached class, keeps it in the cached
 * registry and looks up "sys" in the cached sys.modules: the answer is
 * (registry size, whether the cached sys.modules is the caller's). */
static PyObject *
work(PyObject *self, PyObject *unused)
{
	PyObject *h, *sysmod;
	int same;

	(void)self;
	(void)unused;
	h = PyObject_CallNoArgs(handle_type);
	if (h == NULL)
		return NULL;
	if (PyList_Append(registry, h) < 0) {
		Py_DECREF(h);
		return NULL;
	}
	Py_DECREF(h);
	if (PyList_GET_SIZE(registry) > 256 && PyList_SetSlice(registry, 0, 128, NULL) < 0)
		return NULL;
	sysmod = PyDict_GetItemString(owner_modules, "sys"); /* borrowed, from the cached dict */
	if (sysmod == NULL || !PyModule_Check(sysmod)) {
		PyErr_SetString(PyExc_SystemError, "swiglike: the cached sys.modules has no sys module");
		return NULL;
	}
	same = owner_modules == PyImport_GetModuleDict();
	return Py_BuildValue("(nO)", PyList_GET_SIZE(registry), same ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
	{"work", work, METH_NOARGS, "Use the objects the init cached."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef def = {
	PyModuleDef_HEAD_INIT, "swiglike", "Unsafe in sub-interpreters, like SWIG bindings.", -1, methods,
};

PyMODINIT_FUNC
PyInit_swiglike(void)
{
	PyObject *m = PyModule_Create(&def), *t;

	if (m == NULL)
		return NULL;
	t = PyErr_NewException("swiglike.Handle", NULL, NULL);
	if (t == NULL || PyModule_AddObject(m, "Handle", t) < 0) {
		Py_XDECREF(t);
		Py_DECREF(m);
		return NULL;
	}
	handle_type = t;
	registry = PyList_New(0);
	owner_modules = PyImport_GetModuleDict();
	/* A trace of the init having run in the interpreter that ran it, for
	 * the tests: sys.swiglike_init_ran. */
	if (PySys_SetObject("swiglike_init_ran", Py_True) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
