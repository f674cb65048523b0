/* SPDX-License-Identifier: MIT */
/*
 * bench_cli.h: one-line errors and checked integer options for the bench's C
 * programs (busy_host, host_tax). Define BENCH_PROG (the program's name)
 * before including it.
 */
#ifndef BENCH_CLI_H
#define BENCH_CLI_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* "PROG: message", then _exit: safe in a forked child, whose copy of the
 * parent's stdio buffers must not be flushed a second time. */
__attribute__((noreturn, format(printf, 2, 3))) static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(BENCH_PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	_exit(code);
}

/* The integer value of option `name`, lo..hi, or a one-line error and exit 2. */
static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		die(2, "%s takes an integer from %ld to %ld, got \"%s\"", name, lo, hi, v);
	return n;
}

#endif
