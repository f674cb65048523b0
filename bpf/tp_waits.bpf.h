// SPDX-License-Identifier: GPL-2.0
/* Waiting, waking, running again: sched_switch and sched_waking. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_WAITS_BPF_H
#define USCOPE_TP_WAITS_BPF_H

/* sched_switch reports a preempted task's prev_state as TASK_REPORT_MAX. */
#define TASK_STATE_PREEMPTED 0x100


/* Is the current (about to sleep) task queued on one of this uffd's fault
 * wait queues? handle_userfault() queues it (callback
 * userfaultfd_wake_function) before it sleeps, at the head; the stack walk
 * is the fallback, being far dearer (bench/README.md). */
#define WAITQ_SCAN 8

static __always_inline bool waitq_has(struct list_head *head, __u64 task)
{
	struct list_head *pos = head->next;
	__u64 off = bpf_core_field_offset(struct wait_queue_entry, entry);

	for (int i = 0; i < WAITQ_SCAN; i++) {
		struct wait_queue_entry *we;

		if (!pos || pos == head)
			return false;
		we = kcast(struct wait_queue_entry, (__u64)pos - off);
		if ((__u64)we->private == task && (__u64)we->func == uffd_wake_fn)
			return true;
		pos = pos->next;
	}
	return false;
}

static __always_inline bool on_uffd_waitq(__u64 uffd)
{
	struct userfaultfd_ctx *ctx = kcast(struct userfaultfd_ctx, uffd);
	__u64 task = bpf_get_current_task();

	if (!uffd)
		return false;
	return waitq_has(&ctx->fault_pending_wqh.head, task) ||
	       waitq_has(&ctx->fault_wqh.head, task);
}

/* Is the current (about to sleep) task inside handle_userfault()? */
static __always_inline int in_handle_userfault(void *ctx)
{
	__u32 zero = 0;
	__u64 *frames = bpf_map_lookup_elem(&uscope_stack, &zero);
	long n;

	if (!frames)
		return -1;
	n = bpf_get_stack(ctx, frames, USCOPE_STACK_DEPTH * sizeof(__u64), 0);
	if (n <= 0)
		return -1;
	for (int i = 0; i < USCOPE_STACK_DEPTH; i++) {
		if (i * sizeof(__u64) >= n)
			break;
		if (frames[i] >= hu_start && frames[i] < hu_end)
			return 1;
	}
	return 0;
}

/* `state` is prev's state as the sched_switch trace event reports it
 * (TASK_STATE_PREEMPTED for a preemption); `ctx` is only for the stack walk. */
static __always_inline int on_switch(bool btf, void *ctx, struct task_struct *prev_task, __u32 prev,
				     long state, struct task_struct *next_task, __u32 next)
{
	/* Every context switch of the host comes here: the clock is read only
	 * for a record. */
	__u64 ts = 0;
	struct thread_state *st;
	struct pending_fault *pf;

	st = thread_state(btf, prev_task, prev, false);
	pf = st ? &st->pf : NULL;
	/* A sleep (not a preemption: TASK_RUNNING or the preempt marker). */
	if (pf && pf->state != PENDING_NONE && state && !(state & TASK_STATE_PREEMPTED)) {
		int how, in_hu;

		if (uffd_wake_fn && on_uffd_waitq(pf->uffd)) {
			in_hu = 1;
			how = USCOPE_BLOCK_WAITQ;
		} else if (hu_end) {
			in_hu = in_handle_userfault(ctx);
			if (in_hu < 0) {
				struct uscope_counters *c = ctrs();
				if (c)
					c->stack_failed++;
				goto next;
			}
			how = USCOPE_BLOCK_STACK;
		} else {
			/* No symbol range: only the first sleep right after the
			 * fault counts, which is right for handle_userfault()
			 * and wrong only for faults that never reach it. */
			in_hu = pf->state == PENDING_FAULTED;
			how = USCOPE_BLOCK_HEURISTIC;
		}
		/* A sleep elsewhere (the mmap lock, page allocation, or after the
		 * fault is over) is not a uffd wait; the fault stays pending, as
		 * it may still reach handle_userfault(). */
		if (in_hu) {
			pf->state = PENDING_BLOCKED;
			pf->nblocks++;
			if (in_kernel_stats) {
				struct uscope_uffd_stats *s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);

				if (s) {
					if (pf->nblocks == 1)
						__sync_fetch_and_add(&s->blocked, 1);
					else
						__sync_fetch_and_add(&s->rewaits, 1);
				}
				goto next;
			}
			/* a new wait: its parts are sent when it ends */
			ts = bpf_ktime_get_boot_ns();
			pf->sent &= ~(USCOPE_FAULT_BLOCK | USCOPE_FAULT_WAKE | USCOPE_FAULT_RESUME);
			pf->block_ts = ts;
			pf->block_cpu = bpf_get_smp_processor_id();
			pf->prev_state = state;
			pf->how = how;
		}
	}
