/* SPDX-License-Identifier: MIT */
/* workload.h - shared types of uffd-workload (the uffdscope ground-truth workload). */
#ifndef UFFD_WORKLOAD_H
#define UFFD_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/types.h>

#define PROG "uffd-workload"
#define SCHEMA "uffdscope.workload/1"

/* exit codes */
#define EXIT_RUNTIME 1 /* unexpected failure of a syscall the workload relies on */
#define EXIT_USAGE 2   /* bad command line */
#define EXIT_NOFEAT 3  /* missing privilege or kernel feature */

/* limits that keep memory flat for --loops 0 */
#define MAX_PAGES (1u << 21)
#define MAX_THREADS 256
#define MAX_RUN_RECORDS 4096    /* "scenarios" entries kept (the first ones) */
#define MAX_LIST_ENTRIES 4096   /* features_granted, mode_switches, handler_pids, child_pids */
#define RESERVOIR_CAP (1u << 20) /* total latency samples kept per series */

enum scenario {
	SC_POSTCOPY,
	SC_WP_SNAPSHOT,
	SC_MINOR_SHMEM,
	SC_WP_ASYNC,
	SC_SET_MODE,
	SC_MIXED,
	SC_FORK, /* not part of mixed */
	SC__N
};

enum fault_kind { FK_MISSING, FK_WP, FK_MINOR, FK_WP_ASYNC, FK__N };

/* every ioctl the workload can issue on a uffd (or on /dev/userfaultfd) */
enum ioc_id {
	IOC_DEV_NEW,
	IOC_API,
	IOC_REGISTER,
	IOC_UNREGISTER,
	IOC_WAKE,
	IOC_COPY,
	IOC_ZEROPAGE,
	IOC_WRITEPROTECT,
	IOC_CONTINUE,
	IOC_POISON,
	IOC_MOVE,
	IOC_SET_MODE,
	IOC_RWPROTECT,
	IOC__N
};

/*
 * Plain counters. Updated with relaxed atomics because the handler thread
 * and the main thread share one instance per run. A handler *process* keeps
 * its own instance and ships it back over the socket (same binary => same
 * layout), where it is added in.
 */
struct counts {
	uint64_t uffds_created;
	uint64_t uffds_forked; /* made by the kernel at fork() for a child (UFFD_EVENT_FORK read) */
	uint64_t faults[FK__N];
	uint64_t msg_pf[3]; /* missing, wp, minor */
	uint64_t msg_other;
	uint64_t ioc_count[IOC__N];
	uint64_t ioc_err[IOC__N];
	uint64_t reads;         /* read() on a uffd returning > 0 */
	uint64_t read_bytes;
	uint64_t read_eagain;   /* read() on a uffd that returned EAGAIN */
	uint64_t max_msgs_per_read;
	uint64_t copy_eexist;
	uint64_t continue_eexist;
	uint64_t eagain_retries; /* COPY/CONTINUE/WRITEPROTECT attempts that failed with EAGAIN */
	uint64_t data_mismatches;
};

struct lat_summary {
	uint64_t count, p50, p90, p99, max, mean;
};

struct mode_switch {
	uint64_t enable, disable;
	int64_t result; /* 0 or -errno */
	int err;        /* errno or 0 */
	uint64_t latency_ns;
};

#define RUN_MAX_UFFDS 4
#define RUN_MAX_SWITCHES 8

enum pm_state { PM_NOT_RUN = -1, PM_UNAVAILABLE = 0, PM_OK = 1 };

struct run_rec {
	int scenario;
	uint64_t loop;
	uint64_t duration_ns;
	struct counts c;
	int nfeat;
	uint64_t features_req[RUN_MAX_UFFDS];
	uint64_t features[RUN_MAX_UFFDS];
	int nsw;
	struct mode_switch sw[RUN_MAX_SWITCHES];
	int has_rwprotect;
	struct mode_switch rwprotect; /* enable = mode, disable unused */
	int rwp_granted;              /* set-mode only: UFFDIO_API accepted RWP bits */
	pid_t handler_pid;            /* 0 = none */
	pid_t child_pid;              /* fork: the child that faulted, 0 = none */
	struct lat_summary lat_fault;
	struct lat_summary lat_kind[FK__N];
	int pm;                       /* enum pm_state */
	int pm_errno;
	uint64_t pm_written;          /* PAGE_IS_WRITTEN pages after the touches */
	uint64_t pm_written_before;   /* ... right after UFFDIO_WRITEPROTECT */
	uint64_t pm_calls;
};

struct options {
	int scenario;
	uint64_t pages;
	unsigned threads;
	uint64_t handler_delay_us;
	uint64_t handler_spin_us;
	const char *page_times_path;
	int handler_process;
	uint64_t loops;
	int loops_given;
	const char *json_path;
	int use_dev;
	uint64_t start_delay_ms;
	uint64_t fault_delay_ms; /* postcopy, fork: wait before the first touch */
	int quiet;
	int touch_syscall; /* --touch syscall */
	int touch_auto;    /* chosen because we run under valgrind */
	unsigned rwp_bit, rwp_async_bit;
};

/* globals (uffd-workload.c) */
extern struct options g_opt;
extern volatile sig_atomic_t g_stop;
extern const char *g_in_child; /* in a forked process: what it is (die() names it, uses _exit()) */
extern FILE *g_json_out; /* --json FILE, opened at start */
extern FILE *g_page_times; /* --page-times FILE, opened at start */
extern uint64_t g_rwp_feature, g_rwp_async_feature;
extern const char *const scenario_names[SC__N];
extern const char *const ioc_names[IOC__N];
extern const char *const kind_names[FK__N];

/* util */
uint64_t now_ns(void);
/* sleeps ms milliseconds, or until SIGINT/SIGTERM */
void sleep_ms_unless_stopped(uint64_t ms);
uint64_t boot_ns(void);
void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *errno_name(int e);
void counts_add(struct counts *dst, const struct counts *src);
static inline void cnt_add(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline void cnt_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* scenarios.c */
void scenarios_init(void);
void scenarios_fini(void);
void run_scenario(int sc, struct run_rec *r);

/* report.c */
void summarize(uint64_t *v, uint64_t n, struct lat_summary *out); /* sorts v in place */
void totals_add_samples(int kind, const uint64_t *samples, uint64_t n);
void totals_record_run(const struct run_rec *r);
void report_write(FILE *f, uint64_t loops_started, int interrupted, uint64_t duration_ns);
void totals_free(void);

#endif
