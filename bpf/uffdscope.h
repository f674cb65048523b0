/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uffdscope record layouts: the ONE definition shared by the BPF programs
 * (bpf/<name>.bpf.c), the native addon (native/) and, through the generated
 * src/events/layout.generated.ts, the TypeScript decoder.
 *
 * Rules (the generator and its test depend on them):
 *  - only fixed-width fields: __u8/__u16/__u32/__u64/__s32/__s64, char arrays,
 *    and a nested `struct uscope_header h` as the first member;
 *  - every struct is naturally aligned with no implicit padding (explicit
 *    `pad` fields instead), so C and TypeScript agree byte for byte;
 *  - constants are plain `#define NAME value` lines.
 */
#ifndef UFFDSCOPE_H
#define UFFDSCOPE_H

/* Bumped whenever a record layout changes; stored in recording headers.
 * ABI 1 (7 records of 56-136 bytes per blocking fault, each header with
 * pid and comm) is frozen in bpf/uffdscope_abi1.h for reading old
 * recordings. */
#define USCOPE_RECORD_ABI 2

#define USCOPE_COMM_LEN 16
/* uffd_msg records decoded per read(); more are counted as truncated. */
#define USCOPE_MAX_MSGS_PER_READ 64
/* struct uffd_msg is 32 bytes on every architecture. */
#define USCOPE_UFFD_MSG_SIZE 32
/* Largest uffdio_* argument struct (uffdio_move / uffdio_copy: 40 bytes). */
#define USCOPE_IOCTL_ARG_WORDS 5
/* Kernel stack frames inspected to tell a uffd wait from any other sleep
 * (the fallback when the wait-queue check cannot decide). handle_userfault()
 * is the third frame at sched_switch (__schedule, schedule,
 * handle_userfault); 8 leaves room for wrappers such as __schedule_loop.
 * Going from 24 to 8 did not measurably change the walk's cost: that is
 * mostly unwinding the tracing frames above __schedule. */
#define USCOPE_STACK_DEPTH 8

/* Record types (uscope_header.type). Numbers 3-5 were ABI 1's WAKE,
 * RESUME and IOCTL_ENTER, now parts of FAULT and IOCTL; 2 was BLOCK. */
#define USCOPE_REC_FAULT 1
#define USCOPE_REC_TASK 2
#define USCOPE_REC_VMA 3
#define USCOPE_REC_IOCTL 6
#define USCOPE_REC_MSG 7
#define USCOPE_REC_UFFD_CREATE 8
#define USCOPE_REC_UFFD_CLOSE 9
#define USCOPE_REC_PROC 10
#define USCOPE_REC_TYPE_COUNT 11

/* uscope_fault.armed: which uffd modes the VMA is registered for. */
#define USCOPE_ARMED_MISSING 1
#define USCOPE_ARMED_WP 2
#define USCOPE_ARMED_MINOR 4
/* The VMA has a uffd context but none of the known VM_UFFD_* bits: a
 * mode this build does not know (e.g. VM_UFFD_RWP from the RWP series). */
#define USCOPE_ARMED_UNKNOWN 8

/* uscope_fault.how: how the wait inside handle_userfault() was recognised. */
#define USCOPE_BLOCK_STACK 1     /* handle_userfault() found on the kernel stack */
#define USCOPE_BLOCK_HEURISTIC 2 /* no symbol range: first sleep after a uffd fault */
#define USCOPE_BLOCK_WAITQ 3     /* the thread found on its uffd's fault wait queue */

/* uscope_uffd_create.source */
#define USCOPE_CREATE_SYSCALL 1 /* userfaultfd(2) */
#define USCOPE_CREATE_DEV 2     /* ioctl(USERFAULTFD_IOC_NEW) on /dev/userfaultfd */

/* uscope_proc.kind */
#define USCOPE_PROC_FORK 1
#define USCOPE_PROC_EXEC 2
#define USCOPE_PROC_EXIT 3

/* Common prefix of every record. `size` is the whole record's size, so a
 * reader can step over record types it does not know. The thread's
 * process and name are in its TASK record, sent once per thread (again
 * when it is renamed), not in every header. */
struct uscope_header {
	__u8 type;
	__u8 flags;  /* per type: USCOPE_FAULT_*, USCOPE_IOCTL_*, USCOPE_MSG_* */
	__u16 size;
	__u32 tid;   /* the thread the record is about */
	__u64 ts_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
};

/* A thread, before the first record about it (and again after a rename):
 * its process and name. */
