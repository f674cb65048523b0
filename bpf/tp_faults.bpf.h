// SPDX-License-Identifier: GPL-2.0
/* Faults: exceptions:page_fault_user, the VMA lookup and its cache. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_FAULTS_BPF_H
#define USCOPE_TP_FAULTS_BPF_H

/* exceptions:page_fault_user; not in vmlinux BTF, layout from its format file. */
struct page_fault_user_args {
	__u64 common;
	__u64 address;
	__u64 ip;
	__u64 error_code;
};

static long read_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *vi = data;

	vi->uffd = (__u64)vma->vm_userfaultfd_ctx.ctx;
	vi->flags = vma->vm_flags;
	vi->start = vma->vm_start;
	vi->end = vma->vm_end;
	return 0;
}

/* vi->uffd_created for a VMA just looked up (not cached). */
static __always_inline void note_uffd_created(struct vma_info *vi)
{
	__u64 *created;

	if (!in_kernel_stats || !vi->uffd)
		return;
	created = bpf_map_lookup_elem(&uscope_uffd_created, &vi->uffd);
	vi->uffd_created = created ? *created : 0;
}

static __always_inline long find_uffd_vma(struct thread_state *st, __u64 address, struct vma_info *vi)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct mm_struct *mm = t->mm;
	__u32 seq = 1; /* odd: not cacheable */
	long err;

	if (bpf_core_field_exists(mm->mm_lock_seq))
		seq = mm->mm_lock_seq.sequence;
	if (st && !(seq & 1) && st->vc.mm == (__u64)mm && st->vc.seq == seq &&
	    address >= st->vc.vi.start && address < st->vc.vi.end) {
		*vi = st->vc.vi;
		return 0;
	}
	err = bpf_find_vma(t, address, read_vma, vi, 0);
	if (!err)
		note_uffd_created(vi);
	if (!err && st && !(seq & 1)) {
		st->vc.mm = (__u64)mm;
		st->vc.seq = seq;
		st->vc.vi = *vi;
	}
	vi->fresh = 1;
	return err;
}

/* x86 page fault error code bits */
#define PF_PRESENT 1
#define PF_WRITE 2

/* A fault's kind before a handler reads its message (which then says). */
static __always_inline __u32 armed_kind(__u16 armed, __u64 err)
{
	if ((armed & USCOPE_ARMED_MISSING) && !(err & PF_PRESENT))
		return USCOPE_KIND_MISSING;
	if ((armed & USCOPE_ARMED_WP) && (err & PF_WRITE))
		return USCOPE_KIND_WP;
	if (armed & USCOPE_ARMED_MINOR)
		return USCOPE_KIND_MINOR;
	if (armed & USCOPE_ARMED_MISSING)
		return USCOPE_KIND_MISSING;
	if (armed & USCOPE_ARMED_UNKNOWN)
		return USCOPE_KIND_RWP;
	return USCOPE_KIND_UNKNOWN;
}

/* Resolved by the kernel without a wait: a write to a write-protected page
 * of a WP_ASYNC uffd, or an RWP fault (a VMA armed in a mode this build
 * does not know) of an RWP_ASYNC one. */
static __always_inline bool is_async(__u32 features, __u16 armed, __u64 err)
{
	bool wp_write = (armed & USCOPE_ARMED_WP) && (err & (PF_PRESENT | PF_WRITE)) == (PF_PRESENT | PF_WRITE);

	if (wp_write)
		return features & feat_wp_async;
	return (features & feat_rwp_async) && (armed & USCOPE_ARMED_UNKNOWN);
}

/* The VMA of a fault, for the faults after it that name only an address:
 * sent when the VMA was looked up (not cached) and is not the one the
 * thread sent last (the cache also misses after the thread's faults
 * elsewhere, or anyone's mmap-lock write). When the ring has no room, the
 * thread's cached VMA goes so its next fault in the VMA sends it again. */
