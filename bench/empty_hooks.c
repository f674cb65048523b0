// SPDX-License-Identifier: GPL-2.0
//
// empty_hooks: attaches the programs of empty_hooks.bpf.c (they return at
// once) in one hook flavour, runs CMD, and exits with its status: the
// floor of bench/overhead.ts.
//
//   empty_hooks --hooks btf|classic -- CMD ARGS...
//
// The same rule as the addon picks the set (native/hooks.h): with btf, a
// classic program covered by a tp_btf one is left out.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "hooks.h"
#include "empty_hooks.skel.h"

static int quiet_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	int btf = -1;
	char **cmd = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			cmd = &argv[i + 1];
			break;
		}
		if (!strcmp(argv[i], "--hooks") && i + 1 < argc) {
			btf = !strcmp(argv[i + 1], "btf") ? 1 : !strcmp(argv[i + 1], "classic") ? 0 : -1;
			i++;
		}
	}
	if (btf < 0 || !cmd || !cmd[0]) {
		fprintf(stderr, "usage: empty_hooks --hooks btf|classic -- CMD ARGS...\n");
		return 2;
	}
	libbpf_set_print(quiet_log);
	struct empty_hooks *skel = empty_hooks__open();
	if (!skel) {
		perror("empty_hooks: open");
		return 3;
	}
	int err = uscope_choose_hooks(skel->obj, btf);
	if (!err)
		err = empty_hooks__load(skel);
	if (!err)
		err = empty_hooks__attach(skel);
	if (err) {
		fprintf(stderr, "empty_hooks: %s hooks: load/attach: %s\n", btf ? "btf" : "classic", strerror(-err));
		empty_hooks__destroy(skel);
		return 3;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("empty_hooks: fork");
		return 1;
	}
	if (child == 0) {
		execvp(cmd[0], cmd);
		perror("empty_hooks: exec");
		_exit(127);
	}
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	empty_hooks__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