struct uscope_task {
	struct uscope_header h;
	__u32 pid; /* tgid */
	__u16 cpu;
	__u16 pad;
	char comm[USCOPE_COMM_LEN];
};

/* The uffd-armed VMA a fault of this process was in, sent when the VMA
 * lookup was not served from the per-mm cache (the first fault in it, or
 * after any mmap-lock writer): faults name only their address. */
struct uscope_vma {
	struct uscope_header h;
	__u64 uffd;
	__u64 vm_flags;
	__u64 start;
	__u64 end;
};

/* uscope_fault parts (h.flags). A fault that waits is one record, sent when
 * its thread is back on a CPU, with every part; the record has the parts
 * not sent before (ENTRY alone at entry for a fault not expected to wait;
 * the wait parts again for each further wait of the same fault). */
#define USCOPE_FAULT_ENTRY 1  /* address, ip, error code, features, armed */
#define USCOPE_FAULT_BLOCK 2  /* slept in handle_userfault() */
#define USCOPE_FAULT_WAKE 4   /* woken, by waker_tid */
#define USCOPE_FAULT_RESUME 8 /* back on a CPU */
#define USCOPE_FAULT_WIDE 16  /* a time after h.ts_ns needs more than 32 bits: uscope_fault_wide */

/* A user page fault in a VMA armed by a uffd (exceptions:page_fault_user)
 * and its wait: h.ts_ns is the fault's entry, the other times are ns after it. */
struct uscope_fault {
	struct uscope_header h;
	__u64 address;
	__u64 uffd; /* struct userfaultfd_ctx * of the VMA */
	__u64 ip;
	__u32 error_code;
	__u32 ctx_features; /* ctx->features when the fault entered */
	__u32 waker_tid;
	__u32 block_dt;
	__u32 wake_dt;
	__u32 resume_dt;
	__u16 prev_state; /* sched_switch's prev_state at the sleep */
	__u16 nblocks;    /* 1 for the first wait of this fault, 2+ for re-waits */
	__u16 cpu;        /* at entry */
	__u16 block_cpu;
	__u16 wake_cpu;   /* the waker's */
	__u16 resume_cpu;
	__u8 armed;       /* USCOPE_ARMED_* */
	__u8 how;         /* USCOPE_BLOCK_* */
	__u16 pad;
};

/* USCOPE_FAULT_WIDE: the high 32 bits of each time. */
struct uscope_fault_wide {
	struct uscope_fault f;
	__u32 block_dt_hi;
	__u32 wake_dt_hi;
	__u32 resume_dt_hi;
	__u32 pad;
};

/* uscope_ioctl flags */
#define USCOPE_IOCTL_ARGS 1       /* arg[] could be read from user memory at exit */
#define USCOPE_IOCTL_ARGS_IN 2    /* uscope_ioctl_in: the entry side (ctx_features_in, arg_in[]) */
#define USCOPE_IOCTL_WIDE 4       /* uscope_ioctl_in: enter_dt_hi is set */
#define USCOPE_IOCTL_ARGS_IN_OK 8 /* arg_in[] could be read at entry */
#define USCOPE_IOCTL_UNTIMED 16   /* its entry was not seen (in_kernel_stats: a failed per-fault
				   * ioctl, found at exit): enter_dt 0, enter_cpu its exit cpu */

/* An ioctl on a uffd (type 0xAA), one record at its exit: the argument
 * struct as the kernel left it (copy/zeropage/continue/move results,
 * API-granted features) and the return value. */
struct uscope_ioctl {
	struct uscope_header h; /* ts: exit */
	__u64 uffd;
	__u64 arg_ptr;
	__u64 arg[USCOPE_IOCTL_ARG_WORDS];
	__u32 cmd;
	__u32 fd;
	__s32 ret;
	__u32 enter_dt; /* ns from entry to exit */
	__u32 ctx_features; /* ctx->features at exit */
	__u16 enter_cpu;
	__u16 cpu;
};

/* The control ioctls (API, REGISTER, UNREGISTER, SET_MODE, unknown ones),
 * and any ioctl longer than 2^32 ns, also carry what the caller passed. */
struct uscope_ioctl_in {
	struct uscope_ioctl x;
	__u64 arg_in[USCOPE_IOCTL_ARG_WORDS];
	__u32 ctx_features_in; /* ctx->features at entry */
	__u32 enter_dt_hi;
};

/* uscope_msg flags */
#define USCOPE_MSG_WIDE 1 /* uscope_msg_wide: read_dt_hi is set */

