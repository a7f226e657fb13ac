/*
 * probe.c: the extension probe, an early mode (early.c).
 *
 * WARMCGI_PROBE_EXT=<path> (with WARMCGI_PROBE_NAME=<module name> and
 * WARMCGI_PROBE_PROGRAM=<python executable>): judge one extension module
 * for sub-interpreters by loading it in this throw-away process's main
 * interpreter (ph_probe_ext), so that its init never runs in the server.
 */
#include "pyhost_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The probe's answer, one line on stdout after this prefix (an init may
 * print what it likes before it). */
#define PROBE_PREFIX "WARMCGI-PROBE "

/* probe_init initialises Python as ph_init does: isolated, UTF-8, site on. */
static int
probe_init(const char *program)
{
	PyPreConfig pre;
	PyConfig cfg;
	PyStatus st;

	PyPreConfig_InitIsolatedConfig(&pre);
	pre.utf8_mode = 1;
	st = Py_PreInitialize(&pre);
	if (PyStatus_Exception(st))
		return -1;
	PyConfig_InitIsolatedConfig(&cfg);
	cfg.install_signal_handlers = 0;
	cfg.site_import = 1;
	cfg.write_bytecode = 0;
	if (program != NULL && *program != '\0') {
		st = PyConfig_SetBytesString(&cfg, &cfg.program_name, program);
		if (PyStatus_Exception(st)) {
			PyConfig_Clear(&cfg);
			return -1;
		}
	}
	st = Py_InitializeFromConfig(&cfg);
	PyConfig_Clear(&cfg);
	return PyStatus_Exception(st) ? -1 : 0;
}

/*
 * probe_kind loads the module (its init runs here) and says what kind of
 * init it has: "single" (PyModule_Create: no m_slots), or "multi N" with N
 * its Py_mod_multiple_interpreters value (-1 when it has none: CPython's
 * default, supported).
 */
static void
probe_kind(const char *name, const char *path)
{
	PyObject *util, *spec = NULL, *m = NULL;
	PyModuleDef *def;

	util = PyImport_ImportModule("importlib.util");
	if (util != NULL)
		spec = PyObject_CallMethod(util, "spec_from_file_location", "ss", name, path);
	if (spec != NULL && spec != Py_None)
		m = PyObject_CallMethod(util, "module_from_spec", "O", spec);
	if (m == NULL) {
		PyObject *t = PyErr_Occurred() ? ph_exception_text() : NULL;

		printf("\n" PROBE_PREFIX "error %s\n", t ? PyBytes_AS_STRING(t) : "no spec for this file");
		return;
	}
	def = PyModule_Check(m) ? PyModule_GetDef(m) : NULL;
	PyErr_Clear();
	if (def == NULL) {
		printf("\n" PROBE_PREFIX "error its init did not return an extension module\n");
	} else if (def->m_slots == NULL) {
		printf("\n" PROBE_PREFIX "single\n");
	} else {
		long level = -1;
#if PY_VERSION_HEX >= 0x030C0000
		PyModuleDef_Slot *s;

		for (s = def->m_slots; s->slot != 0; s++)
			if (s->slot == Py_mod_multiple_interpreters)
				level = (long)(intptr_t)s->value;
#endif
		printf("\n" PROBE_PREFIX "multi %ld\n", level);
	}
}

void
ph_probe_ext(const char *path)
{
	const char *name = getenv("WARMCGI_PROBE_NAME");

	if (name == NULL || probe_init(getenv("WARMCGI_PROBE_PROGRAM")) < 0) {
		printf("\n" PROBE_PREFIX "error cannot start the probe\n");
	} else {
		probe_kind(name, path);
	}
	fflush(stdout);
	_exit(0); /* no finalisation: the module's state dies with the process */
}
