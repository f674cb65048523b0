/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared body of the precise backends (uffdscope_fentry.bpf.c,
 * uffdscope_kprobe.bpf.c): exact handle_userfault() entry/exit and the
 * userfaultfd_set_mode() path, as USCOPE_REC_HU records.
 *
 * Each precise object is the tracepoint object plus these programs: it
 * #includes uffdscope.bpf.c first (so every uscope_* program, map and
 * rodata name is the same in all three objects and the records are
 * identical) and this file second. Only the attach mechanism differs, so
 * the per-backend files are thin wrappers around the helpers below, which
 * read everything with CO-RE (bpf_probe_read_kernel) and so behave the
 * same from fentry/fexit and from kprobe/kretprobe.
 *
 * Entry state lives in a per-thread map because a kretprobe has no
 * arguments; fexit uses the same path, so both backends emit the same
 * records (an exit whose entry was not seen is not emitted).
 */
#ifndef UFFDSCOPE_HU_BPF_H
#define UFFDSCOPE_HU_BPF_H

#define HU_SLOT_FAULT 0
#define HU_SLOT_SET_MODE 1

struct hu_state {
	__u64 ts;
	__u64 uffd;
	__u64 address;
	__u64 reason;
	__u64 flags;
	__u32 arg_read_ok;
	__u32 pad;
};

/* Key: tid | slot << 32. handle_userfault() may run inside set_mode()
 * (its copy_from_user() can fault on a uffd-armed page), so the two paths
 * keep separate entries. LRU: a thread that died mid-call cannot pin one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct hu_state);
} uscope_hu_inflight SEC(".maps");

static __always_inline __u64 hu_key(__u32 tid, __u32 slot)
{
	return (__u64)tid | ((__u64)slot << 32);
}

static __always_inline void hu_emit(__u32 kind, const struct hu_state *st,
				    __u64 ts, __s64 ret)
{
	struct uscope_hu *r = reserve_cur(USCOPE_REC_HU, sizeof(*r));

	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_HU, sizeof(*r), ts);
	r->uffd = st->uffd;
	r->address = st->address;
	r->reason = st->reason;
	r->fault_flags = st->flags;
	r->enter_ts_ns = st->ts;
	r->ret = ret;
	r->kind = kind;
	r->ctx_features = uffd_features(st->uffd);
	r->arg_read_ok = st->arg_read_ok;
	r->cpu = bpf_get_smp_processor_id();
	submit(r);
}

static __always_inline void hu_save(__u64 key, const struct hu_state *st)
{
	if (bpf_map_update_elem(&uscope_hu_inflight, &key, st, BPF_ANY)) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->inflight_dropped++;
	}
}

/* handle_userfault(struct vm_fault *vmf, unsigned long reason) entered. */
static __always_inline void hu_enter(struct vm_fault *vmf, __u64 reason)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct hu_state st = {};

	st.uffd = (__u64)BPF_CORE_READ(vmf, vma, vm_userfaultfd_ctx.ctx);
	if (!selected(tgid, st.uffd))
		return;
	st.ts = ts;
	if (bpf_core_field_exists(vmf->real_address))
		st.address = BPF_CORE_READ(vmf, real_address);
	else
		st.address = BPF_CORE_READ(vmf, address);
	st.reason = reason;
	st.flags = (__u64)BPF_CORE_READ(vmf, flags);
	hu_save(hu_key(tid, HU_SLOT_FAULT), &st);
	hu_emit(USCOPE_HU_ENTER, &st, ts, 0);
}

/* The exit of a tracked call (slot): emit kind with the entry state. */
static __always_inline void hu_slot_exit(__u32 slot, __u32 kind, __s64 ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 key = hu_key(tid, slot);
	struct hu_state *p = bpf_map_lookup_elem(&uscope_hu_inflight, &key);
	struct hu_state st;

	if (!p)
		return;
	st = *p;
	bpf_map_delete_elem(&uscope_hu_inflight, &key);
	hu_emit(kind, &st, bpf_ktime_get_boot_ns(), ret);
}

/* handle_userfault() returned ret (a vm_fault_t). */
static __always_inline void hu_exit(__s64 ret)
{
	hu_slot_exit(HU_SLOT_FAULT, USCOPE_HU_EXIT, ret);
}

/* userfaultfd_set_mode(struct userfaultfd_ctx *ctx, unsigned long arg)
 * entered: arg is the user pointer to struct uffdio_set_mode. */
static __always_inline void sm_enter(void *ctx_ptr, __u64 arg)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct hu_state st = {};
	__u64 mode[2] = {};

	st.uffd = (__u64)ctx_ptr;
	if (!selected(tgid, st.uffd))
		return;
	st.ts = ts;
	st.address = arg;
	if (bpf_probe_read_user(mode, sizeof(mode), (void *)arg) == 0) {
		st.reason = mode[0];
		st.flags = mode[1];
		st.arg_read_ok = 1;
	}
	hu_save(hu_key(tid, HU_SLOT_SET_MODE), &st);
	hu_emit(USCOPE_HU_SET_MODE_ENTER, &st, ts, 0);
}

static __always_inline void sm_exit(__s64 ret)
{
	hu_slot_exit(HU_SLOT_SET_MODE, USCOPE_HU_SET_MODE_EXIT, ret);
}

#endif /* UFFDSCOPE_HU_BPF_H */
