/* SPDX-License-Identifier: MIT */
/*
 * scenarios.c - the userfaultfd scenarios of uffd-workload.
 *
 * Every scenario creates its own uffd(s), registers, faults, resolves,
 * unregisters, closes and unmaps everything, and counts every uffd ioctl and
 * read() it issues in the run record it was given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "uffd_compat.h"
#include "workload.h"

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323 /* x86_64 */
#endif

#define UFFD_MSG_BATCH 16          /* uffd_msg records per read() */
#define SRC_PATTERN 0xA5      /* content of the UFFDIO_COPY source page */
#define EAGAIN_RETRY_MAX 100000

static unsigned long g_ps;
static int g_devfd = -1;
const char *g_in_child;

static inline uint8_t pat(uint64_t i) { return (uint8_t)(i * 131u + 17u); }
static inline uint8_t tag(uint64_t i) { return (uint8_t)(i | 1u); }

void scenarios_init(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	g_ps = ps > 0 ? (unsigned long)ps : 4096;
}

void scenarios_fini(void)
{
	if (g_devfd >= 0) {
		close(g_devfd);
		g_devfd = -1;
	}
}

/* ------------------------------------------------------------------ */
/* counted ioctl wrapper: one count per call, errors = returned -1     */

static int uioctl(struct counts *c, int id, int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);
	int e = errno;
	cnt_add(&c->ioc_count[id], 1);
	if (r < 0)
		cnt_add(&c->ioc_err[id], 1);
	errno = e;
	return r;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die(EXIT_RUNTIME, "mmap of %zu bytes failed: %s", len, errno_name(errno));
	/* one 4 KiB fault per page, deterministic: no THP */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void unmap(void *p, size_t len)
{
	if (p && munmap(p, len) < 0)
		die(EXIT_RUNTIME, "munmap failed: %s", errno_name(errno));
}

static int create_uffd(struct run_rec *r, const char *what)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	int fd, e;

	if (g_opt.use_dev) {
		if (g_devfd < 0) {
			g_devfd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
			if (g_devfd < 0) {
				e = errno;
				die(e == ENOENT || e == EACCES || e == EPERM || e == ENODEV || e == ENXIO ? EXIT_NOFEAT
													  : EXIT_RUNTIME,
				    "%s: --uffd-source dev: cannot open /dev/userfaultfd: %s (%s)", what, errno_name(e),
				    strerror(e));
			}
		}
		fd = uioctl(&r->c, IOC_DEV_NEW, g_devfd, USERFAULTFD_IOC_NEW, (void *)(uintptr_t)flags);
		if (fd < 0) {
			e = errno;
			die(e == EPERM || e == EACCES || e == EINVAL || e == ENOTTY ? EXIT_NOFEAT : EXIT_RUNTIME,
			    "%s: USERFAULTFD_IOC_NEW on /dev/userfaultfd failed: %s (%s)", what, errno_name(e), strerror(e));
		}
	} else {
		fd = (int)syscall(SYS_userfaultfd, flags);
		if (fd < 0) {
			e = errno;
			die(e == EPERM || e == ENOSYS || e == EACCES ? EXIT_NOFEAT : EXIT_RUNTIME,
			    "%s: userfaultfd(2) failed: %s (%s)%s", what, errno_name(e), strerror(e),
			    e == EPERM ? "; needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1" : "");
		}
	}
	cnt_add(&r->c.uffds_created, 1);
	return fd;
}

/* returns 0, or -errno when !fatal */
static int uffd_api(int fd, uint64_t features, struct run_rec *r, const char *what, int fatal)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features, .ioctls = 0 };

	if (uioctl(&r->c, IOC_API, fd, UFFDIO_API, &api) < 0) {
		int e = errno;
		if (!fatal)
			return -e;
		die(e == EPERM || e == ENOSYS || e == EINVAL ? EXIT_NOFEAT : EXIT_RUNTIME,
		    "%s: UFFDIO_API with features 0x%llx failed: %s (kernel lacks the feature or the privilege)", what,
		    (unsigned long long)features, errno_name(e));
	}
	if (r->nfeat < RUN_MAX_UFFDS) {
		r->features_req[r->nfeat] = features;
		r->features[r->nfeat] = api.features;
		r->nfeat++;
	}
	return 0;
}

static void uffd_register(int fd, void *addr, size_t len, uint64_t mode, struct run_rec *r, const char *what)
{
	struct uffdio_register reg = { .range = { (uintptr_t)addr, len }, .mode = mode, .ioctls = 0 };

	if (uioctl(&r->c, IOC_REGISTER, fd, UFFDIO_REGISTER, &reg) < 0) {
		int e = errno;
		die(e == EINVAL || e == EPERM || e == ENOSYS ? EXIT_NOFEAT : EXIT_RUNTIME,
		    "%s: UFFDIO_REGISTER mode 0x%llx failed: %s (kernel lacks the feature?)", what,
		    (unsigned long long)mode, errno_name(e));
	}
}

static void uffd_unregister(int fd, void *addr, size_t len, struct run_rec *r, const char *what)
{
	struct uffdio_range rg = { (uintptr_t)addr, len };

	if (uioctl(&r->c, IOC_UNREGISTER, fd, UFFDIO_UNREGISTER, &rg) < 0)
		die(EXIT_RUNTIME, "%s: UFFDIO_UNREGISTER failed: %s", what, errno_name(errno));
}

