// SPDX-License-Identifier: GPL-2.0
/*
 * uffdscope fentry backend: the tracepoint backend's programs (same
 * records, same program/map/rodata names), plus fentry/fexit on
 * handle_userfault() and, where the kernel has it, userfaultfd_set_mode()
 * for exact in-kernel entry/exit (USCOPE_REC_HU).
 *
 * Needs BPF trampolines (BPF_PROG_TYPE_TRACING): some kernels refuse
 * them at load (EPERM). userfaultfd_set_mode() exists only with the RWP
 * series: user space turns uscope_sm_* autoload off when the function is
 * not in the kernel's BTF, before load.
 */
#include "tracepoint_tool.bpf.h"
#include "uffdscope_hu.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/handle_userfault")
int BPF_PROG(uscope_hu_entry, struct vm_fault *vmf, unsigned long reason)
{
	hu_enter(vmf, reason);
	return 0;
}

SEC("fexit/handle_userfault")
int BPF_PROG(uscope_hu_exit, struct vm_fault *vmf, unsigned long reason, vm_fault_t ret)
{
	hu_exit((__s64)ret);
	return 0;
}

/* The RWP series' static int userfaultfd_set_mode(struct userfaultfd_ctx *ctx,
 * unsigned long arg). Not in vmlinux.h of a kernel without it: the
 * arguments are declared here, the attach target is resolved at load. */
SEC("fentry/userfaultfd_set_mode")
int BPF_PROG(uscope_sm_entry, struct userfaultfd_ctx *uctx, unsigned long arg)
{
	sm_enter(uctx, arg);
	return 0;
}

SEC("fexit/userfaultfd_set_mode")
int BPF_PROG(uscope_sm_exit, struct userfaultfd_ctx *uctx, unsigned long arg, int ret)
{
	sm_exit(ret);
	return 0;
}
