#!/usr/bin/env python3
"""A small mq client for the integration tests, through glibc (ctypes).

  mq_probe.py create NAME MAXMSG   mq_open(O_CREAT|O_EXCL, mq_maxmsg=MAXMSG, msgsize 16);
                                   prints "ok" or the errno name, exits 0 either way
  mq_probe.py open NAME            mq_open(O_RDONLY); prints "ok" or the errno name
  mq_probe.py notify NAME          registers SIGEV_SIGNAL (SIGUSR1), sends a message and
                                   prints "si_code=C si_pid=P si_uid=U pid=P uid=U" from
                                   the signal's siginfo; exit 0 if si_pid/si_uid are its own
"""
import ctypes
import ctypes.util
import errno
import os
import signal
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


class SigEvent(ctypes.Structure):  # struct sigevent, 64 bytes on x86-64
    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int),
                ("sigev_notify", ctypes.c_int), ("pad", ctypes.c_int * 12)]


SIGEV_SIGNAL = 0


def mq_create(name, maxmsg):
    attr = MqAttr(0, maxmsg, 16, 0)
    fd = libc.mq_open(name.encode(), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600,
                      ctypes.byref(attr))
    return fd, ctypes.get_errno()


def main(argv):
    if len(argv) == 4 and argv[1] == "create":
        fd, err = mq_create(argv[2], int(argv[3]))
        print("ok" if fd >= 0 else errno.errorcode.get(err, str(err)))
        if fd >= 0:
            libc.mq_unlink(argv[2].encode())
        return 0
    if len(argv) == 3 and argv[1] == "open":
        fd = libc.mq_open(argv[2].encode(), os.O_RDONLY)
        err = ctypes.get_errno()
        print("ok" if fd >= 0 else errno.errorcode.get(err, str(err)))
        return 0
    if len(argv) == 3 and argv[1] == "notify":
        fd, err = mq_create(argv[2], 4)
        if fd < 0:
            print("mq_open:", os.strerror(err))
            return 1
        libc.mq_unlink(argv[2].encode())
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        event = SigEvent(None, signal.SIGUSR1, SIGEV_SIGNAL)
        if libc.mq_notify(fd, ctypes.byref(event)) != 0:
            print("mq_notify:", os.strerror(ctypes.get_errno()))
            return 1
        if libc.mq_send(fd, b"x", 1, 0) != 0:
            print("mq_send:", os.strerror(ctypes.get_errno()))
            return 1
        info = signal.sigtimedwait([signal.SIGUSR1], 20)
        if info is None:
            print("no signal")
            return 1
        print("si_code=%d si_pid=%d si_uid=%d pid=%d uid=%d" %
              (info.si_code, info.si_pid, info.si_uid, os.getpid(), os.getuid()))
        return 0 if (info.si_pid, info.si_uid) == (os.getpid(), os.getuid()) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
