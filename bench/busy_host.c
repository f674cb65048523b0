// SPDX-License-Identifier: MIT
/*
 * busy_host: a busy VMM host in one binary, for bench/busy_host.ts.
 *
 *   busy_host [--procs P] [--uffds U] [--pages N] [--seconds S]
 *             [--handler-delay-us D] [--linger-ms L] [--json FILE] [--quiet]
 *
 * Forks P processes. Each creates U userfaultfds, each registered MISSING over
 * its own N-page anonymous region, then runs two threads: a faulting thread
 * that touches every page of every region in turn (one MISSING userfault per
 * page), and a handler thread that serves all U uffds through one epoll set
 * (read the messages, UFFDIO_COPY each faulted page). After a full pass the
 * faulting thread drops the pages (MADV_DONTNEED) and starts again, until S
 * seconds are over. P*2 runnable threads: more than the CPUs of a small host.
 *
 * The parent starts all processes at once (after every one has set up), sums
 * their counts and writes JSON: faults (successful UFFDIO_COPY calls: one per
 * MISSING userfault), msgs_read, copies_eexist, passes, duration_ns (start to
 * the last process's exit) and the setup. SIGINT/SIGTERM/SIGHUP to the parent
 * are forwarded; each process then stops after its current fault and reports
 * what it counted. If the parent dies, the kernel kills its children
 * (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "busy_host"
#include "bench_cli.h"

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323 /* x86_64 */
#endif

struct opts {
	long procs, uffds, pages, seconds, delay_us, linger_ms;
	const char *json;
	int quiet;
};

/* One slot per process, in memory shared with the parent. */
struct slot {
	_Atomic int state; /* SLOT_* */
	int pid;
	uint64_t faults, msgs, eexist, passes;
};
enum { SLOT_NEW, SLOT_READY, SLOT_DONE };

static struct opts g_o = { .procs = 20, .uffds = 50, .pages = 16, .seconds = 10 };
static long g_ps;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- one process ---- */

struct proc {
	long idx;
	int *uffd;
	char **region;
	int ep, stopfd, donefd;
	char *src; /* the page every UFFDIO_COPY copies */
	_Atomic int stop;
	uint64_t faults, msgs, eexist, passes;
};

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void *faulter(void *arg)
{
	struct proc *p = arg;
	const size_t len = (size_t)g_o.pages * (size_t)g_ps;
	const uint64_t end = now_ns() + (uint64_t)g_o.seconds * 1000000000u;
	for (;;) {
		for (long u = 0; u < g_o.uffds; u++) {
			for (long i = 0; i < g_o.pages; i++) {
				if (atomic_load_explicit(&p->stop, memory_order_relaxed))
					goto out;
				(void)*(volatile char *)(p->region[u] + i * g_ps); /* a MISSING userfault */
			}
		}
		p->passes++;
		for (long u = 0; u < g_o.uffds; u++)
			if (madvise(p->region[u], len, MADV_DONTNEED) < 0)
				die(1, "process %ld: madvise(MADV_DONTNEED): %s", p->idx, strerror(errno));
		if (now_ns() >= end)
			break;
	}
out:;
	uint64_t one = 1;
	if (write(p->donefd, &one, sizeof one) != sizeof one)
		die(1, "process %ld: eventfd write: %s", p->idx, strerror(errno));
	return NULL;
}

static void resolve(struct proc *p, int fd, uint64_t addr)
{
	if (g_o.delay_us)
		sleep_us(g_o.delay_us);
	struct uffdio_copy c = { .dst = addr & ~(uint64_t)(g_ps - 1), .src = (uint64_t)(uintptr_t)p->src, .len = (uint64_t)g_ps, .mode = 0 };
	int rc;
	while ((rc = ioctl(fd, UFFDIO_COPY, &c)) < 0 && errno == EAGAIN)
		c.copy = 0; /* the mm was changing (a fork, a remap): try again */
	if (rc == 0) {
		p->faults++;
		return;
	}
	if (errno != EEXIST)
		die(1, "process %ld: UFFDIO_COPY at 0x%" PRIx64 ": %s", p->idx, addr, strerror(errno));
	/* the page is there already (a repeated message): wake whoever waits on it */
	p->eexist++;
	struct uffdio_range r = { c.dst, (uint64_t)g_ps };
	if (ioctl(fd, UFFDIO_WAKE, &r) < 0)
		die(1, "process %ld: UFFDIO_WAKE: %s", p->idx, strerror(errno));
}