next:
	st = thread_state(btf, next_task, next, false);
	pf = st ? &st->pf : NULL;
	/* A waiting thread on a CPU again (BLOCKED: its wake-up was not seen). */
	if (in_kernel_stats && pf && (pf->state == PENDING_WOKEN || pf->state == PENDING_BLOCKED)) {
		pf->state = PENDING_RUNNING;
		end_wait(pf, bpf_ktime_get_boot_ns());
		return 0;
	}
	/* A waiting thread on a CPU again: its fault (or this wait of it) is
	 * sent whole. BLOCKED: the wake-up ran while it was still switching
	 * out, unseen (there is no resume to report). */
	if (pf && pf->state == PENDING_WOKEN) {
		pf->state = PENDING_RUNNING;
		if (!ts)
			ts = bpf_ktime_get_boot_ns();
		emit_fault(pf, next, USCOPE_FAULT_ENTRY | USCOPE_FAULT_BLOCK | USCOPE_FAULT_WAKE | USCOPE_FAULT_RESUME,
			   ts, bpf_get_smp_processor_id());
	} else if (pf && pf->state == PENDING_BLOCKED) {
		pf->state = PENDING_RUNNING;
		emit_fault(pf, next, USCOPE_FAULT_ENTRY | USCOPE_FAULT_BLOCK, 0, 0);
	}
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int uscope_switch(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(false, ctx, NULL, ctx->prev_pid, ctx->prev_state, NULL, ctx->next_pid);
}

static __always_inline int on_waking(bool btf, struct task_struct *task, __u32 target)
{
	struct thread_state *st = thread_state(btf, task, target, false);
	struct pending_fault *pf = st ? &st->pf : NULL;
	__u64 ts;

	if (!pf)
		return 0;
	if (in_kernel_stats && pf->state == PENDING_FAULTED) {
		/* woken while still on its way to sleep (its block is not seen
		 * yet, on another CPU): the wake-up ends its service stage */
		pf->wake_ts = bpf_ktime_get_boot_ns();
		pf->waker_tid = (__u32)bpf_get_current_pid_tgid();
		pf->by_ioctl = in_fast_uffd_ioctl();
		return 0;
	}
	if (pf->state != PENDING_BLOCKED)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	pf->state = PENDING_WOKEN;
	pf->wake_ts = ts;
	pf->waker_tid = (__u32)bpf_get_current_pid_tgid();
	if (in_kernel_stats) {
		/* the waker runs here: is it in a resolving uffd ioctl? */
		pf->by_ioctl = in_fast_uffd_ioctl();
		return 0;
	}
	/* the waker is named in the fault's record: it needs a TASK record */
	pf->wake_cpu = bpf_get_smp_processor_id();
	note_task();
	return 0;
}

SEC("tracepoint/sched/sched_waking")
int uscope_waking(struct trace_event_raw_sched_wakeup_template *ctx)
{
	return on_waking(false, NULL, ctx->pid);
}

#endif /* USCOPE_TP_WAITS_BPF_H */
