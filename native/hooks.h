/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which attach flavour of the shared hooks to load, before bpf_object load.
 * The sched and fault hooks exist twice (bpf/tp_btf_hooks.bpf.h):
 * "classic" tracepoint programs and "btf" raw tracepoint (tp_btf) programs
 * with the same bodies. With btf, a classic program is left out when a
 * tp_btf program covers its event; with classic, every tp_btf program is
 * left out. The syscall hooks are classic per-syscall tracepoints in both:
 * a raw sys_enter program would run for every syscall of the host. Shared by the addon
 * (native/tracer.cc) and the bench's C consumer, in C so both can include it.
 */
#ifndef USCOPE_HOOKS_H
#define USCOPE_HOOKS_H

#include <string.h>
#include <bpf/libbpf.h>

/* The raw tracepoint that covers a classic "tracepoint/<cat>/<event>"
 * section, written into out (at most n bytes); 0 if not a tracepoint. */
static inline int uscope_covering_raw_event(const char *sec, char *out, size_t n)
{
	const char *ev;

	if (strncmp(sec, "tracepoint/", 11) != 0 || !(ev = strrchr(sec, '/')))
		return 0;
	ev++;
	if (strlen(ev) >= n)
		return 0;
	strcpy(out, ev);
	return 1;
}

static inline int uscope_has_raw_hook(struct bpf_object *obj, const char *event)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p);
		if (strncmp(sec, "tp_btf/", 7) == 0 && strcmp(sec + 7, event) == 0)
			return 1;
	}
	return 0;
}

/* Returns 0, or a negative errno from libbpf. */
static inline int uscope_choose_hooks(struct bpf_object *obj, int btf)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p);
		char ev[64];
		int load;

		if (strncmp(sec, "tp_btf/", 7) == 0)
			load = btf;
		else
			load = !(btf && uscope_covering_raw_event(sec, ev, sizeof(ev)) &&
				 uscope_has_raw_hook(obj, ev));
		if (!load) {
			int err = bpf_program__set_autoload(p, false);
			if (err)
				return err;
		}
	}
	return 0;
}

/* With in_kernel_stats (rodata), read() is followed from its exit alone:
 * sys_enter_read, which every read() of the host would run, is left out.
 * Returns 0, or a negative errno from libbpf. */
static inline int uscope_leave_out_for_in_kernel_stats(struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		if (!strcmp(bpf_program__section_name(p), "tracepoint/syscalls/sys_enter_read")) {
			int err = bpf_program__set_autoload(p, false);
			if (err)
				return err;
		}
	}
	return 0;
}

#endif /* USCOPE_HOOKS_H */