static void *handler(void *arg)
{
	struct proc *p = arg;
	struct epoll_event ev[64];
	struct uffd_msg msg[32];
	for (;;) {
		int n = epoll_wait(p->ep, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(1, "process %ld: epoll_wait: %s", p->idx, strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			/* the faulting thread has finished: no fault can be waiting */
			if (ev[k].data.u32 == (uint32_t)g_o.uffds)
				return NULL;
			int fd = p->uffd[ev[k].data.u32];
			for (;;) {
				ssize_t r = read(fd, msg, sizeof msg);
				if (r < 0) {
					if (errno == EAGAIN)
						break;
					if (errno == EINTR)
						continue;
					die(1, "process %ld: read(uffd): %s", p->idx, strerror(errno));
				}
				for (size_t m = 0; m < (size_t)r / sizeof msg[0]; m++) {
					p->msgs++;
					if (msg[m].event == UFFD_EVENT_PAGEFAULT)
						resolve(p, fd, msg[m].arg.pagefault.address);
				}
			}
		}
	}
}

static int new_uffd(long idx)
{
	/* kernel faults never reach our regions: user mode only works unprivileged too */
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK); /* before 5.11 */
	if (fd < 0)
		die(1, "process %ld: userfaultfd(2): %s%s", idx, strerror(errno),
		    errno == EPERM ? " (needs root, CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)" : "");
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		die(1, "process %ld: UFFDIO_API: %s", idx, strerror(errno));
	return fd;
}