/* One struct uffd_msg returned by read() on a uffd. */
struct uscope_msg {
	struct uscope_header h; /* ts: read() returned */
	__u64 uffd;
	__u64 body[3]; /* the uffd_msg union, raw: pagefault {flags, address, ptid} ... */
	__u32 read_dt; /* ns from read() entry */
	__u32 fd;
	__u16 index;   /* position of the message within its read() */
	__u16 in_read; /* messages returned by that read() */
	__u16 cpu;
	__u8 event;    /* UFFD_EVENT_* */
	__u8 pad;
};

struct uscope_msg_wide {
	struct uscope_msg m;
	__u32 read_dt_hi;
	__u32 pad;
};

/* A uffd was created (or an attempt failed: ret < 0). */
struct uscope_uffd_create {
	struct uscope_header h;
	__u64 uffd; /* 0 when creation failed */
	__s64 ret;  /* new fd, or -errno */
	__u64 flags;
	__u32 source; /* USCOPE_CREATE_* */
	__u32 cpu;
};

/* close() of a uffd fd (the context lives on while other fds/dups remain). */
struct uscope_uffd_close {
	struct uscope_header h;
	__u64 uffd;
	__u32 fd;
	__u32 cpu;
};

/* Process events for traced processes: follow children, names, exits. */
struct uscope_proc {
	struct uscope_header h;
	__u32 kind; /* USCOPE_PROC_* */
	__u32 other_pid; /* FORK: child pid; EXIT: exit code */
	__u32 other_tid; /* FORK: child tid */
	__u32 cpu;
};

/* Ioctl numbers counted in uscope_counters.fast_ioctls (0x00 .. 0x0f). */
#define USCOPE_FAST_IOCTL_NRS 16

/* Per-CPU accounting (BPF_MAP_TYPE_PERCPU_ARRAY, one element): every record
 * the BPF side tried to emit is either in `produced` minus `lost`
 * (delivered) or in `lost`. */
struct uscope_counters {
	__u64 produced[USCOPE_REC_TYPE_COUNT + 1];
	__u64 lost[USCOPE_REC_TYPE_COUNT + 1];
	__u64 vma_lookup_failed; /* bpf_find_vma() busy: a fault we could not classify */
	__u64 stack_failed;      /* bpf_get_stack() failed: a sleep we could not classify */
	__u64 msgs_truncated;    /* uffd_msgs beyond USCOPE_MAX_MSGS_PER_READ */
	__u64 inflight_dropped;  /* per-thread state map full */
	/* in_kernel_stats: per-fault uffd ioctls (_UFFDIO_WAKE 0x02 up to
	 * _UFFDIO_RWPROTECT 0x09) that succeeded, by ioctl number; failures
	 * are written as IOCTL records */
	__u64 fast_ioctls[USCOPE_FAST_IOCTL_NRS];
};

/* ---- in-kernel statistics (the default of top, serve and stat) ----
 * With rodata `in_kernel_stats`, the fault, block, wake and resume paths
 * and the per-fault ioctls write no records: each uffd fault is counted and
 * each wait and its stages go into histograms, in a hash keyed by the uffd
 * (context and creation time), updated with atomic adds. Buckets are
 * log-linear: values below 8 ns are their own bucket; above, each power of
 * two [2^m, 2^(m+1)) has 8 equal sub-buckets (index (m - 2) * 8 + the 3 bits
 * after the top one), so a bucket is at most 12.5 % wide; the last bucket
 * also holds everything longer. */
#define USCOPE_WAIT_SUB_BITS 3
#define USCOPE_WAIT_BUCKETS 304 /* up to 2^40 ns (~18 minutes) */
/* uffd contexts counted at most; later ones are not (the views say so). */
#define USCOPE_MAX_STAT_UFFDS 16384

/* Stages of a fault that waited (uscope_uffd_stats.stage_*):
 * total = fault to back on a CPU; queue = fault to its message read by a
 * handler; service = message read to the wake-up by a resolving ioctl;
 * wake = that wake-up to back on a CPU. */
#define USCOPE_STAGE_TOTAL 0
#define USCOPE_STAGE_QUEUE 1
#define USCOPE_STAGE_SERVICE 2
#define USCOPE_STAGE_WAKE 3
#define USCOPE_STAGES 4
/* USCOPE_STAGES * USCOPE_WAIT_BUCKETS (checked in the BPF program) */
#define USCOPE_STAGE_BUCKETS 1216

/* Userfault kinds (uscope_uffd_stats.userfaults[]), in FAULT_KINDS order. */
#define USCOPE_KIND_MISSING 0
#define USCOPE_KIND_WP 1
#define USCOPE_KIND_MINOR 2
#define USCOPE_KIND_RWP 3
#define USCOPE_KIND_ASYNC 4
#define USCOPE_KIND_UNKNOWN 5
#define USCOPE_KINDS 6

