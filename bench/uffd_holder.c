// SPDX-License-Identifier: MIT
/*
 * uffd_holder: holds one userfaultfd open (UFFDIO_API done, nothing
 * registered, never a fault) and sleeps until SIGINT/SIGTERM/SIGHUP.
 *
 * For bench/host_tax.ts: host-wide `uffdscope top` starts its demo workload
 * when no process holds a uffd, which would load the CPUs it measures; with
 * this process around it traces the host instead. Prints "ready" on stdout
 * once the uffd exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323 /* x86_64 */
#endif

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "uffd_holder: takes no arguments\n");
		return 2;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC); /* before 5.11 */
	if (fd < 0) {
		fprintf(stderr, "uffd_holder: userfaultfd(2): %s\n", strerror(errno));
		return 1;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		fprintf(stderr, "uffd_holder: UFFDIO_API: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int sig;
	sigwait(&sigs, &sig);
	return 0;
}
