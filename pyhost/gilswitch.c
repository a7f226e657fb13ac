/*
 * gilswitch.c: fair GIL switching between sub-interpreters that share the
 * GIL (Python 3.11 and 3.12; from 3.13 each has its own).
 *
 * A thread waiting for the GIL asks its holder to drop it after the switch
 * interval (5 ms) by setting gil_drop_request, which the holder's eval loop
 * checks. Before 3.13 CPython sets that request on the waiting thread's
 * interpreter, not on the holder's: a thread of another interpreter that
 * runs Python code without blocking never sees it. So a script computing
 * for a second in one sub-interpreter held up every request of the other
 * workers for that second, and a script that swallows the timeout spun
 * alone until the server gave up on it.
 *
 * The referee thread does what CPython means to: while requests run, it
 * looks at the GIL once per switch interval. When one thread has held it
 * for a whole interval while a thread of another interpreter asked for it,
 * the referee sets the request on the holder's interpreter. The holder then
 * drops the GIL and waits until another thread has taken it; the taker
 * thread, woken each time, makes sure one will, so the holder never waits
 * for a thread that has stopped wanting the GIL in the meantime.
 *
 * Only the interpreters this file knows of (the main one and the workers'
 * sub-interpreters, ph_gil_track) are read or written: one is forgotten
 * before Py_EndInterpreter frees it. The referee and the taker start with
 * the first sub-interpreter, so worker processes (the main interpreter
 * alone) have neither.
 */
#define Py_BUILD_CORE 1
#include "pyhost_int.h"

#if !PH_HAVE_OWN_GIL

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"

#define MAX_TRACKED 1024

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static PyInterpreterState *tracked[MAX_TRACKED]; /* guarded by mu */
static int ntracked;                             /* guarded by mu */
static int started;                              /* guarded by mu */

static pthread_mutex_t take_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t take_cv = PTHREAD_COND_INITIALIZER;
static int take_pending; /* guarded by take_mu */

static int running; /* requests in ph_exec; atomic */
static unsigned long forced_switches; /* atomic */

static struct _gil_runtime_state *
the_gil(void)
{
#if PY_VERSION_HEX >= 0x030C0000
	return PyInterpreterState_Main()->ceval.gil;
#else
	/* The library's own runtime state, through a pointer it made: this
	 * executable's _PyRuntime may be a copy (a copy relocation) that
	 * libpython, built with -fno-semantic-interposition, never uses. */
	return &PyInterpreterState_Main()->runtime->ceval.gil;
#endif
}

static int
is_tracked(PyInterpreterState *interp)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i] == interp)
			return 1;
	return 0;
}

/*
 * taker takes the GIL and gives it back each time the referee has made a
 * holder drop it: the holder's drop_gil waits until some thread has taken
 * the GIL, and this one always does.
 */
static void *
taker(void *arg)
{
	PyThreadState *ts = PyThreadState_New(PyInterpreterState_Main());

	(void)arg;
	if (ts == NULL)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&take_mu);
		while (!take_pending)
			pthread_cond_wait(&take_cv, &take_mu);
		take_pending = 0;
		pthread_mutex_unlock(&take_mu);
		PyEval_RestoreThread(ts);
		PyEval_SaveThread();
	}
	return NULL;
}

/*
 * nudge looks at the GIL once; *seen and *have hold the switch number of
 * the previous look. It returns 1 when it asked the holder's interpreter
 * to drop the GIL. mu held.
 */
