/* SPDX-License-Identifier: GPL-2.0 */
/*
 * FROZEN: the record layouts of record ABI 1 (recording format 1), as
 * bpf/uffdscope.h had them before ABI 2. Never included by BPF or native
 * code; scripts/gen-layout.mjs turns it into src/events/layout.abi1.generated.ts
 * so recordings made by older builds still decode. Do not edit.
 */
#ifndef UFFDSCOPE_ABI1_H
#define UFFDSCOPE_ABI1_H

#define USCOPE_RECORD_ABI 1

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

/* Record types (uscope_header.type). */
#define USCOPE_REC_FAULT 1
#define USCOPE_REC_BLOCK 2
#define USCOPE_REC_WAKE 3
#define USCOPE_REC_RESUME 4
#define USCOPE_REC_IOCTL_ENTER 5
#define USCOPE_REC_IOCTL_EXIT 6
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

/* uscope_block.how: how the wait inside handle_userfault() was recognised. */
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
 * reader can step over record types it does not know. */
struct uscope_header {
	__u16 type;
	__u16 size;
	__u32 cpu;
	__u64 ts_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u32 pid;   /* tgid of the task the record is about */
	__u32 tid;
	char comm[USCOPE_COMM_LEN];
};

/* A user page fault in a VMA armed by a uffd (exceptions:page_fault_user). */
struct uscope_fault {
	struct uscope_header h;
	__u64 address;
	__u64 ip;
	__u64 error_code;
	__u64 uffd; /* struct userfaultfd_ctx * of the VMA */
	__u64 vm_flags;
	__u64 vma_start;
	__u64 vma_end;
	__u32 ctx_features; /* ctx->features when the fault entered */
	__u16 armed;        /* USCOPE_ARMED_* */
	__u16 pad;
};

/* The faulting thread went to sleep inside handle_userfault(). */
struct uscope_block {
	struct uscope_header h;
	__u64 address;
	__u64 uffd;
	__u64 fault_ts_ns;
	__u64 prev_state;
	__u32 how; /* USCOPE_BLOCK_* */
	__u32 nblocks; /* 1 for the first wait of this fault, 2+ for re-waits */
};

/* A blocked faulting thread is being woken. The header is the WAKER. */
struct uscope_wake {
	struct uscope_header h;
	__u64 address;
	__u64 uffd;
	__u64 fault_ts_ns;
	__u32 target_pid;
	__u32 target_tid;
};

/* A woken faulting thread is back on a CPU. The header is that thread. */
struct uscope_resume {
	struct uscope_header h;
	__u64 address;
	__u64 uffd;
	__u64 fault_ts_ns;
	__u64 wake_ts_ns;
	__u32 waker_tid;
	__u32 pad;
};

/* An ioctl on a uffd (type 0xAA). ENTER carries the argument struct as the
 * caller passed it; EXIT carries it as the kernel left it (copy/zeropage/
 * continue/move results, API-granted features) plus the return value. */
struct uscope_ioctl {
	struct uscope_header h;
	__u64 uffd;
	__u64 cmd;
	__u64 arg_ptr;
	__u64 arg[USCOPE_IOCTL_ARG_WORDS];
	__u64 enter_ts_ns; /* == h.ts_ns on ENTER */
	__s64 ret;         /* 0 on ENTER */
	__u32 fd;
	__u32 ctx_features; /* ctx->features at this point */
	__u32 arg_read_ok;  /* 1 when arg[] could be read from user memory */
	__u32 pad;
};

/* One struct uffd_msg returned by read() on a uffd. */
struct uscope_msg {
	struct uscope_header h;
	__u64 uffd;
	__u64 read_enter_ts_ns;
	__u8 event; /* UFFD_EVENT_* */
	__u8 pad8[3];
	__u32 fd;
	__u32 index;   /* position of the message within its read() */
	__u32 in_read; /* messages returned by that read() */
	__u64 body[3]; /* the uffd_msg union, raw: pagefault {flags, address, ptid} ... */
};

/* A uffd was created (or an attempt failed: ret < 0). */
struct uscope_uffd_create {
	struct uscope_header h;
	__u64 uffd; /* 0 when creation failed */
	__s64 ret;  /* new fd, or -errno */
	__u64 flags;
	__u32 source; /* USCOPE_CREATE_* */
	__u32 pad;
};

/* close() of a uffd fd (the context lives on while other fds/dups remain). */
struct uscope_uffd_close {
	struct uscope_header h;
	__u64 uffd;
	__u32 fd;
	__u32 pad;
};

/* Process events for traced processes: follow children, names, exits. */
struct uscope_proc {
	struct uscope_header h;
	__u32 kind; /* USCOPE_PROC_* */
	__u32 other_pid; /* FORK: child pid; EXIT: exit code */
	__u32 other_tid; /* FORK: child tid */
	__u32 pad;
};

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
	__u32 pad;
};

#endif /* UFFDSCOPE_ABI1_H */