static __always_inline void emit_vma(struct thread_state *st, const struct vma_info *vi, __u64 ts)
{
	struct uscope_vma *r;

	if (st && st->vs.uffd == vi->uffd && st->vs.flags == vi->flags && st->vs.start == vi->start &&
	    st->vs.end == vi->end)
		return;
	r = reserve_cur(USCOPE_REC_VMA, sizeof(*r));
	if (!r) {
		if (st)
			st->vc.mm = 0;
		return;
	}
	fill_current(&r->h, USCOPE_REC_VMA, sizeof(*r), ts);
	r->uffd = vi->uffd;
	r->vm_flags = vi->flags;
	r->start = vi->start;
	r->end = vi->end;
	submit(r);
	if (st) {
		st->vs.uffd = vi->uffd;
		st->vs.flags = vi->flags;
		st->vs.start = vi->start;
		st->vs.end = vi->end;
	}
}

/* Sends the `parts` (USCOPE_FAULT_*) of tid's fault not sent yet, as one
 * record: times are ns after the fault's entry, in 32 bits unless one
 * needs more (then the wide record). A part the ring had no room for
 * counts as sent: it is lost, and counted so. */
static __always_inline void emit_fault(struct pending_fault *pf, __u32 tid, __u32 parts, __u64 resume_ts,
				       __u16 resume_cpu)
{
	__u64 block_dt = 0, wake_dt = 0, resume_dt = 0;
	struct uscope_fault *r;
	__u32 size = sizeof(struct uscope_fault);

	parts &= ~(__u32)pf->sent;
	if (!parts)
		return;
	pf->sent |= parts;
	if (parts & USCOPE_FAULT_BLOCK)
		block_dt = pf->block_ts - pf->fault_ts;
	if (parts & USCOPE_FAULT_WAKE)
		wake_dt = pf->wake_ts - pf->fault_ts;
	if (parts & USCOPE_FAULT_RESUME)
		resume_dt = resume_ts - pf->fault_ts;
	if ((block_dt | wake_dt | resume_dt) >> 32) {
		struct uscope_fault_wide *w = reserve(USCOPE_REC_FAULT, sizeof(*w));

		if (!w)
			return;
		w->block_dt_hi = block_dt >> 32;
		w->wake_dt_hi = wake_dt >> 32;
		w->resume_dt_hi = resume_dt >> 32;
		w->pad = 0;
		r = &w->f;
		size = sizeof(*w);
		parts |= USCOPE_FAULT_WIDE;
	} else {
		r = reserve(USCOPE_REC_FAULT, sizeof(*r));
		if (!r)
			return;
	}
	fill_header(&r->h, USCOPE_REC_FAULT, size, tid, pf->fault_ts);
	r->h.flags = parts;
	r->address = pf->address;
	r->uffd = pf->uffd;
	r->ip = pf->ip;
	r->error_code = pf->error_code;
	r->ctx_features = pf->ctx_features;
	r->waker_tid = parts & USCOPE_FAULT_WAKE ? pf->waker_tid : 0;
	r->block_dt = block_dt;
	r->wake_dt = wake_dt;
	r->resume_dt = resume_dt;
	r->prev_state = pf->prev_state;
	r->nblocks = pf->nblocks;
	r->cpu = pf->fault_cpu;
	r->block_cpu = pf->block_cpu;
	r->wake_cpu = pf->wake_cpu;
	r->resume_cpu = resume_cpu;
	r->armed = pf->armed;
	r->how = pf->how;
	r->pad = 0;
	submit(r);
}

/* A fault's thread moves on (faults again, exits) before its fault was
 * sent whole: send what it has. */
static __always_inline void flush_fault(struct pending_fault *pf, __u32 tid)
{
	__u32 parts = USCOPE_FAULT_ENTRY;

	if (pf->state == PENDING_NONE)
		return;
	if (pf->state == PENDING_BLOCKED || pf->state == PENDING_WOKEN)
		parts |= USCOPE_FAULT_BLOCK;
	if (pf->state == PENDING_WOKEN)
		parts |= USCOPE_FAULT_WAKE;
	emit_fault(pf, tid, parts, 0, 0);
}