/* UFFDIO_WRITEPROTECT with EAGAIN retry (each attempt counted) */
static int uffd_wp(struct counts *c, int fd, uint64_t start, uint64_t len, uint64_t mode)
{
	for (int tries = 0;; tries++) {
		struct uffdio_writeprotect wp = { .range = { start, len }, .mode = mode };
		if (uioctl(c, IOC_WRITEPROTECT, fd, UFFDIO_WRITEPROTECT, &wp) == 0)
			return 0;
		if (errno != EAGAIN || tries >= EAGAIN_RETRY_MAX)
			return -errno;
		cnt_add(&c->eagain_retries, 1);
		sched_yield();
	}
}

/* ------------------------------------------------------------------ */
/* fault handler (a thread, or a separate process for --handler-process) */

struct handler {
	int uffd;
	int stopfd; /* eventfd (thread) or the unix socket (process) */
	uint64_t delay_us;
	uint64_t spin_us; /* busy service time: adds exactly this much, unlike a sleep's wake-up */
	char *src;  /* UFFDIO_COPY source page */
	struct counts *c;
	struct handler *forked; /* serves the uffd a UFFD_EVENT_FORK brought, or NULL */
	pthread_t forked_th;
};

static void *handler_thread_main(void *arg);

static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void spin_us(uint64_t us)
{
	struct timespec now;
	uint64_t end;

	clock_gettime(CLOCK_MONOTONIC, &now);
	end = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + us * 1000u;
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec < end);
}

static void uffd_wake(struct handler *h, uint64_t addr)
{
	struct uffdio_range rg = { addr, g_ps };
	if (uioctl(h->c, IOC_WAKE, h->uffd, UFFDIO_WAKE, &rg) < 0)
		die(EXIT_RUNTIME, "handler: UFFDIO_WAKE failed: %s", errno_name(errno));
}

static void resolve_copy(struct handler *h, uint64_t addr)
{
	for (int tries = 0;; tries++) {
		struct uffdio_copy cp = { .dst = addr, .src = (uintptr_t)h->src, .len = g_ps, .mode = 0, .copy = 0 };
		if (uioctl(h->c, IOC_COPY, h->uffd, UFFDIO_COPY, &cp) == 0)
			return;
		if (errno == EAGAIN && tries < EAGAIN_RETRY_MAX) {
			cnt_add(&h->c->eagain_retries, 1);
			sched_yield();
			continue;
		}
		if (errno == EEXIST) { /* already populated (raced): just make sure the faulter wakes */
			cnt_add(&h->c->copy_eexist, 1);
			uffd_wake(h, addr);
			return;
		}
		die(EXIT_RUNTIME, "handler: UFFDIO_COPY at 0x%llx failed: %s", (unsigned long long)addr,
		    errno_name(errno));
	}
}

static void resolve_continue(struct handler *h, uint64_t addr)
{
	for (int tries = 0;; tries++) {
		struct uffdio_continue co = { .range = { addr, g_ps }, .mode = 0, .mapped = 0 };
		if (uioctl(h->c, IOC_CONTINUE, h->uffd, UFFDIO_CONTINUE, &co) == 0)
			return;
		if (errno == EAGAIN && tries < EAGAIN_RETRY_MAX) {
			cnt_add(&h->c->eagain_retries, 1);
			sched_yield();
			continue;
		}
		if (errno == EEXIST) {
			cnt_add(&h->c->continue_eexist, 1);
			uffd_wake(h, addr);
			return;
		}
		die(EXIT_RUNTIME, "handler: UFFDIO_CONTINUE at 0x%llx failed: %s", (unsigned long long)addr,
		    errno_name(errno));
	}
}

/* UFFD_EVENT_FORK: the kernel made a uffd for the child's copy of the
 * range; a thread of its own serves it, sharing this one's stop eventfd
 * (never read, so it stops both) and counts. One fork per run. */
static void serve_forked(struct handler *h, int ufd)
{
	struct handler *f;
	int rc;

	if (h->forked)
		die(EXIT_RUNTIME, "handler: a second UFFD_EVENT_FORK in one run");
	f = malloc(sizeof(*f));
	if (!f)
		die(EXIT_RUNTIME, "out of memory");
	*f = *h;
	f->uffd = ufd;
	f->forked = NULL;
	cnt_add(&h->c->uffds_forked, 1);
	rc = pthread_create(&h->forked_th, NULL, handler_thread_main, f); /* inherits the blocked signals */
	if (rc)
		die(EXIT_RUNTIME, "pthread_create (fork handler) failed: %s", errno_name(rc));
	h->forked = f;
}

static void handle_msg(struct handler *h, const struct uffd_msg *m)
{
	uint64_t flags, addr;

	if (m->event != UFFD_EVENT_PAGEFAULT) {
		cnt_add(&h->c->msg_other, 1);
		if (m->event == UFFD_EVENT_FORK)
			serve_forked(h, (int)m->arg.fork.ufd);
		return;
	}
	flags = m->arg.pagefault.flags;
	addr = m->arg.pagefault.address & ~((uint64_t)g_ps - 1);
	if (h->delay_us)
		sleep_us(h->delay_us);
	if (h->spin_us)
		spin_us(h->spin_us);
	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		cnt_add(&h->c->msg_pf[FK_WP], 1);
		/* mode 0 = un-protect; wakes the faulting thread */
		int rc = uffd_wp(h->c, h->uffd, addr, g_ps, 0);
		if (rc < 0)
			die(EXIT_RUNTIME, "handler: UFFDIO_WRITEPROTECT (un-protect) at 0x%llx failed: %s",
			    (unsigned long long)addr, errno_name(-rc));
	} else if (flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		cnt_add(&h->c->msg_pf[FK_MINOR], 1);
		resolve_continue(h, addr);
	} else {
		cnt_add(&h->c->msg_pf[FK_MISSING], 1);
		resolve_copy(h, addr);
	}
}

