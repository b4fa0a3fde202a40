// Terminal input injection: a program that keeps a terminal (fd 0-2 of an interactive
// `mqsentry run`) could push characters into its input queue with ioctl(TIOCSTI) (or
// TIOCLINUX's paste on a virtual console), and the user's shell would run them after the
// sandbox ends: a way out through a kept descriptor that no check of the descriptor can
// close (the kernel allows TIOCSTI on one's controlling terminal unless
// dev.tty.legacy_tiocsti is 0). Like flatpak, the program gets EPERM for both, from a
// seccomp filter of its own (the command is in a register: no race).
#ifndef MQSENTRY_SENTRY_TTY_GUARD_H_
#define MQSENTRY_SENTRY_TTY_GUARD_H_

namespace mqsentry::sentry {

// In the program's process before its exec, after no_new_privs is set (init's filter
// set it). Raw system calls only. Returns 0 or an errno.
int InstallTtyInjectionGuard();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_TTY_GUARD_H_