static int
nudge(struct _gil_runtime_state *gil, unsigned long *seen, int *have, PyInterpreterState **forced)
{
	unsigned long sw;
	PyThreadState *holder;
	PyInterpreterState *hi;
	int waiter = 0;

	if (!_Py_atomic_load_relaxed(&gil->locked)) {
		*have = 0;
		return 0;
	}
	sw = __atomic_load_n(&gil->switch_number, __ATOMIC_ACQUIRE);
	if (!*have || sw != *seen) {
		/* Another thread took the GIL since the last look. A request
		 * this referee set and the interpreter's thread did not take
		 * back is cleared: a real waiter there sets it again. */
		if (*forced != NULL && is_tracked(*forced)) {
			holder = (PyThreadState *)_Py_atomic_load_relaxed(&gil->last_holder);
			if (holder == NULL || holder->interp != *forced)
				_Py_atomic_store_relaxed(&(*forced)->ceval.gil_drop_request, 0);
		}
		*forced = NULL;
		*seen = sw;
		*have = 1;
		return 0;
	}
	/* One holder for a whole interval: is a thread of another
	 * interpreter waiting (its request set on its own interpreter)? */
	holder = (PyThreadState *)_Py_atomic_load_relaxed(&gil->last_holder);
	if (holder == NULL)
		return 0;
	hi = holder->interp;
	if (__atomic_load_n(&gil->switch_number, __ATOMIC_ACQUIRE) != sw || !is_tracked(hi))
		return 0;
	if (_Py_atomic_load_relaxed(&hi->ceval.gil_drop_request))
		return 0; /* asked already, by a waiter of its own */
	for (int i = 0; i < ntracked && !waiter; i++)
		waiter = tracked[i] != hi && _Py_atomic_load_relaxed(&tracked[i]->ceval.gil_drop_request);
	if (!waiter)
		return 0;
	_Py_atomic_store_relaxed(&hi->ceval.gil_drop_request, 1);
	_Py_atomic_store_relaxed(&hi->ceval.eval_breaker, 1);
	*forced = hi;
	*have = 0;
	return 1;
}

static void *
referee(void *arg)
{
	struct _gil_runtime_state *gil = the_gil();
	unsigned long seen = 0;
	int have = 0;
	PyInterpreterState *forced = NULL;

	(void)arg;
	for (;;) {
		/* Idle, a look every 100 ms: a script's own thread may still
		 * compute after its request. */
		unsigned long us = __atomic_load_n(&running, __ATOMIC_RELAXED) > 0 ? gil->interval : 100000;
		struct timespec d = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
		int asked;

		if (us < 1000)
			d.tv_nsec = 1000000;
		while (nanosleep(&d, &d) != 0 && errno == EINTR)
			;
		pthread_mutex_lock(&mu);
		asked = nudge(gil, &seen, &have, &forced);
		pthread_mutex_unlock(&mu);
		if (asked) {
			__atomic_add_fetch(&forced_switches, 1, __ATOMIC_RELAXED);
			pthread_mutex_lock(&take_mu);
			take_pending = 1;
			pthread_cond_signal(&take_cv);
			pthread_mutex_unlock(&take_mu);
		}
	}
	return NULL;
}

static int
start_threads(void)
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&a) != 0)
		return -1;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	rc = pthread_create(&t, &a, taker, NULL);
	if (rc == 0)
		rc = pthread_create(&t, &a, referee, NULL);
	pthread_attr_destroy(&a);
	return rc == 0 ? 0 : -1;
}

void
ph_gil_track(PyInterpreterState *interp)
{
	pthread_mutex_lock(&mu);
	if (ntracked == 0 && interp != PyInterpreterState_Main())
		tracked[ntracked++] = PyInterpreterState_Main();
	if (ntracked < MAX_TRACKED && !is_tracked(interp))
		tracked[ntracked++] = interp;
	if (!started && ntracked > 1)
		started = start_threads() == 0 ? 1 : -1;
	pthread_mutex_unlock(&mu);
}

void
ph_gil_untrack(PyInterpreterState *interp)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < ntracked; i++) {
		if (tracked[i] == interp) {
			tracked[i] = tracked[--ntracked];
			break;
		}
	}
	pthread_mutex_unlock(&mu);
}

void
ph_gil_running(int delta)
{
	__atomic_add_fetch(&running, delta, __ATOMIC_RELAXED);
}

unsigned long
ph_gil_forced_switches(void)
{
	return __atomic_load_n(&forced_switches, __ATOMIC_RELAXED);
}

#else /* own-GIL Pythons: CPython asks the holder itself */

void
ph_gil_track(PyInterpreterState *interp)
{
	(void)interp;
}

void
ph_gil_untrack(PyInterpreterState *interp)
{
	(void)interp;
}

void
ph_gil_running(int delta)
{
	(void)delta;
}

unsigned long
ph_gil_forced_switches(void)
{
	return 0;
}

#endif