/* Serve faults until stopfd becomes readable (or hangs up) with nothing left on the uffd. */
static void handler_loop(struct handler *h)
{
	struct uffd_msg msgs[UFFD_MSG_BATCH];

	for (;;) {
		struct pollfd p[2] = { { h->uffd, POLLIN, 0 }, { h->stopfd, POLLIN, 0 } };
		int n = poll(p, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_RUNTIME, "handler: poll failed: %s", errno_name(errno));
		}
		if (p[0].revents & POLLIN) {
			ssize_t got = read(h->uffd, msgs, sizeof(msgs));
			if (got < 0) {
				if (errno == EAGAIN)
					cnt_add(&h->c->read_eagain, 1);
				else if (errno != EINTR)
					die(EXIT_RUNTIME, "handler: read from uffd failed: %s", errno_name(errno));
			} else if (got > 0) {
				size_t nmsg = (size_t)got / sizeof(struct uffd_msg);
				cnt_add(&h->c->reads, 1);
				cnt_add(&h->c->read_bytes, (uint64_t)got);
				cnt_max(&h->c->max_msgs_per_read, nmsg);
				for (size_t i = 0; i < nmsg; i++)
					handle_msg(h, &msgs[i]);
			}
			continue; /* drain the uffd before looking at the stop request */
		}
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			die(EXIT_RUNTIME, "handler: uffd poll reported error (revents 0x%x)", p[0].revents);
		if (p[1].revents)
			return;
	}
}

static void *handler_thread_main(void *arg)
{
	pthread_setname_np(pthread_self(), "uffd-handler");
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* accurate --handler-delay-us */
	handler_loop(arg);
	return NULL;
}

static char *make_src_page(uint8_t pattern)
{
	char *src = mmap(NULL, g_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		die(EXIT_RUNTIME, "mmap of the source page failed: %s", errno_name(errno));
	memset(src, pattern, g_ps);
	return src;
}

struct handler_thread {
	pthread_t th;
	struct handler h;
};

static void block_signals(sigset_t *old)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void handler_thread_start(struct handler_thread *ht, int uffd, struct counts *c)
{
	sigset_t old;
	int rc;

	memset(ht, 0, sizeof(*ht));
	ht->h.uffd = uffd;
	ht->h.delay_us = g_opt.handler_delay_us;
	ht->h.spin_us = g_opt.handler_spin_us;
	ht->h.c = c;
	ht->h.src = make_src_page(SRC_PATTERN);
	ht->h.stopfd = eventfd(0, EFD_CLOEXEC);
	if (ht->h.stopfd < 0)
		die(EXIT_RUNTIME, "eventfd failed: %s", errno_name(errno));
	block_signals(&old); /* signals go to the main thread, never interrupt a fault */
	rc = pthread_create(&ht->th, NULL, handler_thread_main, &ht->h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		die(EXIT_RUNTIME, "pthread_create (handler) failed: %s", errno_name(rc));
}

static void handler_thread_stop(struct handler_thread *ht)
{
	uint64_t one = 1;
	if (write(ht->h.stopfd, &one, sizeof(one)) != sizeof(one))
		die(EXIT_RUNTIME, "eventfd write failed: %s", errno_name(errno));
	pthread_join(ht->th, NULL);
	if (ht->h.forked) {
		pthread_join(ht->h.forked_th, NULL);
		close(ht->h.forked->uffd);
		free(ht->h.forked);
	}
	close(ht->h.stopfd);
	unmap(ht->h.src, g_ps);
}

/* ---- separate handler process (Firecracker style: uffd passed over SCM_RIGHTS) ---- */

#define HP_MAGIC 0x75666668u /* "uffh" */

struct hp_layout {
	uint32_t magic;
	uint32_t src_pattern;
	uint64_t base, len, page_size, delay_us, spin_us;
};

struct hp_report {
	uint32_t magic;
	uint32_t pad;
	struct counts c;
};

static void hp_child(int sock, pid_t parent)
{
	struct hp_layout lay;
	struct iovec iov = { &lay, sizeof(lay) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	struct counts c;
	struct handler h;
	struct hp_report rep;
	char stop;
	ssize_t n;
	int uffd = -1;

	g_in_child = "handler process";
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	prctl(PR_SET_NAME, "uffd-handler", 0, 0, 0);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (g_devfd >= 0)
		close(g_devfd);
	if (g_json_out) /* nothing buffered yet: this only drops the inherited descriptor */
		fclose(g_json_out);

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(0); /* parent gave up before sending */
	if (n != (ssize_t)sizeof(lay) || lay.magic != HP_MAGIC)
		die(EXIT_RUNTIME, "handler process: bad layout message (%zd bytes)", n);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&uffd, CMSG_DATA(cm), sizeof(int));
	if (uffd < 0)
		die(EXIT_RUNTIME, "handler process: no uffd received over SCM_RIGHTS");

	memset(&c, 0, sizeof(c));
	memset(&h, 0, sizeof(h));
	h.uffd = uffd;
	h.stopfd = sock;
	h.delay_us = lay.delay_us;
	h.spin_us = lay.spin_us;
	h.c = &c;
	h.src = make_src_page((uint8_t)lay.src_pattern);
	handler_loop(&h);

	do
		n = recv(sock, &stop, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1); /* parent went away */
	memset(&rep, 0, sizeof(rep));
	rep.magic = HP_MAGIC;
	rep.c = c;
	if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) != (ssize_t)sizeof(rep))
		_exit(1);
	close(uffd);
	munmap(h.src, g_ps);
	close(sock);
	_exit(0);
}

