// Children that share the shim's memory. A vfork child runs on its parent's
// memory under its own pid until it execs or exits: it must not write the fd
// table, the cwd state or the IPC sockets (own_process() says so). Asking the
// kernel for the pid on every open and close cost two system calls per pair,
// so the shim counts instead:
// - vfork is wrapped: g_vforks_running counts the children now running on
//   this memory (the parent is suspended until its child has exec'd or exited;
//   its other threads go on and pay a getpid meanwhile).
// - clone(3) without CLONE_THREAD, and syscall(2) of fork, vfork, clone or
//   clone3, make children the shim cannot follow (a fork made this way skips
//   the atfork handler that renews g.pid): g_foreign_clones is then set for
//   good, and every own_process() asks for the pid, as before.
// glibc's posix_spawn, system and popen clone with CLONE_VM, but their child
// calls only glibc's internal functions, never the shim.
//
// Invariant: g_vforks_running is raised before the vfork system call and
// lowered by the parent when it returns, so it is non-zero whenever a vfork
// child may be running on this memory. Not covered: a program that makes the
// clone system call itself (inline assembly), as Go's runtime does; Go
// programs do their file calls the same way, out of the shim's sight anyway.
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>

#include "shim.h"

namespace vol::shim {

int g_vforks_running;
#if defined(__x86_64__)
int g_foreign_clones;
#else
int g_foreign_clones = 1;  // vfork is wrapped for x86_64 only: always ask for the pid
#endif

void note_foreign_clone() { __atomic_store_n(&g_foreign_clones, 1, __ATOMIC_RELEASE); }

}  // namespace vol::shim

using namespace vol::shim;

extern "C" long vol_vfork_failed(long neg_errno) {
  errno = (int)-neg_errno;
  return -1;
}

#if defined(__x86_64__)
static_assert(SYS_vfork == 58, "the vfork wrapper's system call number");
// As glibc's own vfork: the return address is kept in a register, because the
// child returns first and reuses the stack the parent returns through.
// %rdi survives the system call (only %rcx and %r11 do not).
// (pushsection/popsection: the compiler's idea of the current section stays
// true wherever it places this block.)
__asm__(
    ".pushsection .text\n"
    ".globl vfork\n"
    ".type vfork, @function\n"
    "vfork:\n"
    "  endbr64\n"
    "  lock addl $1, vol_shim_vforks_running(%rip)\n"
    "  popq %rdi\n"
    "  movl $58, %eax\n"  // SYS_vfork
    "  syscall\n"
    "  pushq %rdi\n"
    "  testq %rax, %rax\n"
    "  je 1f\n"  // the child: it still runs on this memory
    "  lock subl $1, vol_shim_vforks_running(%rip)\n"
    "  cmpq $-4095, %rax\n"
    "  jae 2f\n"
    "1:\n"
    "  ret\n"
    "2:\n"
    "  movq %rax, %rdi\n"
    "  jmp vol_vfork_failed\n"
    ".size vfork, .-vfork\n"
    ".popsection\n");
#endif

using clone_fn = int (*)(int (*)(void*), void*, int, void*, ...);
VOL_WRAPPER_T(int, clone, (int (*fn)(void*), void* stack, int flags, void* arg, ...), clone_fn) {
  va_list ap;
  va_start(ap, arg);
  // The optional arguments, passed on whether or not flags ask for them.
  void* ptid = va_arg(ap, void*);
  void* tls = va_arg(ap, void*);
  void* ctid = va_arg(ap, void*);
  va_end(ap);
  if (!(flags & CLONE_THREAD)) note_foreign_clone();
  return VOL_REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
}