static void child_main(long idx, struct slot *s, int gofd)
{
	struct proc p = { .idx = idx };
	const size_t len = (size_t)g_o.pages * (size_t)g_ps;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	/* the mask (all three blocked) came from the parent; only this thread takes them */
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	p.uffd = calloc((size_t)g_o.uffds, sizeof *p.uffd);
	p.region = calloc((size_t)g_o.uffds, sizeof *p.region);
	p.src = mmap(NULL, (size_t)g_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p.ep = epoll_create1(EPOLL_CLOEXEC);
	p.stopfd = eventfd(0, EFD_CLOEXEC);
	p.donefd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || !p.uffd || !p.region || p.src == MAP_FAILED || p.ep < 0 || p.stopfd < 0 || p.donefd < 0)
		die(1, "process %ld: setup: %s", idx, strerror(errno));
	memset(p.src, 0x5a, (size_t)g_ps);
	for (long u = 0; u < g_o.uffds; u++) {
		p.uffd[u] = new_uffd(idx);
		p.region[u] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p.region[u] == MAP_FAILED)
			die(1, "process %ld: mmap: %s", idx, strerror(errno));
		madvise(p.region[u], len, MADV_NOHUGEPAGE); /* one 4 KiB fault per page */
		struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)p.region[u], len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
		if (ioctl(p.uffd[u], UFFDIO_REGISTER, &reg) < 0)
			die(1, "process %ld: UFFDIO_REGISTER: %s", idx, strerror(errno));
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)u };
		if (epoll_ctl(p.ep, EPOLL_CTL_ADD, p.uffd[u], &ev) < 0)
			die(1, "process %ld: epoll_ctl: %s", idx, strerror(errno));
	}
	struct epoll_event sev = { .events = EPOLLIN, .data.u32 = (uint32_t)g_o.uffds };
	if (epoll_ctl(p.ep, EPOLL_CTL_ADD, p.stopfd, &sev) < 0)
		die(1, "process %ld: epoll_ctl: %s", idx, strerror(errno));

	atomic_store(&s->state, SLOT_READY);
	/* wait for the go (the parent closes the pipe) or a signal */
	struct pollfd w[2] = { { .fd = gofd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	while (poll(w, 2, -1) < 0)
		if (errno != EINTR)
			die(1, "process %ld: poll: %s", idx, strerror(errno));
	if (w[1].revents)
		_exit(0); /* stopped before starting: nothing counted */

	pthread_t tf, th;
	if (pthread_create(&th, NULL, handler, &p) || pthread_create(&tf, NULL, faulter, &p))
		die(1, "process %ld: pthread_create failed", idx);
	struct pollfd d[2] = { { .fd = p.donefd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(d, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(1, "process %ld: poll: %s", idx, strerror(errno));
		}
		if (d[0].revents)
			break;
		if (d[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) < 0)
				die(1, "process %ld: signalfd read: %s", idx, strerror(errno));
			atomic_store(&p.stop, 1); /* the faulting thread ends after its current fault */
			d[1].fd = -1;
		}
	}
	pthread_join(tf, NULL);
	uint64_t one = 1;
	if (write(p.stopfd, &one, sizeof one) != sizeof one)
		die(1, "process %ld: eventfd write: %s", idx, strerror(errno));
	pthread_join(th, NULL);
	s->faults = p.faults;
	s->msgs = p.msgs;
	s->eexist = p.eexist;
	s->passes = p.passes;
	atomic_store(&s->state, SLOT_DONE);
	_exit(0);
}

/* ---- the parent ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: busy_host [--procs P] [--uffds U] [--pages N] [--seconds S] [--handler-delay-us D]\n"
		   "                 [--linger-ms L] [--json FILE] [--quiet]\n"
		   "  P processes (default 20), each with U uffds (default 50) over N pages each (default 16),\n"
		   "  one faulting and one epoll handler thread; S seconds (default 10); D us before each copy;\n"
		   "  L ms to stay alive after the JSON is written (a live view can be read at the final counts)\n");
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "procs", required_argument, NULL, 'P' },	     { "uffds", required_argument, NULL, 'U' },
		{ "pages", required_argument, NULL, 'N' },	     { "seconds", required_argument, NULL, 'S' },
		{ "handler-delay-us", required_argument, NULL, 'D' }, { "linger-ms", required_argument, NULL, 'L' },
		{ "json", required_argument, NULL, 'j' },	     { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },		     { 0, 0, 0, 0 },
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 'P': g_o.procs = num_arg("--procs", optarg, 1, 4096); break;
		case 'U': g_o.uffds = num_arg("--uffds", optarg, 1, 900); break; /* under the default 1024 fds */
		case 'N': g_o.pages = num_arg("--pages", optarg, 1, 1 << 20); break;
		case 'S': g_o.seconds = num_arg("--seconds", optarg, 1, 86400); break;
		case 'D': g_o.delay_us = num_arg("--handler-delay-us", optarg, 0, 10000000); break;
		case 'L': g_o.linger_ms = num_arg("--linger-ms", optarg, 0, 600000); break;
		case 'j': g_o.json = optarg; break;
		case 'q': g_o.quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		case ':': die(2, "%s needs a value (see --help)", argv[optind - 1]);
		default: die(2, "unknown option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument \"%s\" (see --help)", argv[optind]);
}

static int g_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void kill_all(const pid_t *pid, long n, int sig)
{
	for (long i = 0; i < n; i++)
		if (pid[i] > 0)
			kill(pid[i], sig);
}