static pid_t hp_spawn(int *sock_out)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die(EXIT_RUNTIME, "socketpair failed: %s", errno_name(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die(EXIT_RUNTIME, "fork failed: %s", errno_name(errno));
	if (pid == 0) {
		close(sv[0]);
		hp_child(sv[1], parent);
		_exit(0);
	}
	close(sv[1]);
	*sock_out = sv[0];
	return pid;
}

static void hp_send_uffd(int sock, int uffd, void *base, size_t len)
{
	struct hp_layout lay = { .magic = HP_MAGIC,
				 .src_pattern = SRC_PATTERN,
				 .base = (uintptr_t)base,
				 .len = len,
				 .page_size = g_ps,
				 .delay_us = g_opt.handler_delay_us,
				 .spin_us = g_opt.handler_spin_us };
	struct iovec iov = { &lay, sizeof(lay) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	memset(u.buf, 0, sizeof(u.buf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(lay))
		die(EXIT_RUNTIME, "sending the uffd to the handler process failed: %s", errno_name(errno));
}

/* waits for a forked process that must exit 0 */
static void reap(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die(EXIT_RUNTIME, "waitpid(%d) failed: %s", (int)pid, errno_name(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die(EXIT_RUNTIME, "%s %d exited abnormally (status 0x%x)", what, (int)pid, st);
}

static void hp_finish(int sock, pid_t pid, struct counts *c)
{
	struct hp_report rep;
	char stop = 'S';
	ssize_t n;

	do
		n = send(sock, &stop, 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		die(EXIT_RUNTIME, "handler process %d: cannot send stop: %s", (int)pid, errno_name(errno));
	do
		n = recv(sock, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep) || rep.magic != HP_MAGIC)
		die(EXIT_RUNTIME, "handler process %d: bad or missing report (%zd bytes)", (int)pid, n);
	counts_add(c, &rep.c);
	reap(pid, "handler process");
	close(sock);
}

/* ------------------------------------------------------------------ */
/* faulting threads ("vCPUs")                                          */

struct toucher {
	pthread_t th;
	unsigned idx;
	char *base;
	uint64_t first, last;
	int write;
	uint64_t *samples;
	uint64_t *boot_t0, *boot_t1; /* --page-times: per page, else NULL */
	uint64_t mismatches;
	pthread_barrier_t *bar;
	int donefd;
};

/*
 * --touch syscall: the access is made by the kernel (read()/write() on a pipe
 * whose user buffer is the guest page), so the fault is a kernel-mode fault
 * taken inside a syscall. Needed under valgrind, which serialises threads with
 * a global lock that a thread blocked in a user-mode fault never releases.
 */
static uint8_t touch_syscall(const int pfd[2], volatile uint8_t *p, int write_, uint8_t val)
{
	uint8_t v = 0;
	if (write_) {
		if (write(pfd[1], &val, 1) != 1 || read(pfd[0], (void *)p, 1) != 1)
			die(EXIT_RUNTIME, "touch via pipe failed: %s", errno_name(errno));
	} else {
		if (write(pfd[1], (const void *)p, 1) != 1 || read(pfd[0], &v, 1) != 1)
			die(EXIT_RUNTIME, "touch via pipe failed: %s", errno_name(errno));
	}
	return v;
}

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	char name[16];
	uint64_t one = 1;
	int pfd[2] = { -1, -1 };

	snprintf(name, sizeof(name), "uffd-vcpu%u", t->idx);
	pthread_setname_np(pthread_self(), name);
	if (g_opt.touch_syscall && pipe2(pfd, O_CLOEXEC) < 0)
		die(EXIT_RUNTIME, "pipe2 failed: %s", errno_name(errno));
	pthread_barrier_wait(t->bar);
	for (uint64_t i = t->first; i < t->last; i++) {
		volatile uint8_t *p = (volatile uint8_t *)(t->base + i * g_ps);
		uint64_t t0, t1;
		uint8_t v = 0;

		if (g_opt.touch_syscall) {
			volatile uint8_t *q = t->write ? p : p + g_ps - 1;
			t0 = now_ns();
			v = touch_syscall(pfd, q, t->write, tag(i));
			t1 = now_ns();
		} else if (t->boot_t0) {
			/* the boot clock inside the monotonic bracket: the tighter one */
			t0 = now_ns();
			t->boot_t0[i] = boot_ns();
			if (t->write)
				p[0] = tag(i);
			else
				v = p[g_ps - 1];
			t->boot_t1[i] = boot_ns();
			t1 = now_ns();
		} else {
			t0 = now_ns();
			if (t->write)
				p[0] = tag(i);
			else
				v = p[g_ps - 1];
			t1 = now_ns();
		}
		t->samples[i] = t1 - t0;
		if (!t->write && v != pat(i))
			t->mismatches++;
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	if (t->donefd >= 0 && write(t->donefd, &one, sizeof(one)) != sizeof(one))
		die(EXIT_RUNTIME, "eventfd write failed: %s", errno_name(errno));
	return NULL;
}

/*
 * Split [0,npages) into contiguous chunks, one per thread, touch each page
 * once (write: byte 0; read: last byte) and record the latency in samples[i].
 * watch_sock >= 0: a handler process serves the faults; die if it goes away.
 */
static void run_touchers(struct run_rec *r, char *base, uint64_t npages, int write_, uint64_t *samples, int watch_sock)
{
	unsigned T = g_opt.threads;
	struct toucher *t = calloc(T, sizeof(*t));
	pthread_barrier_t bar;
	sigset_t old;
	int efd = -1;

	uint64_t *boot_t0 = NULL, *boot_t1 = NULL;

	if (!t)
		die(EXIT_RUNTIME, "out of memory");
	if (g_page_times && !g_opt.touch_syscall) {
		boot_t0 = calloc(npages ? npages : 1, sizeof(*boot_t0));
		boot_t1 = calloc(npages ? npages : 1, sizeof(*boot_t1));
		if (!boot_t0 || !boot_t1)
			die(EXIT_RUNTIME, "out of memory");
	}
	if (watch_sock >= 0 && (efd = eventfd(0, EFD_CLOEXEC)) < 0)
		die(EXIT_RUNTIME, "eventfd failed: %s", errno_name(errno));
	pthread_barrier_init(&bar, NULL, T + 1);
	block_signals(&old);
	for (unsigned i = 0; i < T; i++) {
		t[i].idx = i;
		t[i].base = base;
		t[i].first = npages * i / T;
		t[i].last = npages * (i + 1) / T;
		t[i].write = write_;
		t[i].samples = samples;
		t[i].boot_t0 = boot_t0;
		t[i].boot_t1 = boot_t1;
		t[i].bar = &bar;
		t[i].donefd = efd;
		int rc = pthread_create(&t[i].th, NULL, toucher_main, &t[i]);
		if (rc)
			die(EXIT_RUNTIME, "pthread_create (toucher %u) failed: %s", i, errno_name(rc));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_barrier_wait(&bar);

	if (watch_sock >= 0) {
		uint64_t done = 0;
		while (done < T) {
			struct pollfd p[2] = { { efd, POLLIN, 0 }, { watch_sock, POLLIN, 0 } };
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				die(EXIT_RUNTIME, "poll failed: %s", errno_name(errno));
			}
			if (p[1].revents)
				die(EXIT_RUNTIME, "handler process went away while faults were pending");
			if (p[0].revents & POLLIN) {
				uint64_t v;
				if (read(efd, &v, sizeof(v)) == sizeof(v))
					done += v;
			}
		}
	}
	for (unsigned i = 0; i < T; i++) {
		pthread_join(t[i].th, NULL);
		r->c.data_mismatches += t[i].mismatches;
	}
	pthread_barrier_destroy(&bar);
	if (efd >= 0)
		close(efd);
	free(t);
	if (boot_t0) {
		for (uint64_t i = 0; i < npages; i++)
			fprintf(g_page_times, "0x%llx %llu %llu\n", (unsigned long long)(uintptr_t)(base + i * g_ps),
				(unsigned long long)boot_t0[i], (unsigned long long)boot_t1[i]);
		fflush(g_page_times);
		free(boot_t0);
		free(boot_t1);
	}
}

static uint64_t *alloc_samples(uint64_t n)
{
	uint64_t *s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		die(EXIT_RUNTIME, "out of memory");
	return s;
}

static void finish_samples(struct run_rec *r, int kind, uint64_t *s, uint64_t n)
{
	totals_add_samples(kind, s, n);
	summarize(s, n, &r->lat_kind[kind]);
	if (kind != FK_WP_ASYNC)
		r->lat_fault = r->lat_kind[kind];
	free(s);
}

/* after writes: byte 0 carries the tag, the last byte what was there before */
static void verify_written(struct run_rec *r, const char *base, uint64_t n, int src_content)
{
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)base + i * g_ps;
		uint8_t want_last = src_content ? SRC_PATTERN : pat(i);
		if (p[0] != tag(i) || p[g_ps - 1] != want_last)
			r->c.data_mismatches++;
	}
}

/* ------------------------------------------------------------------ */
/* scenarios                                                           */

static void sc_postcopy(struct run_rec *r)
{
	uint64_t n = g_opt.pages;
	size_t len = n * g_ps;
	struct handler_thread ht;
	int sock = -1, uffd;
	pid_t hpid = 0;
	char *base;
	uint64_t *s;

	if (g_opt.handler_process) /* the handler exists before the guest memory, as with Firecracker */
		hpid = hp_spawn(&sock);
	base = map_anon(len);
	uffd = create_uffd(r, "postcopy");
	uffd_api(uffd, UFFD_FEATURE_THREAD_ID, r, "postcopy", 1);
	uffd_register(uffd, base, len, UFFDIO_REGISTER_MODE_MISSING, r, "postcopy");
	if (hpid) {
		r->handler_pid = hpid;
		hp_send_uffd(sock, uffd, base, len);
	} else {
		handler_thread_start(&ht, uffd, &r->c);
	}

	if (g_opt.fault_delay_ms) /* a uffd registered before a tracer starts */
		sleep_ms_unless_stopped(g_opt.fault_delay_ms);
	s = alloc_samples(n);
	r->c.faults[FK_MISSING] += n;
	run_touchers(r, base, n, 1, s, sock);

	if (hpid)
		hp_finish(sock, hpid, &r->c);
	else
		handler_thread_stop(&ht);
	verify_written(r, base, n, 1);
	uffd_unregister(uffd, base, len, r, "postcopy");
	close(uffd);
	unmap(base, len);
	finish_samples(r, FK_MISSING, s, n);
}

/* all of buf through a stream socket, or die naming what */
static void sock_xfer(int sock, void *buf, size_t len, int sending, const char *what)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = sending ? send(sock, (char *)buf + done, len - done, MSG_NOSIGNAL)
				    : recv(sock, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(EXIT_RUNTIME, "%s: %s", what, n ? errno_name(errno) : "the other side went away");
		done += (size_t)n;
	}
}

/* The child of sc_fork: each first touch is a MISSING fault on the uffd the
 * kernel made for it, served by the parent's handler; it sends back its
 * counts and latency samples as a handler process does. */
static void __attribute__((noreturn)) fork_child(int sock, int parent_uffd, char *base, uint64_t n, uint64_t *s)
{
	struct run_rec cr;

	g_in_child = "fork child";
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	close(parent_uffd); /* this process then holds no uffd at all, only VMAs the kernel armed */
	memset(&cr, 0, sizeof(cr));
	if (g_opt.fault_delay_ms)
		sleep_ms_unless_stopped(g_opt.fault_delay_ms);
	cr.c.faults[FK_MISSING] = n;
	run_touchers(&cr, base, n, 1, s, -1);
	verify_written(&cr, base, n, 1);
	sock_xfer(sock, &cr.c, sizeof(cr.c), 1, "sending the counts to the parent");
	sock_xfer(sock, s, n * sizeof(*s), 1, "sending the samples to the parent");
	_exit(0);
}

/*
 * fork: the uffd asks for UFFD_FEATURE_EVENT_FORK, so fork() arms the child's
 * copy of the range with a uffd that the kernel makes, not a syscall; the
 * handler gets its fd in a UFFD_EVENT_FORK message and serves the child's
 * faults through it, as CRIU's lazy pages does. That uffd is counted in
 * uffds_forked, not uffds_created: a tracer sees no creation of it, only
 * its faults and messages.
 */
static void sc_fork(struct run_rec *r)
{
	uint64_t n = g_opt.pages;
	size_t len = n * g_ps;
	struct handler_thread ht;
	struct counts cc;
	char *base = map_anon(len);
	uint64_t *s = alloc_samples(n);
	int uffd, sv[2];
	pid_t pid;

	uffd = create_uffd(r, "fork");
	uffd_api(uffd, UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_THREAD_ID, r, "fork", 1);
	uffd_register(uffd, base, len, UFFDIO_REGISTER_MODE_MISSING, r, "fork");
	handler_thread_start(&ht, uffd, &r->c);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die(EXIT_RUNTIME, "socketpair failed: %s", errno_name(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork(); /* returns once the handler has read the UFFD_EVENT_FORK message */
	if (pid < 0)
		die(EXIT_RUNTIME, "fork failed: %s", errno_name(errno));
	if (pid == 0) {
		close(sv[0]);
		fork_child(sv[1], uffd, base, n, s);
	}
	close(sv[1]);
	r->child_pid = pid;
	sock_xfer(sv[0], &cc, sizeof(cc), 0, "fork: the child's counts");
	sock_xfer(sv[0], s, n * sizeof(*s), 0, "fork: the child's samples");
	close(sv[0]);
	counts_add(&r->c, &cc);
	reap(pid, "fork: the child");

	handler_thread_stop(&ht);
	uffd_unregister(uffd, base, len, r, "fork");
	close(uffd);
	unmap(base, len);
	finish_samples(r, FK_MISSING, s, n);
}

static void populate(char *base, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		((volatile uint8_t *)base)[i * g_ps + g_ps - 1] = pat(i);
}

static void sc_wp_snapshot(struct run_rec *r)
{
	uint64_t n = g_opt.pages;
	size_t len = n * g_ps;
	struct handler_thread ht;
	char *base = map_anon(len);
	uint64_t *s;
	int uffd, rc;

	populate(base, n);
	uffd = create_uffd(r, "wp-snapshot");
	uffd_api(uffd, UFFD_FEATURE_THREAD_ID, r, "wp-snapshot", 1);
	uffd_register(uffd, base, len, UFFDIO_REGISTER_MODE_WP, r, "wp-snapshot");
	rc = uffd_wp(&r->c, uffd, (uintptr_t)base, len, UFFDIO_WRITEPROTECT_MODE_WP);
	if (rc < 0)
		die(rc == -EINVAL || rc == -ENOENT ? EXIT_NOFEAT : EXIT_RUNTIME,
		    "wp-snapshot: UFFDIO_WRITEPROTECT of the range failed: %s", errno_name(-rc));
	handler_thread_start(&ht, uffd, &r->c);

	s = alloc_samples(n);
	r->c.faults[FK_WP] += n;
	run_touchers(r, base, n, 1, s, -1);

	handler_thread_stop(&ht);
	verify_written(r, base, n, 0);
	uffd_unregister(uffd, base, len, r, "wp-snapshot");
	close(uffd);
	unmap(base, len);
	finish_samples(r, FK_WP, s, n);
}

static void sc_minor_shmem(struct run_rec *r)
{
	uint64_t n = g_opt.pages;
	size_t len = n * g_ps;
	struct handler_thread ht;
	char *a, *b;
	uint64_t *s;
	int mfd, uffd;

	mfd = memfd_create("uffd-workload-minor", MFD_CLOEXEC);
	if (mfd < 0)
		die(EXIT_RUNTIME, "minor-shmem: memfd_create failed: %s", errno_name(errno));
	if (ftruncate(mfd, (off_t)len) < 0)
		die(EXIT_RUNTIME, "minor-shmem: ftruncate failed: %s", errno_name(errno));
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (a == MAP_FAILED)
		die(EXIT_RUNTIME, "minor-shmem: mmap failed: %s", errno_name(errno));
	madvise(a, len, MADV_NOHUGEPAGE);
	populate(a, n); /* fills the page cache through the unregistered mapping */
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (b == MAP_FAILED)
		die(EXIT_RUNTIME, "minor-shmem: mmap failed: %s", errno_name(errno));
	madvise(b, len, MADV_NOHUGEPAGE);

	uffd = create_uffd(r, "minor-shmem");
	uffd_api(uffd, UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_THREAD_ID, r, "minor-shmem", 1);
	uffd_register(uffd, b, len, UFFDIO_REGISTER_MODE_MINOR, r, "minor-shmem");
	handler_thread_start(&ht, uffd, &r->c);

	s = alloc_samples(n);
	r->c.faults[FK_MINOR] += n;
	run_touchers(r, b, n, 0, s, -1); /* reads; checks the content on the way */

	handler_thread_stop(&ht);
	uffd_unregister(uffd, b, len, r, "minor-shmem");
	close(uffd);
	unmap(b, len);
	unmap(a, len);
	close(mfd);
	finish_samples(r, FK_MINOR, s, n);
}

/* PAGEMAP_SCAN for PAGE_IS_WRITTEN pages; 0 or -errno */
static int pm_scan_written(struct run_rec *r, void *base, size_t len, uint64_t *written)
{
	struct page_region vec[64];
	uint64_t start = (uintptr_t)base, end = start + len, total = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (start < end) {
		struct pm_scan_arg a;
		long got;

		memset(&a, 0, sizeof(a));
		memset(vec, 0, sizeof(vec)); /* the kernel fills it (tools like valgrind cannot know that) */
		a.size = sizeof(a);
		a.flags = PM_SCAN_CHECK_WPASYNC;
		a.start = start;
		a.end = end;
		a.vec = (uintptr_t)vec;
		a.vec_len = sizeof(vec) / sizeof(vec[0]);
		a.category_mask = PAGE_IS_WRITTEN;
		a.return_mask = PAGE_IS_WRITTEN;
		r->pm_calls++;
		got = ioctl(fd, PAGEMAP_SCAN, &a);
		if (got < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		for (long k = 0; k < got; k++)
			total += (vec[k].end - vec[k].start) / g_ps;
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	close(fd);
	*written = total;
	return 0;
}

static void sc_wp_async(struct run_rec *r)
{
	uint64_t n = g_opt.pages;
	size_t len = n * g_ps;
	char *base = map_anon(len);
	struct uffd_msg m[UFFD_MSG_BATCH];
	uint64_t *s, before = 0, after = 0;
	ssize_t got;
	int uffd, rc;

	uffd = create_uffd(r, "wp-async");
	uffd_api(uffd, UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, r, "wp-async", 1);
	uffd_register(uffd, base, len, UFFDIO_REGISTER_MODE_WP, r, "wp-async");
	populate(base, n);
	rc = uffd_wp(&r->c, uffd, (uintptr_t)base, len, UFFDIO_WRITEPROTECT_MODE_WP);
	if (rc < 0)
		die(rc == -EINVAL ? EXIT_NOFEAT : EXIT_RUNTIME, "wp-async: UFFDIO_WRITEPROTECT of the range failed: %s",
		    errno_name(-rc));

	rc = pm_scan_written(r, base, len, &before);

	s = alloc_samples(n);
	r->c.faults[FK_WP_ASYNC] += n;
	run_touchers(r, base, n, 1, s, -1); /* resolved in the kernel, no messages */

	if (rc == 0)
		rc = pm_scan_written(r, base, len, &after);
	if (rc == 0) {
		r->pm = PM_OK;
		r->pm_written_before = before;
		r->pm_written = after;
	} else {
		r->pm = PM_UNAVAILABLE;
		r->pm_errno = -rc;
	}

	/* no message may be queued: check with one non-blocking read */
	got = read(uffd, m, sizeof(m));
	if (got > 0) {
		size_t nmsg = (size_t)got / sizeof(struct uffd_msg);
		r->c.reads++;
		r->c.read_bytes += (uint64_t)got;
		cnt_max(&r->c.max_msgs_per_read, nmsg);
		for (size_t i = 0; i < nmsg; i++) {
			if (m[i].event != UFFD_EVENT_PAGEFAULT)
				r->c.msg_other++;
			else if (m[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
				r->c.msg_pf[FK_WP]++;
			else if (m[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR)
				r->c.msg_pf[FK_MINOR]++;
			else
				r->c.msg_pf[FK_MISSING]++;
		}
	} else if (got < 0 && errno == EAGAIN) {
		r->c.read_eagain++;
	}

	verify_written(r, base, n, 0);
	uffd_unregister(uffd, base, len, r, "wp-async");
	close(uffd);
	unmap(base, len);
	finish_samples(r, FK_WP_ASYNC, s, n);
}

static int set_mode_reported;

static void record_attempt(struct mode_switch *sw, uint64_t enable, uint64_t disable, int rc, int e, uint64_t ns)
{
	sw->enable = enable;
	sw->disable = disable;
	sw->result = rc < 0 ? -(int64_t)e : 0;
	sw->err = rc < 0 ? e : 0;
	sw->latency_ns = ns;
}

static void sc_set_mode(struct run_rec *r)
{
	const uint64_t A = g_rwp_async_feature;
	const struct {
		uint64_t enable, disable;
	} seq[] = {
		{ A, 0 },                      /* enable RWP_ASYNC */
		{ 0, A },                      /* disable RWP_ASYNC */
		{ A, A },                      /* enable+disable the same bit: invalid overlap */
		{ UFFD_FEATURE_WP_ASYNC, 0 },  /* a bit that cannot be toggled */
		{ A, 0 },                      /* enable RWP_ASYNC again */
		{ 0, A },                      /* disable RWP_ASYNC */
	};
	uint64_t n = g_opt.pages < 16 ? g_opt.pages : 16;
	size_t len = n * g_ps;
	/* RWP without RWP_ASYNC: the uffd starts sync (UFFDIO_API grants exactly
	 * what is asked), so the first { RWP_ASYNC, 0 } really switches it */
	uint64_t want = g_rwp_feature;
	char *base;
	int uffd, rc, failed = 0, e;
	char errs[128] = "";

	uffd = create_uffd(r, "set-mode");
	rc = uffd_api(uffd, want, r, "set-mode", 0);
	if (rc == 0) {
		r->rwp_granted = 1;
	} else if (rc == -EINVAL) {
		/* a uffd whose UFFDIO_API failed cannot be reused: start over with a fresh one */
		r->rwp_granted = 0;
		close(uffd);
		uffd = create_uffd(r, "set-mode");
		uffd_api(uffd, 0, r, "set-mode", 1);
	} else {
		die(rc == -EPERM || rc == -ENOSYS ? EXIT_NOFEAT : EXIT_RUNTIME,
		    "set-mode: UFFDIO_API with features 0x%llx failed: %s", (unsigned long long)want, errno_name(-rc));
	}

	base = map_anon(len);
	uffd_register(uffd, base, len, UFFDIO_REGISTER_MODE_MISSING, r, "set-mode");

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]) && r->nsw < RUN_MAX_SWITCHES; i++) {
		struct uffdio_set_mode sm = { .enable = seq[i].enable, .disable = seq[i].disable };
		uint64_t t0 = now_ns(), t1;
		rc = uioctl(&r->c, IOC_SET_MODE, uffd, PROV_UFFDIO_SET_MODE, &sm);
		e = errno;
		t1 = now_ns();
		record_attempt(&r->sw[r->nsw++], sm.enable, sm.disable, rc, e, t1 - t0);
		if (rc < 0) {
			failed++;
			if (!strstr(errs, errno_name(e)) && strlen(errs) + 16 < sizeof(errs)) {
				if (errs[0])
					strcat(errs, "/");
				strcat(errs, errno_name(e));
			}
		}
	}

	{
		struct uffdio_rwprotect rw = { .start = (uintptr_t)base, .len = len, .mode = PROV_UFFDIO_RWPROTECT_MODE_RWP };
		uint64_t t0 = now_ns(), t1;
		rc = uioctl(&r->c, IOC_RWPROTECT, uffd, PROV_UFFDIO_RWPROTECT, &rw);
		e = errno;
		t1 = now_ns();
		record_attempt(&r->rwprotect, rw.mode, 0, rc, e, t1 - t0);
		r->has_rwprotect = 1;
	}

	uffd_unregister(uffd, base, len, r, "set-mode");
	close(uffd);
	unmap(base, len);

	if (!set_mode_reported) { /* a diagnostic, not progress: printed even with --quiet */
		set_mode_reported = 1;
		fprintf(stderr,
			PROG ": set-mode: RWP features 0x%llx %s by UFFDIO_API; UFFDIO_SET_MODE (0x%lx) failed %d/%d attempts%s%s%s; "
			     "UFFDIO_RWPROTECT (0x%lx): %s\n",
			(unsigned long long)want, r->rwp_granted ? "granted" : "not granted (EINVAL)",
			(unsigned long)PROV_UFFDIO_SET_MODE, failed, r->nsw, failed ? " with " : "", errs,
			failed == r->nsw ? " (not supported by this kernel)" : "", (unsigned long)PROV_UFFDIO_RWPROTECT,
			r->rwprotect.err ? errno_name(r->rwprotect.err) : "ok");
	}
}

void run_scenario(int sc, struct run_rec *r)
{
	switch (sc) {
	case SC_POSTCOPY:
		sc_postcopy(r);
		break;
	case SC_WP_SNAPSHOT:
		sc_wp_snapshot(r);
		break;
	case SC_MINOR_SHMEM:
		sc_minor_shmem(r);
		break;
	case SC_WP_ASYNC:
		sc_wp_async(r);
		break;
	case SC_SET_MODE:
		sc_set_mode(r);
		break;
	case SC_FORK:
		sc_fork(r);
		break;
	default:
		die(EXIT_RUNTIME, "internal error: scenario %d", sc);
	}
}
