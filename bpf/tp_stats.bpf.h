// SPDX-License-Identifier: GPL-2.0
/* In-kernel statistics: per-uffd counts and stage histograms. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_STATS_BPF_H
#define USCOPE_TP_STATS_BPF_H

/* Never written: a new entry starts from it (too large for the BPF stack). */
static const struct uscope_uffd_stats zero_stats;

static __always_inline struct uscope_uffd_stats *uffd_stats(__u64 uffd, __u64 created, __u32 tgid)
{
	struct uscope_uffd_key key = { .uffd = uffd, .created_ns = created };
	struct uscope_uffd_stats *s = bpf_map_lookup_elem(&uscope_uffd_stats, &key);

	if (s)
		return s;
	bpf_map_update_elem(&uscope_uffd_stats, &key, &zero_stats, BPF_NOEXIST);
	/* NULL when the map is full: user space sees a full map and says
	 * that later uffds were not counted. */
	s = bpf_map_lookup_elem(&uscope_uffd_stats, &key);
	if (s && !s->tgid)
		s->tgid = tgid;
	return s;
}

/* Index of the highest set bit of v (v > 0). */
static __always_inline __u32 top_bit(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

/* The log-linear bucket of a wait (bpf/uffdscope.h: USCOPE_WAIT_BUCKETS). */
static __always_inline __u32 wait_bucket(__u64 ns)
{
	__u32 m, i;

	if (ns < (1 << USCOPE_WAIT_SUB_BITS))
		return ns;
	m = top_bit(ns);
	i = (m - USCOPE_WAIT_SUB_BITS + 1) * (1 << USCOPE_WAIT_SUB_BITS) +
	    ((ns >> (m - USCOPE_WAIT_SUB_BITS)) & ((1 << USCOPE_WAIT_SUB_BITS) - 1));
	return i < USCOPE_WAIT_BUCKETS ? i : USCOPE_WAIT_BUCKETS - 1;
}

/* Adds n (+1 or -1) samples of v to a stage's histogram, count and sum. */
static __always_inline void stage_add(struct uscope_uffd_stats *s, __u32 stage, __u64 v, __s64 n)
{
	__u32 b = stage * USCOPE_WAIT_BUCKETS + wait_bucket(v);

	if (stage >= USCOPE_STAGES || b >= USCOPE_STAGE_BUCKETS)
		return;
	__sync_fetch_and_add(&s->stage_hist[b], n);
	__sync_fetch_and_add(&s->stage_count[stage], n);
	__sync_fetch_and_add(&s->stage_sum_ns[stage], n * (__s64)v);
}

/* The fault's sample of `stage` is v now: an earlier one (a re-wait)
 * leaves the histogram, so every fault counts once, with its whole wait. */
static __always_inline void stage_sample(struct uscope_uffd_stats *s, struct pending_fault *pf,
					 __u32 stage, __u64 v)
{
	__u64 old;

	if (stage >= USCOPE_STAGES)
		return;
	old = pf->counted[stage];
	if (old)
		stage_add(s, stage, old - 1, -1);
	pf->counted[stage] = v + 1;
	stage_add(s, stage, v, 1);
	if (v > s->stage_max_ns[stage]) /* racy: a lost update costs one max */
		s->stage_max_ns[stage] = v;
}

/* The thread of `pf` is on a CPU again after a wait: its stages from the
 * times seen (its message read, the wake-up by a resolving ioctl). */
static __always_inline void end_wait(struct pending_fault *pf, __u64 now)
{
	struct pending_msg_key k = { .uffd = pf->uffd, .page = pf->address & ~4095ULL };
	struct pending_msg *m = bpf_map_lookup_elem(&uscope_pending_msgs, &k);
	struct uscope_uffd_stats *s;
	bool first = !pf->counted[USCOPE_STAGE_TOTAL];
	__u32 kind;

	if (m) {
		/* an older message is another fault's on the same page */
		if (m->msg_ts >= pf->fault_ts && m->msg_ts <= now) {
			pf->msg_ts = m->msg_ts;
			pf->kind = m->kind;
		}
		bpf_map_delete_elem(&uscope_pending_msgs, &k);
	}
	s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);
	if (!s)
		return;
	stage_sample(s, pf, USCOPE_STAGE_TOTAL, now - pf->fault_ts);
	if (pf->msg_ts)
		stage_sample(s, pf, USCOPE_STAGE_QUEUE, pf->msg_ts - pf->fault_ts);
	if (pf->by_ioctl && pf->wake_ts >= pf->fault_ts && pf->wake_ts <= now) {
		stage_sample(s, pf, USCOPE_STAGE_WAKE, now - pf->wake_ts);
		if (pf->msg_ts && pf->wake_ts >= pf->msg_ts)
			stage_sample(s, pf, USCOPE_STAGE_SERVICE, pf->wake_ts - pf->msg_ts);
	}
	/* a fault whose message was read was counted then (note_msg()) */
	if (first && !pf->msg_ts) {
		kind = pf->kind < USCOPE_KINDS ? pf->kind : USCOPE_KIND_UNKNOWN;
		__sync_fetch_and_add(&s->userfaults[kind], 1);
	}
}

/* A wait whose return to a CPU was never seen: the hook did not run or
 * could not read the thread's state (a preempted BPF program holds this
 * CPU's recursion guard or task-storage lock). Counted, not timed. */
static __always_inline void end_unseen(struct pending_fault *pf)
{
	struct uscope_uffd_stats *s;

	if (pf->state != PENDING_BLOCKED && pf->state != PENDING_WOKEN)
		return;
	pf->state = PENDING_NONE;
	s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);
	if (s)
		__sync_fetch_and_add(&s->ends_unseen, 1);
}

#endif /* USCOPE_TP_STATS_BPF_H */