static __always_inline int on_fault(bool btf, __u64 address, __u64 ip, __u64 error_code)
{
	struct thread_state *st;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct vma_info vi = {};
	struct pending_fault pf = {}, *cur;
	__u16 armed = 0;
	long err;
	__u64 ts;

	/* Every user page fault of the host comes here: the clock is read only
	 * for selected processes (as early as possible for those). A thread
	 * has state only once its process was found selected. */
	st = thread_state(btf, current_for(btf), tid, false);
	if (!st && (!tgid_selected(tgid) || !may_fault_on_uffd(btf)))
		return 0;
	ts = bpf_ktime_get_boot_ns();
	if (!st)
		st = thread_state(btf, current_for(btf), tid, true);
	err = find_uffd_vma(st, address, &vi);
	if (err == -EBUSY) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->vma_lookup_failed++;
		return 0;
	}
	if (err || !vi.uffd)
		return 0;

	if (vi.flags & vm_uffd_missing)
		armed |= USCOPE_ARMED_MISSING;
	if (vi.flags & vm_uffd_wp)
		armed |= USCOPE_ARMED_WP;
	if (vi.flags & vm_uffd_minor)
		armed |= USCOPE_ARMED_MINOR;
	if (!armed)
		armed = USCOPE_ARMED_UNKNOWN;

	pf.address = address;
	pf.uffd = vi.uffd;
	pf.uffd_created = vi.uffd_created;
	pf.fault_ts = ts;
	pf.tgid = tgid;
	pf.state = PENDING_FAULTED;
	pf.kind = armed_kind(armed, error_code);
	/* the thread's previous fault is over: counted as unseen in-kernel,
	 * or its record sent as far as it got */
	if (st && in_kernel_stats)
		end_unseen(&st->pf);
	else if (st)
		flush_fault(&st->pf, tid);
	if (st)
		st->pf = pf;

	if (in_kernel_stats) {
		struct uscope_uffd_stats *s = uffd_stats(vi.uffd, vi.uffd_created, tgid);
		__u32 features = uffd_features(vi.uffd);

		if (s) {
			__sync_fetch_and_add(&s->entries, 1);
			if (armed & USCOPE_ARMED_MISSING)
				__sync_fetch_and_add(&s->entries_missing, 1);
			if (armed & USCOPE_ARMED_WP)
				__sync_fetch_and_add(&s->entries_wp, 1);
			if (armed & USCOPE_ARMED_MINOR)
				__sync_fetch_and_add(&s->entries_minor, 1);
			if (is_async(features, armed, error_code))
				__sync_fetch_and_add(&s->userfaults[USCOPE_KIND_ASYNC], 1);
			s->ctx_features = features;
			s->last_fault_ts_ns = ts;
		}
		return 0;
	}
	if (vi.fresh)
		emit_vma(st, &vi, ts);
	note_task();
	cur = st ? &st->pf : &pf;
	cur->ip = ip;
	cur->error_code = error_code;
	cur->ctx_features = uffd_features(vi.uffd);
	cur->armed = armed;
	cur->fault_cpu = bpf_get_smp_processor_id();
	/* A missing page of a MISSING-armed VMA waits for its handler (but
	 * for a race with the resolving ioctl): its record waits for the end
	 * of the wait, one record for the whole fault. Any other fault is
	 * sent now, and its wait, if it has one, when it ends. */
	if (!st || !(armed & USCOPE_ARMED_MISSING) || (error_code & PF_PRESENT))
		emit_fault(cur, tid, USCOPE_FAULT_ENTRY, 0, 0);
	return 0;
}

SEC("tracepoint/exceptions/page_fault_user")
int uscope_fault(struct page_fault_user_args *ctx)
{
	return on_fault(false, ctx->address, ctx->ip, ctx->error_code);
}

#endif /* USCOPE_TP_FAULTS_BPF_H */
