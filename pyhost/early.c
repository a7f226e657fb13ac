/*
 * early.c: modes of this binary that must start before the Go runtime,
 * chosen by an environment variable its parent set when it re-executed
 * itself. The constructor runs before Go's runtime (one thread, no Go code
 * yet), so a mode may initialise Python and must end with _exit, never
 * return into Go. Without such a variable it returns and Go starts as usual.
 *
 *   PH_FORK_TEMPLATE_ENV  the fork template of --isolation fork (forktemplate.c)
 *   WARMCGI_PROBE_EXT     the probe of one extension module (probe.c)
 */
#include "pyhost_int.h"
#include <stdlib.h>

__attribute__((constructor)) static void
ph_early(void)
{
	const char *v;

	if ((v = getenv(PH_FORK_TEMPLATE_ENV)) != NULL)
		ph_fork_template(v);
	if ((v = getenv("WARMCGI_PROBE_EXT")) != NULL)
		ph_probe_ext(v);
}
