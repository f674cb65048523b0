// SPDX-License-Identifier: GPL-2.0
/*
 * uffdscope kprobe backend: the tracepoint backend's programs (same
 * records, same program/map/rodata names), plus kprobe/kretprobe on
 * handle_userfault() and, where the kernel has it, userfaultfd_set_mode()
 * for exact in-kernel entry/exit (USCOPE_REC_HU).
 *
 * Needs CONFIG_KPROBES: without it the programs load but attaching them
 * fails. userfaultfd_set_mode() exists only with the RWP series: user
 * space turns uscope_sm_* autoload off when the symbol is not in
 * /proc/kallsyms, before load.
 */
#include "tracepoint_tool.bpf.h"
#include "uffdscope_hu.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/handle_userfault")
int BPF_KPROBE(uscope_hu_entry, struct vm_fault *vmf, unsigned long reason)
{
	hu_enter(vmf, reason);
	return 0;
}

SEC("kretprobe/handle_userfault")
int BPF_KRETPROBE(uscope_hu_exit, unsigned long rc)
{
	hu_exit((__s64)(__u32)rc); /* vm_fault_t: unsigned int */
	return 0;
}

SEC("kprobe/userfaultfd_set_mode")
int BPF_KPROBE(uscope_sm_entry, void *ctx_ptr, unsigned long arg)
{
	sm_enter(ctx_ptr, arg);
	return 0;
}

SEC("kretprobe/userfaultfd_set_mode")
int BPF_KRETPROBE(uscope_sm_exit, long rc)
{
	sm_exit((__s64)(int)rc);
	return 0;
}
