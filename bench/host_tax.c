// SPDX-License-Identifier: MIT
/*
 * host_tax: what ordinary work costs in a process that never touches
 * userfaultfd, per operation, for bench/host_tax.ts (run it with and without
 * a tracer loaded elsewhere on the host and compare).
 *
 *   host_tax [--op getppid|read|fault|switch|fork|all] [--iters N] [--json]
 *
 *   getppid  syscall(SYS_getppid): a system call no uffdscope program should run for
 *   read     read(2) of 1 byte from /dev/zero: a system call uffdscope hooks
 *   fault    mmap 2 MiB anonymous (no THP), write one byte per page, munmap:
 *            ns per page fault (the mmap/munmap amortized over 512 faults)
 *   switch   two threads on one CPU handing a futex back and forth: ns per
 *            context switch (each handoff is one switch and two futex calls)
 *   fork     fork(), the child _exit(0)s, waitpid(): ns per process made and
 *            reaped (the hooks on process fork and exit run for every one)
 *
 * Each op runs N/10 untimed iterations, then N timed ones (default: 300000
 * getppid and read, 30000 faults, 100000 switches, 1000 forks; 0.3-0.4 s of CPU each
 * here). The process stays on the CPU it starts on. Without --json one line per op;
 * with --json one object: {"cpu":C,"ops":{"getppid":{"iters":N,
 * "ns_per_op":..,"cpu_ns_per_op":..,"wall_ns":..,"minflt":..,"ctxsw":..},...}}
 * where minflt and ctxsw are the process's page faults and context switches
 * during the timed loop (getrusage), a check that the loop did what it says.
 * cpu_ns_per_op adds the CPU time of children reaped meanwhile (fork's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "host_tax"
#include "bench_cli.h"

#define CHUNK_PAGES 512

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* user + system CPU of a struct rusage, in µs */
static uint64_t rusage_us(const struct rusage *r)
{
	return (uint64_t)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1000000u + (uint64_t)(r->ru_utime.tv_usec + r->ru_stime.tv_usec);
}

static long g_ps;
static int g_zero = -1;

static void op_getppid(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

static void op_read(long n)
{
	char b;
	for (long i = 0; i < n; i++)
		if (read(g_zero, &b, 1) != 1)
			die(1, "read /dev/zero: %s", strerror(errno));
}

static void op_fault(long n)
{
	const size_t len = (size_t)CHUNK_PAGES * (size_t)g_ps;
	for (long done = 0; done < n;) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die(1, "mmap: %s", strerror(errno));
		madvise(p, len, MADV_NOHUGEPAGE); /* one fault per 4 KiB page */
		long k = n - done < CHUNK_PAGES ? n - done : CHUNK_PAGES;
		for (long i = 0; i < k; i++)
			((volatile char *)p)[i * g_ps] = 1;
		munmap(p, len);
		done += k;
	}
}

/* ---- switch: a futex handed back and forth between two threads on one CPU ---- */

static _Atomic int g_turn; /* 0: the main thread's turn, 1: the partner's */
static long g_rounds;

static void futex_wait(_Atomic int *w, int val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
	(void)arg;
	for (long i = 0; i < g_rounds; i++) {
		while (atomic_load(&g_turn) == 0)
			futex_wait(&g_turn, 0);
		atomic_store(&g_turn, 0);
		futex_wake(&g_turn);
	}
	return NULL;
}

static void op_switch(long n)
{
	pthread_t t;
	g_rounds = (n + 1) / 2; /* two switches per round trip */
	atomic_store(&g_turn, 0);
	if (pthread_create(&t, NULL, partner, NULL))
		die(1, "pthread_create failed");
	for (long i = 0; i < g_rounds; i++) {
		atomic_store(&g_turn, 1);
		futex_wake(&g_turn);
		while (atomic_load(&g_turn) == 1)
			futex_wait(&g_turn, 1);
	}
	pthread_join(t, NULL);
}

/* ---- fork: a process made and reaped ---- */

