/* SPDX-License-Identifier: MIT */
/*
 * uffd-workload - the ground-truth workload of uffdscope.
 *
 * Uses userfaultfd the way VMMs do (post-copy with UFFDIO_COPY, write-protect
 * snapshots, MINOR faults on shmem with UFFDIO_CONTINUE, async write-protect
 * with PAGEMAP_SCAN, and the provisional RWP UFFDIO_SET_MODE), measures every
 * fault from the faulting thread's side and counts every uffd ioctl and read
 * it issues, then prints one JSON object to compare a tracer against.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad arguments,
 *             3 missing privilege or kernel feature.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "workload.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> /* header-only: RUNNING_ON_VALGRIND */
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

struct options g_opt;
volatile sig_atomic_t g_stop;
FILE *g_json_out;
FILE *g_page_times;
uint64_t g_rwp_feature = 1ULL << PROV_UFFD_FEATURE_RWP_BIT;
uint64_t g_rwp_async_feature = 1ULL << PROV_UFFD_FEATURE_RWP_ASYNC_BIT;

const char *const scenario_names[SC__N] = { "postcopy", "wp-snapshot", "minor-shmem", "wp-async", "set-mode", "mixed", "fork" };
const char *const kind_names[FK__N] = { "missing", "wp", "minor", "wp_async" };
const char *const ioc_names[IOC__N] = {
	"USERFAULTFD_IOC_NEW", "UFFDIO_API",	  "UFFDIO_REGISTER", "UFFDIO_UNREGISTER", "UFFDIO_WAKE",
	"UFFDIO_COPY",	       "UFFDIO_ZEROPAGE", "UFFDIO_WRITEPROTECT", "UFFDIO_CONTINUE", "UFFDIO_POISON",
	"UFFDIO_MOVE",	       "UFFDIO_SET_MODE", "UFFDIO_RWPROTECT",
};

/* ------------------------------------------------------------------ */

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void sleep_ms_unless_stopped(uint64_t ms)
{
	uint64_t until = now_ns() + ms * 1000000ULL;

	while (!g_stop) {
		uint64_t now = now_ns();
		if (now >= until)
			break;
		struct timespec ts = { (time_t)((until - now) / 1000000000ULL), (long)((until - now) % 1000000000ULL) };
		nanosleep(&ts, NULL);
	}
}

/* the clock uffdscope's records use (bpf_ktime_get_boot_ns) */
uint64_t boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_in_child) {
		fprintf(stderr, PROG " (%s): %s\n", g_in_child, msg);
		_exit(code);
	}
	fprintf(stderr, PROG ": %s\n", msg);
	exit(code);
}

