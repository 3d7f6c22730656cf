// Raw system calls for the shim's own use. They bypass libc entirely, so they
// never re-enter the shim's wrappers, never touch errno (a failure comes back
// as -errno), and are safe in a vfork child, before main and in any thread.
#ifndef VOL_SHIM_SYS_H_
#define VOL_SHIM_SYS_H_

#include <sys/syscall.h>

namespace vol::shim {

#if defined(__x86_64__)
inline long raw_syscall(long n, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                        long a5 = 0, long a6 = 0) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
inline long raw_syscall(long n, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                        long a5 = 0, long a6 = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "libvolshim: raw system calls are written for x86_64 and aarch64 only"
#endif

template <typename... A>
inline long sys(long n, A... a) {
  return raw_syscall(n, (long)a...);
}

inline int raw_getpid() { return (int)raw_syscall(SYS_getpid); }

}  // namespace vol::shim

#endif  // VOL_SHIM_SYS_H_
