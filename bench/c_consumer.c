// SPDX-License-Identifier: GPL-2.0
//
// c_consumer: the smallest libbpf consumer of the REAL uffdscope BPF object
// (the tracepoint skeleton out/bpf/uffdscope.skel.h), the baseline the
// transport benchmark compares the native addon and the JavaScript pipeline
// with. It configures the object the way the addon does (same rodata, ring
// size, wake-up threshold, poll timeout), runs a command the way LiveCapture
// does (the child waits on a pipe until its pid is in the kernel filter,
// then execs), counts every record the ring buffer delivers (no copy), and
// stops once the command has exited: a final ring_buffer__consume() drains
// what the kernel submitted.
//
//   c_consumer [--ring-bytes N] [--wakeup-bytes N] [--poll-ms N]
//              [--hu-start ADDR] [--hu-end ADDR] [--uffd-wake-fn ADDR]
//              [--vm-missing X] [--vm-wp X] [--vm-minor X]
//              [--follow-children 0|1] [--hooks btf|classic] [--in-kernel 0|1] [--cpu C] [--spin-ns N] [--json FILE] -- CMD ARGS...
//
// --in-kernel 1 configures the object as `stat --in-kernel` does (faults
// counted and waits histogrammed in the uscope_uffd_stats map, no per-fault
// records) and adds the map's sums over all uffds to the JSON.
//
// --spin-ns N busy-waits N ns per record: a consumer as slow as the
// JavaScript pipeline, to see what a consumer that falls behind does to the
// traced process (the wake-up path) without JavaScript in the way.
//
// Prints one JSON object: delivered records and bytes, the kernel's
// produced/lost counters (all record types, all CPUs), per-type delivered
// counts, the command's exit status and the consumer's own CPU time while
// consuming (from the gate to the final drain).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "uffdscope.h"
#include "hooks.h"
#include "uffdscope.skel.h"

struct tally {
	uint64_t spin_ns; /* --spin-ns: simulated per-record work (a slow consumer) */
	uint64_t records;
	uint64_t bytes;
	uint64_t by_type[USCOPE_REC_TYPE_COUNT + 1];
};

static uint64_t now_ns(void);

static int on_record(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	const struct uscope_header *h = data;

	if (t->spin_ns) {
		uint64_t until = now_ns() + t->spin_ns;
		while (now_ns() < until)
			;
	}
	t->records++;
	t->bytes += size;
	if (size >= sizeof(*h) && h->type <= USCOPE_REC_TYPE_COUNT)
		t->by_type[h->type]++;
	return 0;
}