static void write_json(const struct slot *s, const pid_t *pid, uint64_t dur, int stopsig)
{
	uint64_t faults = 0, msgs = 0, eexist = 0, passes = 0;
	for (long i = 0; i < g_o.procs; i++) {
		faults += s[i].faults;
		msgs += s[i].msgs;
		eexist += s[i].eexist;
		passes += s[i].passes;
	}
	if (!g_o.quiet)
		fprintf(stderr, "busy_host: %ld processes x %ld uffds x %ld pages: %" PRIu64 " faults in %.3f s (%.0f/s), %" PRIu64 " passes, %" PRIu64 " EEXIST\n",
			g_o.procs, g_o.uffds, g_o.pages, faults, dur / 1e9, faults / (dur / 1e9), passes, eexist);
	if (!g_o.json)
		return;
	/* written whole, then renamed: a reader never sees half a file */
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", g_o.json) >= (int)sizeof tmp)
		die(2, "--json: path too long");
	FILE *f = fopen(tmp, "w");
	if (!f)
		die(1, "--json %s: %s", g_o.json, strerror(errno));
	fprintf(f,
		"{\"procs\":%ld,\"uffds\":%ld,\"uffds_total\":%ld,\"pages\":%ld,\"seconds\":%ld,\"handler_delay_us\":%ld,"
		"\"faults\":%" PRIu64 ",\"msgs_read\":%" PRIu64 ",\"copies_eexist\":%" PRIu64 ",\"passes\":%" PRIu64 ","
		"\"duration_ns\":%" PRIu64 ",\"cpus\":%d,\"runnable_threads\":%ld,\"stopped_by\":%s%s%s,\"per_proc\":[",
		g_o.procs, g_o.uffds, g_o.procs * g_o.uffds, g_o.pages, g_o.seconds, g_o.delay_us, faults, msgs, eexist, passes, dur, g_cpus(),
		g_o.procs * 2, stopsig ? "\"SIG" : "", stopsig ? sigabbrev_np(stopsig) : "null", stopsig ? "\"" : "");
	for (long i = 0; i < g_o.procs; i++)
		fprintf(f, "%s{\"pid\":%d,\"faults\":%" PRIu64 ",\"passes\":%" PRIu64 "}", i ? "," : "", (int)pid[i], s[i].faults, s[i].passes);
	fputs("]}\n", f);
	if (fclose(f) != 0 || rename(tmp, g_o.json) < 0)
		die(1, "--json %s: %s", g_o.json, strerror(errno));
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	g_ps = sysconf(_SC_PAGESIZE);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* accurate --handler-delay-us */

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0)
		die(1, "sigprocmask: %s", strerror(errno));
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	struct slot *s = mmap(NULL, sizeof *s * (size_t)g_o.procs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t *pid = calloc((size_t)g_o.procs, sizeof *pid);
	int go[2];
	if (sfd < 0 || s == MAP_FAILED || !pid || pipe2(go, O_CLOEXEC) < 0)
		die(1, "setup: %s", strerror(errno));
	const pid_t parent = getpid();
	for (long i = 0; i < g_o.procs; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			kill_all(pid, i, SIGKILL);
			die(1, "fork: %s", strerror(errno));
		}
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			close(go[1]);
			close(sfd);
			s[i].pid = getpid();
			child_main(i, &s[i], go[0]);
		}
	}
	close(go[0]);

	long live = g_o.procs, failed = 0;
	int started = 0;
	int stopsig = 0;
	uint64_t t0 = 0;
	while (live > 0) {
		if (!started) {
			long ready = 0;
			for (long i = 0; i < g_o.procs; i++)
				ready += atomic_load(&s[i].state) >= SLOT_READY;
			if (ready == g_o.procs) {
				t0 = now_ns();
				close(go[1]); /* go */
				started = 1;
			}
		}
		struct pollfd w = { .fd = sfd, .events = POLLIN };
		if (poll(&w, 1, started ? -1 : 5) < 0 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		if (!w.revents)
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			int st;
			pid_t p;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				for (long i = 0; i < g_o.procs; i++) {
					if (pid[i] != p)
						continue;
					pid[i] = -pid[i]; /* reaped */
					live--;
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || (started && !stopsig && atomic_load(&s[i].state) != SLOT_DONE)) {
						if (!failed++) /* one failure fails the run: stop the others */
							kill_all(pid, g_o.procs, SIGTERM);
					}
				}
			}
		} else if (!stopsig) {
			stopsig = (int)si.ssi_signo;
			kill_all(pid, g_o.procs, (int)si.ssi_signo);
		}
	}
	uint64_t dur = started ? now_ns() - t0 : 0;
	for (long i = 0; i < g_o.procs; i++)
		pid[i] = -pid[i];
	if (failed)
		die(1, "%ld of %ld processes failed (their messages are above)", failed, g_o.procs);
	write_json(s, pid, dur, stopsig);
	if (g_o.linger_ms && !stopsig) {
		struct pollfd w = { .fd = sfd, .events = POLLIN };
		uint64_t until = now_ns() + (uint64_t)g_o.linger_ms * 1000000u;
		for (uint64_t t; (t = now_ns()) < until;) {
			/* a signal ends the linger at once */
			if (poll(&w, 1, (int)((until - t) / 1000000u) + 1) > 0) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
					break;
			}
		}
	}
	return 0;
}
