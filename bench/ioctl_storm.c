// SPDX-License-Identifier: GPL-2.0
//
// ioctl_storm: makes the uffdscope BPF programs write records as fast as the
// kernel lets one thread do it. It creates a uffd, negotiates the API,
// registers a small region for MISSING faults and then calls UFFDIO_WAKE on
// that region in a tight loop. Nobody waits there, so each call returns at
// once; each call still passes sys_enter_ioctl and sys_exit_ioctl on a uffd
// file, i.e. one IOCTL_ENTER and one IOCTL_EXIT record per call when the
// process is traced.
//
//   ioctl_storm [--seconds S] [--calls N] [--cpu C] [--pages P]
//               [--json FILE] [--progress FILE]
//
// It stops after S seconds (default 2) or N calls (0: no limit), whichever
// comes first, then prints (or writes to FILE) one JSON object:
//   {"pid":..,"calls":..,"errors":..,"ns":..,"cpu_ns":..,"calls_per_s":..,"cpu":..}
// `ns` is the wall time spent in the loop alone (setup and exit excluded):
// the producer run time the transport benchmark divides by; `cpu_ns` the CPU
// time the process got meanwhile (less than `ns` when it had to share its CPU).
// --progress FILE: the call count is written there (pwrite, 20 bytes) every
// 65536 calls, so a benchmark can tell how far the storm got (memory bench).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void die(const char *what)
{
	fprintf(stderr, "ioctl_storm: %s: %s\n", what, strerror(errno));
	exit(errno == EPERM || errno == ENOSYS ? 3 : 1);
}

static void usage(void)
{
	fprintf(stderr, "usage: ioctl_storm [--seconds S] [--calls N] [--cpu C] [--pages P] [--json FILE] [--progress FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	unsigned long long max_calls = 0;
	int cpu = -1;
	long pages = 1;
	const char *json = NULL, *progress = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seconds") && v) seconds = atof(v), i++;
		else if (!strcmp(a, "--calls") && v) max_calls = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--cpu") && v) cpu = atoi(v), i++;
		else if (!strcmp(a, "--pages") && v) pages = atol(v), i++;
		else if (!strcmp(a, "--json") && v) json = v, i++;
		else if (!strcmp(a, "--progress") && v) progress = v, i++;
		else usage();
	}
	if (seconds <= 0 || pages < 1 || pages > 1 << 20)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	int pfd = -1;
	if (progress) {
		pfd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (pfd < 0)
			die("open --progress file");
	}

	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)pages * (size_t)page;
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		die("userfaultfd");
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	if (ioctl(uffd, UFFDIO_API, &api))
		die("UFFDIO_API");
	void *region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		die("mmap");
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)region, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");

	struct uffdio_range wake = { .start = (uintptr_t)region, .len = len };
	unsigned long long calls = 0, errors = 0;
	uint64_t t0 = now_ns();
	uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
	uint64_t t1 = t0;
	for (;;) {
		/* 1024 calls between clock reads (vDSO, no syscall). */
		for (int k = 0; k < 1024; k++) {
			if (ioctl(uffd, UFFDIO_WAKE, &wake))
				errors++;
		}
		calls += 1024;
		if (pfd >= 0 && (calls & 0xffff) == 0) {
			char buf[24];
			int n = snprintf(buf, sizeof(buf), "%-20llu\n", calls);
			if (pwrite(pfd, buf, (size_t)n, 0) < 0)
				die("write --progress file");
		}
		t1 = now_ns();
		if (t1 >= deadline || (max_calls && calls >= max_calls))
			break;
	}
	uint64_t ns = t1 - t0;
	uint64_t cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (pfd >= 0) {
		char buf[24];
		int n = snprintf(buf, sizeof(buf), "%-20llu\n", calls);
		if (pwrite(pfd, buf, (size_t)n, 0) < 0)
			die("write --progress file");
		close(pfd);
	}
	struct uffdio_range unreg = { .start = (uintptr_t)region, .len = len };
	ioctl(uffd, UFFDIO_UNREGISTER, &unreg);
	close(uffd);
	munmap(region, len);

	FILE *out = stdout;
	if (json) {
		out = fopen(json, "w");
		if (!out)
			die("open --json file");
	}
	fprintf(out,
		"{\"pid\":%d,\"calls\":%llu,\"errors\":%llu,\"ns\":%llu,\"cpu_ns\":%llu,\"calls_per_s\":%.1f,\"cpu\":%d}\n",
		(int)getpid(), calls, errors, (unsigned long long)ns, (unsigned long long)cpu_ns,
		ns ? (double)calls * 1e9 / (double)ns : 0.0, cpu);
	if (out != stdout)
		fclose(out);
	return errors ? 1 : 0;
}
