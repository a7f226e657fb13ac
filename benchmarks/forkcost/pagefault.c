/*
 * pagefault.c: what a page costs a forked child on this machine, in CPU
 * time of the process (CLOCK_PROCESS_CPUTIME_ID; -DWALL for wall time):
 * the first touch of anonymous memory, fork() of a process with SIZE MiB
 * resident, a write to each page after fork (copy-on-write), and a read of
 * each page after fork (no fault: the page tables were copied).
 *
 *   cc -O2 -o /tmp/pagefault pagefault.c && /tmp/pagefault 40
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef WALL
#define CLK CLOCK_MONOTONIC
#else
#define CLK CLOCK_PROCESS_CPUTIME_ID
#endif

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLK, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long
faults(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_minflt;
}

/* in_child runs one pass over the pages in a fresh fork and reports µs per page and faults. */
static void
in_child(const char *what, volatile char *p, size_t n, int store)
{
	int fd[2];
	double r[2];
	pid_t pid;

	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		long f0 = faults();
		double t0 = now();
		char s = 0;

		for (size_t i = 0; i < n; i += 4096) {
			if (store)
				p[i] = 2;
			else
				s += p[i];
		}
		r[0] = (now() - t0) / (n / 4096) * 1e6;
		r[1] = (double)(faults() - f0) + 0 * s;
		if (write(fd[1], r, sizeof r) != sizeof r)
			_exit(1);
		_exit(0);
	}
	if (read(fd[0], r, sizeof r) != sizeof r)
		exit(1);
	waitpid(pid, NULL, 0);
	printf("%-28s %6.2f us/page, %.0f faults for %zu pages\n", what, r[0], r[1], n / 4096);
}

int
main(int argc, char **argv)
{
	size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 40, n = mb << 20;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0 = now();

	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	printf("%-28s %6.2f us/page\n", "first touch (zero-fill)", (now() - t0) / (n / 4096) * 1e6);
	for (int i = 0; i < 3; i++) {
		pid_t pid;
		double f0 = now();

		if ((pid = fork()) == 0)
			_exit(0);
		printf("fork() with %zu MiB resident: %.0f us\n", mb, (now() - f0) * 1e6);
		waitpid(pid, NULL, 0);
	}
	in_child("write after fork (COW)", p, n, 1);
	in_child("read after fork", p, n, 0);
	return 0;
}