void progress(const char *fmt, ...)
{
	va_list ap;
	if (g_opt.quiet)
		return;
	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *errno_name(int e)
{
	static __thread char buf[24];
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* ------------------------------------------------------------------ */
/* command line                                                        */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--scenario NAME] [options]\n"
		"  --scenario postcopy|wp-snapshot|minor-shmem|wp-async|set-mode|mixed|fork  (default mixed;\n"
		"                         fork is not part of mixed)\n"
		"  --pages N              pages of guest memory per scenario run (default 512, 1..%u)\n"
		"  --threads N            faulting threads (default 2, 1..%u)\n"
		"  --handler-delay-us N   extra service time per fault before resolving (default 0)\n"
		"  --handler-spin-us N    extra service time per fault, busy-waited on the CPU (default 0)\n"
		"  --page-times FILE      write each touched page's own timing: \"ADDRESS T0 T1\" per line,\n"
		"                         CLOCK_BOOTTIME ns just before and after its first touch\n"
		"  --handler-process      postcopy: serve faults from a forked process that receives the uffd\n"
		"                         over a unix socket (SCM_RIGHTS); with mixed, applies to its postcopy runs\n"
		"  --loops N              mixed only: rounds of all scenarios (default 1; 0 = until SIGINT/SIGTERM)\n"
		"  --json FILE            write the ground-truth JSON to FILE instead of stdout\n"
		"  --uffd-source syscall|dev  userfaultfd(2) (default) or /dev/userfaultfd + USERFAULTFD_IOC_NEW\n"
		"  --start-delay-ms N     sleep before the first uffd is created (default 0)\n"
		"  --fault-delay-ms N     postcopy: sleep between registering and the first touch; fork: the\n"
		"                         child sleeps before its first touch (default 0)\n"
		"  --quiet                no progress lines on stderr\n"
		"  --touch direct|syscall how faulting threads touch pages: a plain load/store (default), or\n"
		"                         read()/write() on a pipe so the kernel takes the fault (valgrind)\n"
		"  --rwp-feature-bit N    provisional UFFD_FEATURE_RWP bit (default %d)\n"
		"  --rwp-async-feature-bit N  provisional UFFD_FEATURE_RWP_ASYNC bit (default %d)\n"
		"exit: 0 ok, 1 runtime failure, 2 bad arguments, 3 missing privilege or kernel feature\n",
		MAX_PAGES, MAX_THREADS, PROV_UFFD_FEATURE_RWP_BIT, PROV_UFFD_FEATURE_RWP_ASYNC_BIT);
}