static int quiet_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: c_consumer [--ring-bytes N] [--wakeup-bytes N] [--poll-ms N] [--hu-start A] [--hu-end A] [--uffd-wake-fn A]\n"
		"                  [--vm-missing X] [--vm-wp X] [--vm-minor X] [--follow-children 0|1] [--hooks btf|classic]\n"
		"                  [--cpu C] [--spin-ns N] [--json FILE] -- CMD ARGS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t ring_bytes = 2 << 20, wakeup_bytes = 256 << 10;
	uint64_t hu_start = 0, hu_end = 0, uffd_wake_fn = 0;
	uint64_t vm_missing = 0x200, vm_wp = 0x1000, vm_minor = 1ull << 41;
	int poll_ms = 50, follow = 1, cpu = -1, btf_hooks = 1, in_kernel = 0;
	uint64_t spin_ns = 0;
	const char *json = NULL;
	char **cmd = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--")) {
			cmd = &argv[i + 1];
			break;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--ring-bytes")) ring_bytes = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--wakeup-bytes")) wakeup_bytes = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--poll-ms")) poll_ms = atoi(v);
		else if (!strcmp(a, "--hu-start")) hu_start = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--hu-end")) hu_end = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--uffd-wake-fn")) uffd_wake_fn = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--vm-missing")) vm_missing = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--vm-wp")) vm_wp = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--vm-minor")) vm_minor = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--follow-children")) follow = atoi(v);
		else if (!strcmp(a, "--hooks")) btf_hooks = !strcmp(v, "btf") ? 1 : !strcmp(v, "classic") ? 0 : (usage(), 0);
		else if (!strcmp(a, "--in-kernel")) in_kernel = atoi(v);
		else if (!strcmp(a, "--cpu")) cpu = atoi(v);
		else if (!strcmp(a, "--spin-ns")) spin_ns = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--json")) json = v;
		else usage();
		i++;
	}
	if (!cmd || !cmd[0])
		usage();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("c_consumer: sched_setaffinity");
			return 1;
		}
	}

	libbpf_set_print(quiet_log);
	struct uffdscope *skel = uffdscope__open();
	if (!skel) {
		perror("c_consumer: open skeleton");
		return 3;
	}
	/* The addon's configuration (native/tracer.cc, SkelImpl::Open and the
	 * Tracer constructor), with a pid filter as record/stat -- CMD use. */
	skel->rodata->filter_tgids = true;
	skel->rodata->follow_children = follow;
	skel->rodata->hu_start = hu_start;
	skel->rodata->hu_end = hu_end;
	skel->rodata->uffd_wake_fn = uffd_wake_fn;
	skel->rodata->vm_uffd_missing = vm_missing;
	skel->rodata->vm_uffd_wp = vm_wp;
	skel->rodata->vm_uffd_minor = vm_minor;
	skel->rodata->wakeup_bytes = wakeup_bytes;
	skel->rodata->in_kernel_stats = in_kernel;
	skel->rodata->feat_wp_async = 1ULL << 15;
	int err = uscope_choose_hooks(skel->obj, btf_hooks);
	if (!err && in_kernel)
		err = uscope_leave_out_for_in_kernel_stats(skel->obj);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.uscope_events, (uint32_t)ring_bytes);
	if (!err)
		err = uffdscope__load(skel);
	if (!err)
		err = uffdscope__attach(skel);
	if (err) {
		fprintf(stderr, "c_consumer: load/attach: %s\n", strerror(-err));
		uffdscope__destroy(skel);
		return 3;
	}
	struct tally t = { .spin_ns = spin_ns };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.uscope_events), on_record, &t, NULL);
	if (!rb) {
		perror("c_consumer: ring_buffer__new");
		uffdscope__destroy(skel);
		return 3;
	}

	/* The command waits until its pid is in the filter, like LiveCapture. */
	int gate[2];
	if (pipe2(gate, O_CLOEXEC)) {
		perror("c_consumer: pipe");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("c_consumer: fork");
		return 1;
	}
	if (child == 0) {
		char go;
		close(gate[1]);
		if (read(gate[0], &go, 1) != 1)
			_exit(126);
		execvp(cmd[0], cmd);
		perror("c_consumer: exec");
		_exit(127);
	}
	close(gate[0]);
	__u32 key = (__u32)child;
	__u8 one = 1;
	if (bpf_map__update_elem(skel->maps.uscope_tgids, &key, sizeof(key), &one, sizeof(one), BPF_ANY)) {
		perror("c_consumer: add pid to filter");
		kill(child, SIGKILL);
		return 1;
	}
	struct rusage ru0;
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t t0 = now_ns();
	if (write(gate[1], "g", 1) != 1) {
		perror("c_consumer: gate");
		return 1;
	}
	close(gate[1]);

	int status = 0;
	int poll_error = 0;
	for (;;) {
		int n = ring_buffer__poll(rb, poll_ms);
		if (n < 0 && n != -EINTR) {
			poll_error = -n;
			break;
		}
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
	}
	/* Final drain: every record of the command is submitted by now. */
	ring_buffer__consume(rb);
	uint64_t t1 = now_ns();

	int ncpu = libbpf_num_possible_cpus();
	struct uscope_counters *per = calloc((size_t)ncpu, sizeof(*per));
	__u32 zero = 0;
	uint64_t produced = 0, lost = 0;
	if (per && !bpf_map__lookup_elem(skel->maps.uscope_counters, &zero, sizeof(zero), per,
					 sizeof(*per) * (size_t)ncpu, 0)) {
		for (int c = 0; c < ncpu; c++)
			for (int k = 0; k <= USCOPE_REC_TYPE_COUNT; k++) {
				produced += per[c].produced[k];
				lost += per[c].lost[k];
			}
	}
	/* --in-kernel: the stats map summed over uffds. */
	uint64_t k_entries = 0, k_blocked = 0, k_waits = 0, k_wait_sum = 0, k_uffds = 0;
	struct uscope_uffd_stats *st = calloc(1, sizeof(*st));
	struct uscope_uffd_key cur, next, *prev = NULL;
	while (st && !bpf_map__get_next_key(skel->maps.uscope_uffd_stats, prev, &next, sizeof(next))) {
		if (!bpf_map__lookup_elem(skel->maps.uscope_uffd_stats, &next, sizeof(next), st, sizeof(*st), 0)) {
			k_uffds++;
			k_entries += st->entries;
			k_blocked += st->blocked;
			k_waits += st->stage_count[USCOPE_STAGE_TOTAL];
			k_wait_sum += st->stage_sum_ns[USCOPE_STAGE_TOTAL];
		}
		cur = next;
		prev = &cur;
	}
	free(st);
	/* CPU time of the consuming phase only (load and attach excluded). */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime) - tv_s(ru0.ru_utime) - tv_s(ru0.ru_stime);

	FILE *out = json ? fopen(json, "w") : stdout;
	if (!out) {
		perror("c_consumer: open --json file");
		return 1;
	}
	fprintf(out,
		"{\"delivered\":%llu,\"bytes\":%llu,\"produced\":%llu,\"lost\":%llu,\"ioctls\":%llu,"
		"\"elapsed_ns\":%llu,\"consumer_cpu_s\":%.3f,\"poll_error\":%d,"
		"\"exit_code\":%d,\"in_kernel\":{\"uffds\":%llu,\"entries\":%llu,\"blocked\":%llu,"
		"\"waits\":%llu,\"wait_sum_ns\":%llu}}\n",
		(unsigned long long)t.records, (unsigned long long)t.bytes, (unsigned long long)produced,
		(unsigned long long)lost, (unsigned long long)t.by_type[USCOPE_REC_IOCTL],
		(unsigned long long)(t1 - t0), cpu_s,
		poll_error, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
		(unsigned long long)k_uffds, (unsigned long long)k_entries, (unsigned long long)k_blocked,
		(unsigned long long)k_waits, (unsigned long long)k_wait_sum);
	if (out != stdout)
		fclose(out);
	free(per);
	ring_buffer__free(rb);
	uffdscope__destroy(skel);
	return poll_error ? 4 : 0;
}
