// The x86 page-fault error code's bits that uffdscope reads (arch/x86/include/asm/trap_pf.h).

/** the page was present: a protection fault */
export const PF_PRESENT = 1;
/** the access was a write */
export const PF_WRITE = 2;
