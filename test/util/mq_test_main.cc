// main() for every mq syscall test binary: move into a fresh IPC namespace first, so each
// binary starts with default sysctls (§9.2) and no queues left behind by anything else,
// then run GoogleTest. Without CAP_SYS_ADMIN the tests run in the current namespace.
#include <sched.h>
#include <string.h>

#include <cstdio>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  if (unshare(CLONE_NEWIPC) != 0) {
    fprintf(stderr,
            "mq_test_main: unshare(CLONE_NEWIPC) failed (%s); running in the current "
            "IPC namespace\n",
            strerror(errno));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