static void op_fork(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die(1, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			die(1, "waitpid %d: %s", (int)pid, strerror(errno));
	}
}

/* ---- driver ---- */

struct op {
	const char *name;
	void (*fn)(long);
	long iters;
};
static const struct op OPS[] = {
	{ "getppid", op_getppid, 300000 },
	{ "read", op_read, 300000 },
	{ "fault", op_fault, 30000 },
	{ "switch", op_switch, 100000 },
	{ "fork", op_fork, 1000 },
};
#define NOPS (sizeof OPS / sizeof OPS[0])

/* Both threads of `switch` must share a CPU, or there is no switch to time;
 * and no op should migrate mid-loop: pin the process to the CPU it is on. */
static int pin_to_one_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		die(1, "sched_getaffinity: %s", strerror(errno));
	int cpu = sched_getcpu();
	if (CPU_COUNT(&set) == 1) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				return c;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		die(1, "sched_setaffinity: %s", strerror(errno));
	return cpu;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "op", required_argument, NULL, 'o' }, { "iters", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },	{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *which = "all";
	long iters = 0; /* 0: each op's own default */
	int json = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 'o': which = optarg; break;
		case 'n': iters = num_arg("--iters", optarg, 1, 1000000000L); break;
		case 'j': json = 1; break;
		case 'h':
			printf("usage: host_tax [--op getppid|read|fault|switch|fork|all] [--iters N] [--json]\n");
			return 0;
		case ':': die(2, "%s needs a value (see --help)", argv[optind - 1]);
		default: die(2, "unknown option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument \"%s\" (see --help)", argv[optind]);
	int selected = -1;
	if (strcmp(which, "all") != 0) {
		for (size_t i = 0; i < NOPS; i++)
			if (strcmp(which, OPS[i].name) == 0)
				selected = (int)i;
		if (selected < 0)
			die(2, "--op takes getppid, read, fault, switch, fork or all, got \"%s\"", which);
	}
	g_ps = sysconf(_SC_PAGESIZE);
	g_zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (g_zero < 0)
		die(1, "open /dev/zero: %s", strerror(errno));
	int cpu = pin_to_one_cpu();

	if (json)
		printf("{\"cpu\":%d,\"ops\":{", cpu);
	int first = 1;
	for (size_t i = 0; i < NOPS; i++) {
		if (selected >= 0 && (size_t)selected != i)
			continue;
		const long n = iters ? iters : OPS[i].iters;
		OPS[i].fn(n / 10 ? n / 10 : 1); /* warm-up: caches, page tables, the partner's stack */
		struct rusage r0, r1, k0, k1;
		getrusage(RUSAGE_SELF, &r0);
		getrusage(RUSAGE_CHILDREN, &k0);
		uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
		OPS[i].fn(n);
		uint64_t w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		getrusage(RUSAGE_SELF, &r1);
		getrusage(RUSAGE_CHILDREN, &k1);
		long minflt = r1.ru_minflt - r0.ru_minflt;
		long ctxsw = (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw);
		/* reaped children's CPU (fork: the child's exit, where exit hooks run), in µs steps */
		uint64_t kids = (rusage_us(&k1) - rusage_us(&k0)) * 1000u;
		double ns = (double)(w1 - w0) / (double)n, cns = (double)(c1 - c0 + kids) / (double)n;
		if (json)
			printf("%s\"%s\":{\"iters\":%ld,\"ns_per_op\":%.1f,\"cpu_ns_per_op\":%.1f,\"wall_ns\":%llu,\"minflt\":%ld,\"ctxsw\":%ld}", first ? "" : ",",
			       OPS[i].name, n, ns, cns, (unsigned long long)(w1 - w0), minflt, ctxsw);
		else
			printf("%-8s %10ld iters  %8.1f ns/op  (cpu %8.1f ns/op; %ld page faults, %ld context switches)\n", OPS[i].name, n, ns, cns,
			       minflt, ctxsw);
		first = 0;
	}
	if (json)
		printf("}}\n");
	return 0;
}