static void __attribute__((noreturn, format(printf, 1, 2))) bad_arg(const char *fmt, ...)
{
	va_list ap;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		bad_arg("%s: expected an integer in %" PRIu64 "..%" PRIu64 ", got '%s'", opt, lo, hi, s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		bad_arg("%s: expected an integer in %" PRIu64 "..%" PRIu64 ", got '%s'", opt, lo, hi, s);
	return v;
}

enum {
	O_SCENARIO = 1000,
	O_PAGES,
	O_THREADS,
	O_DELAY,
	O_SPIN,
	O_PAGE_TIMES,
	O_HPROC,
	O_LOOPS,
	O_JSON,
	O_SOURCE,
	O_START_DELAY,
	O_FAULT_DELAY,
	O_QUIET,
	O_TOUCH,
	O_RWP_BIT,
	O_RWP_ASYNC_BIT,
	O_HELP,
};

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "pages", required_argument, NULL, O_PAGES },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "handler-delay-us", required_argument, NULL, O_DELAY },
		{ "handler-spin-us", required_argument, NULL, O_SPIN },
		{ "page-times", required_argument, NULL, O_PAGE_TIMES },
		{ "handler-process", no_argument, NULL, O_HPROC },
		{ "loops", required_argument, NULL, O_LOOPS },
		{ "json", required_argument, NULL, O_JSON },
		{ "uffd-source", required_argument, NULL, O_SOURCE },
		{ "start-delay-ms", required_argument, NULL, O_START_DELAY },
		{ "fault-delay-ms", required_argument, NULL, O_FAULT_DELAY },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "touch", required_argument, NULL, O_TOUCH },
		{ "rwp-feature-bit", required_argument, NULL, O_RWP_BIT },
		{ "rwp-async-feature-bit", required_argument, NULL, O_RWP_ASYNC_BIT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, touch_given = 0;

	g_opt.scenario = SC_MIXED;
	g_opt.pages = 512;
	g_opt.threads = 2;
	g_opt.loops = 1;
	g_opt.rwp_bit = PROV_UFFD_FEATURE_RWP_BIT;
	g_opt.rwp_async_bit = PROV_UFFD_FEATURE_RWP_ASYNC_BIT;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_SCENARIO: {
			int i;
			for (i = 0; i < SC__N; i++)
				if (!strcmp(optarg, scenario_names[i]))
					break;
			if (i == SC__N)
				bad_arg("--scenario: unknown scenario '%s' (accepted: postcopy, wp-snapshot, minor-shmem, "
					"wp-async, set-mode, mixed, fork)",
					optarg);
			g_opt.scenario = i;
			break;
		}
		case O_PAGES:
			g_opt.pages = parse_num("--pages", optarg, 1, MAX_PAGES);
			break;
		case O_THREADS:
			g_opt.threads = (unsigned)parse_num("--threads", optarg, 1, MAX_THREADS);
			break;
		case O_DELAY:
			g_opt.handler_delay_us = parse_num("--handler-delay-us", optarg, 0, 10000000);
			break;
		case O_SPIN:
			g_opt.handler_spin_us = parse_num("--handler-spin-us", optarg, 0, 10000000);
			break;
		case O_PAGE_TIMES:
			g_opt.page_times_path = optarg;
			break;
		case O_HPROC:
			g_opt.handler_process = 1;
			break;
		case O_LOOPS:
			g_opt.loops = parse_num("--loops", optarg, 0, UINT64_MAX / 2);
			g_opt.loops_given = 1;
			break;
		case O_JSON:
			if (!*optarg)
				bad_arg("--json: expected a file name");
			g_opt.json_path = optarg;
			break;
		case O_SOURCE:
			if (!strcmp(optarg, "syscall"))
				g_opt.use_dev = 0;
			else if (!strcmp(optarg, "dev"))
				g_opt.use_dev = 1;
			else
				bad_arg("--uffd-source: unknown source '%s' (accepted: syscall, dev)", optarg);
			break;
		case O_START_DELAY:
			g_opt.start_delay_ms = parse_num("--start-delay-ms", optarg, 0, 86400000);
			break;
		case O_FAULT_DELAY:
			g_opt.fault_delay_ms = parse_num("--fault-delay-ms", optarg, 0, 86400000);
			break;
		case O_QUIET:
			g_opt.quiet = 1;
			break;
		case O_TOUCH:
			if (!strcmp(optarg, "direct"))
				g_opt.touch_syscall = 0;
			else if (!strcmp(optarg, "syscall"))
				g_opt.touch_syscall = 1;
			else
				bad_arg("--touch: unknown mode '%s' (accepted: direct, syscall)", optarg);
			touch_given = 1;
			break;
		case O_RWP_BIT:
			g_opt.rwp_bit = (unsigned)parse_num("--rwp-feature-bit", optarg, 0, 63);
			break;
		case O_RWP_ASYNC_BIT:
			g_opt.rwp_async_bit = (unsigned)parse_num("--rwp-async-feature-bit", optarg, 0, 63);
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		case ':':
			bad_arg("%s: missing value (see --help)", argv[optind - 1]);
		default: {
			const char *a = argv[optind - 1];
			const char *eq = strchr(a, '=');
			if (!strncmp(a, "--", 2) && eq)
				for (const struct option *o = lo; o->name; o++)
					if (o->has_arg == no_argument && strlen(o->name) == (size_t)(eq - a - 2) &&
					    !strncmp(a + 2, o->name, strlen(o->name)))
						bad_arg("--%s: takes no value", o->name);
			if (optopt && optopt < O_SCENARIO)
				bad_arg("-%c: unknown option (see --help)", optopt);
			bad_arg("%s: unknown option (see --help)", a);
		}
		}
	}
	if (optind < argc)
		bad_arg("%s: unexpected argument (options are --name value; see --help)", argv[optind]);
	if (g_opt.loops_given && g_opt.scenario != SC_MIXED)
		bad_arg("--loops: only accepted with --scenario mixed");
	if (g_opt.handler_process && g_opt.scenario != SC_POSTCOPY && g_opt.scenario != SC_MIXED)
		bad_arg("--handler-process: only accepted with --scenario postcopy (or mixed, for its postcopy runs)");
	if (g_opt.scenario != SC_MIXED)
		g_opt.loops = 1;
	if (!touch_given && RUNNING_ON_VALGRIND) {
		g_opt.touch_syscall = 1;
		g_opt.touch_auto = 1;
	}
	g_rwp_feature = 1ULL << g_opt.rwp_bit;
	g_rwp_async_feature = 1ULL << g_opt.rwp_async_bit;
}

/* ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void run_one(int sc, uint64_t loop)
{
	struct run_rec r;
	uint64_t t0;

	memset(&r, 0, sizeof(r));
	r.scenario = sc;
	r.loop = loop;
	r.pm = PM_NOT_RUN;
	t0 = now_ns();
	run_scenario(sc, &r);
	r.duration_ns = now_ns() - t0;
	totals_record_run(&r);

	if (!g_opt.quiet) {
		uint64_t msgs = r.c.msg_pf[0] + r.c.msg_pf[1] + r.c.msg_pf[2] + r.c.msg_other;
		uint64_t faults = 0;
		for (int k = 0; k < FK__N; k++)
			faults += r.c.faults[k];
		const struct lat_summary *l = sc == SC_WP_ASYNC ? &r.lat_kind[FK_WP_ASYNC] : &r.lat_fault;
		if (sc == SC_SET_MODE)
			progress("[loop %" PRIu64 "] %s: %" PRIu64 " UFFDIO_SET_MODE attempts, %" PRIu64
				 " failed; rwp %s, %.1f ms",
				 loop, scenario_names[sc], r.c.ioc_count[IOC_SET_MODE], r.c.ioc_err[IOC_SET_MODE],
				 r.rwp_granted ? "granted" : "not granted", r.duration_ns / 1e6);
		else
			progress("[loop %" PRIu64 "] %s: %" PRIu64 " faults, %" PRIu64 " messages in %" PRIu64
				 " reads, p50 %.1f us, p99 %.1f us, %.1f ms%s",
				 loop, scenario_names[sc], faults, msgs, r.c.reads, l->p50 / 1e3, l->p99 / 1e3,
				 r.duration_ns / 1e6, r.c.data_mismatches ? " (DATA MISMATCHES)" : "");
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	FILE *out = stdout;
	uint64_t loops_started = 0, t_start;

	parse_args(argc, argv);
	if (g_opt.json_path) {
		out = g_json_out = fopen(g_opt.json_path, "we");
		if (!out)
			bad_arg("--json: cannot open '%s' for writing: %s", g_opt.json_path, strerror(errno));
	}
	if (g_opt.page_times_path) {
		g_page_times = fopen(g_opt.page_times_path, "we");
		if (!g_page_times)
			bad_arg("--page-times: cannot open '%s' for writing: %s", g_opt.page_times_path, strerror(errno));
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	scenarios_init();
	if (g_opt.touch_auto)
		progress("running under valgrind: using --touch syscall (a direct fault would deadlock valgrind's thread lock)");
	if (g_opt.start_delay_ms) {
		progress("pid %d: starting in %" PRIu64 " ms", (int)getpid(), g_opt.start_delay_ms);
		sleep_ms_unless_stopped(g_opt.start_delay_ms);
	} else {
		progress("pid %d", (int)getpid());
	}

	t_start = now_ns();
	if (g_opt.scenario == SC_MIXED) {
		for (uint64_t loop = 0; !g_stop && (g_opt.loops == 0 || loop < g_opt.loops); loop++) {
			loops_started++;
			for (int sc = SC_POSTCOPY; sc <= SC_SET_MODE && !g_stop; sc++)
				run_one(sc, loop);
		}
	} else if (!g_stop) {
		loops_started = 1;
		run_one(g_opt.scenario, 0);
	}

	report_write(out, loops_started, g_stop != 0, now_ns() - t_start);
	if (fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0))
		die(EXIT_RUNTIME, "writing the JSON failed: %s", strerror(errno));
	if (g_stop)
		progress("stopped by signal after %" PRIu64 " loop(s)", loops_started);
	scenarios_fini();
	totals_free();
	return 0;
}
