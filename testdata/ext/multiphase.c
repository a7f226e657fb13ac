/* multiphase: a multi-phase-init extension (PEP 489) with no state, safe in
 * every interpreter: the control for swiglike. Built by the tests. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
answer(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
	{"answer", answer, METH_NOARGS, "42."},
	{NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
	{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
	{0, NULL},
};

static struct PyModuleDef def = {
	PyModuleDef_HEAD_INIT, "multiphase", "Safe in sub-interpreters.", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit_multiphase(void)
{
	return PyModuleDef_Init(&def);
}