/* The statistics map's key. A context freed and reallocated at the same
 * address is another uffd: created_ns (CLOCK_BOOTTIME of its creation, 0
 * for one created before tracing began) keeps their counts apart. */
struct uscope_uffd_key {
	__u64 uffd;       /* struct userfaultfd_ctx * */
	__u64 created_ns;
};

struct uscope_uffd_stats {
	__u32 tgid;          /* the process whose fault created the entry */
	__u32 ctx_features;  /* ctx->features at the latest fault */
	__u32 handler_tgid;  /* the latest process to read its fault messages */
	__u32 pad;
	__u64 entries;       /* page faults in VMAs armed by this uffd (user
			      * faults, and faults the kernel resolved itself) */
	__u64 entries_missing; /* ... of which in MISSING-armed VMAs */
	__u64 entries_wp;    /* ... WP-armed */
	__u64 entries_minor; /* ... MINOR-armed */
	__u64 blocked;       /* faults that slept in handle_userfault() */
	__u64 rewaits;       /* sleeps after the first, of the same fault */
	__u64 ends_unseen;   /* blocked faults whose return to a CPU was not
			      * seen (a hook skipped): counted, not timed */
	__u64 userfaults[USCOPE_KINDS]; /* by kind: when a handler reads its
			      * message; one that waited with no message read,
			      * when it runs again; an async one, when it enters */
	__u64 msgs;          /* fault messages read by handlers */
	__u64 last_fault_ts_ns;
	/* per stage: faults measured, their sum and max, and the histogram
	 * (stage s has buckets [s * USCOPE_WAIT_BUCKETS, (s + 1) * ...)). A
	 * re-wait replaces the fault's earlier samples, so each fault counts
	 * once, with its whole wait. */
	__u64 stage_count[USCOPE_STAGES];
	__u64 stage_sum_ns[USCOPE_STAGES];
	__u64 stage_max_ns[USCOPE_STAGES];
	__u64 stage_hist[USCOPE_STAGE_BUCKETS];
};

/* ---- appended for the precise backends (fentry, kprobe) ---- */

/* handle_userfault() entry/exit, and userfaultfd_set_mode() entry/exit on
 * kernels that have it (the RWP series). Emitted by the fentry and kprobe
 * backends only, next to the tracepoint backend's records. Its per-type
 * counters use the spare slot at index USCOPE_REC_TYPE_COUNT: produced[]
 * and lost[] hold USCOPE_REC_TYPE_COUNT + 1 entries, so the counters
 * layout is unchanged. */
#define USCOPE_REC_HU 11

/* uscope_hu.kind */
#define USCOPE_HU_ENTER 1          /* handle_userfault() entered */
#define USCOPE_HU_EXIT 2           /* handle_userfault() returned */
#define USCOPE_HU_SET_MODE_ENTER 3 /* userfaultfd_set_mode() entered */
#define USCOPE_HU_SET_MODE_EXIT 4  /* userfaultfd_set_mode() returned */

/* Exact in-kernel timing of handle_userfault() (and of the set-mode path).
 * An EXIT record repeats what its ENTER saw; exits whose entry was not
 * seen (tracing began mid-call) are not emitted. */
struct uscope_hu {
	struct uscope_header h;
	__u64 uffd;        /* struct userfaultfd_ctx *: vmf->vma->vm_userfaultfd_ctx.ctx, or set_mode's ctx */
	__u64 address;     /* HU: vmf->real_address (vmf->address where absent); SET_MODE: the ioctl's user arg pointer */
	__u64 reason;      /* HU: VM_UFFD_* bit handle_userfault() was called for; SET_MODE: uffdio_set_mode.enable */
	__u64 fault_flags; /* HU: vmf->flags (FAULT_FLAG_*); SET_MODE: uffdio_set_mode.disable */
	__u64 enter_ts_ns; /* entry time (== h.ts_ns on *_ENTER) */
	__s64 ret;         /* *_EXIT: vm_fault_t (HU) or int (SET_MODE); 0 on entry */
	__u32 kind;        /* USCOPE_HU_* */
	__u32 ctx_features; /* ctx->features at this point (after the switch on SET_MODE_EXIT) */
	__u32 arg_read_ok; /* SET_MODE: 1 when enable/disable could be read from user memory */
	__u32 cpu;
};

#endif /* UFFDSCOPE_H */
