/*
 * pyhost_int.h: what pyhost.c (lifecycle, exec) and module.c (the
 * _warmcgi module the runtime runs in) share. Not seen by Go.
 */
#ifndef PYHOST_INT_H
#define PYHOST_INT_H

#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <Python.h>

#include "pyhost.h"

/* Own-GIL sub-interpreters crash on 3.12 (DESIGN.md), so they need 3.13. */
#if PY_VERSION_HEX >= 0x030D0000
#define PH_HAVE_OWN_GIL 1
#else
#define PH_HAVE_OWN_GIL 0
#endif

/*
 * The per-request memory budget (budget.c): ph_budget_install wraps the raw
 * and arena allocators when ph_limit_memory set a limit (between
 * Py_PreInitialize and Py_InitializeFromConfig); ph_budget_begin and
 * ph_budget_end bracket a request on its thread.
 */
void ph_budget_install(void);
void ph_budget_begin(void);
void ph_budget_end(void);

/*
 * gilswitch.c: fair GIL switching between sub-interpreters that share the
 * GIL (before 3.13). ph_gil_track and ph_gil_untrack name the interpreters
 * the referee may ask to drop the GIL (untrack before Py_EndInterpreter);
 * ph_gil_running counts the requests running; ph_gil_forced_switches is
 * how many times the referee asked.
 */
void ph_gil_track(PyInterpreterState *interp);
void ph_gil_untrack(PyInterpreterState *interp);
void ph_gil_running(int delta);
unsigned long ph_gil_forced_switches(void);

/* ph_set_error formats a message into buf (n bytes), if there is one. */
void ph_set_error(char *buf, size_t n, const char *fmt, ...);

/*
 * ph_exception_text returns "Type: message" for the raised exception as
 * a new bytes object and clears it, or NULL if that fails too. GIL held.
 */
PyObject *ph_exception_text(void);

/*
 * ph_install_runtime makes the current interpreter's _warmcgi module (its
 * C methods, park the flag its _parked reads, and o's settings as the
 * runtime's globals; in_main says it is the main interpreter), runs the
 * runtime source in it and returns a new reference to its _run, or NULL
 * with errbuf filled. GIL held.
 */
/* modstate.c: the runtime's module-state functions, added to its namespace. */
int ph_add_modstate(PyObject *dict);

/*
 * A module-state record: a list [module, dict, version, items, seen]
 * (modstate.c); seen is modcache.c's dict for a module of the standard
 * library, None for the others.
 */
enum { R_MOD, R_DICT, R_VER, R_ITEMS, R_SEEN, R_LEN };

/* modcache.c: a standard-library module's lazily built tables become its baseline. */
Py_ssize_t ph_learn_caches(PyObject *rec);

/*
 * modwatch.c: dict watchers, 3.12+. An interpreter's watch state (in its
 * interpreter dict) is a list [watcher id or -1, the dirty dicts, their
 * addresses, lost, {address of a watched dict: [names]}]; its functions
 * run with the GIL held. ph_watch makes a dict watched again; on a Python
 * without watchers it does nothing.
 */
#define HAVE_WATCH (PY_VERSION_HEX >= 0x030C0000)
#define UNWATCH_IN_CALLBACK (PY_VERSION_HEX >= 0x030E0000)
enum { W_ID, W_DIRTY, W_LISTED, W_LOST, W_NAMES, W_LEN };
void ph_watch(PyObject *d);
#if HAVE_WATCH
PyObject *ph_wstate(int make);
int ph_wid(PyObject *st);
PyObject *ph_watching(void);
int ph_set_dirty(PyObject *st, PyObject *list);
PyObject *ph_take_dirty(PyObject *st);
int ph_each_record(PyObject *st, PyObject *tracked, PyObject *d, int (*fn)(PyObject *, PyObject *, PyObject *, void *),
		   void *arg);
int ph_note_names(PyObject *st, PyObject *tracked, PyObject *name, PyObject *d);
#endif

PyObject *ph_install_runtime(const ph_options *o, int in_main, int *park, char *errbuf, size_t errlen);

/*
 * ph_start_python initialises the main interpreter with the server's
 * isolated configuration (program name, bytecode cache, UTF-8 mode, site);
 * install_signals is CPython's install_signal_handlers: 0 in the server
 * (Go owns signals), 1 in a fork template (its children are Python
 * processes). The caller holds the GIL afterwards.
 */
int ph_start_python(const char *program_name, const char *pycache_prefix, int install_signals, char *errbuf, size_t errlen);

/* The early modes (early.c): each ends the process, never returning. */
void ph_fork_template(const char *fdtext);
void ph_probe_ext(const char *path);

#endif
