// MQ_LOG: one line to stderr for supervisor diagnostics (Debian's Abseil has no absl/log).
#ifndef MQSENTRY_SENTRY_LOG_H_
#define MQSENTRY_SENTRY_LOG_H_

#include <cstdio>

#include "absl/strings/str_cat.h"

#define MQ_LOG(...)                                                         \
  do {                                                                      \
    std::fprintf(stderr, "%s\n", ::absl::StrCat(__VA_ARGS__).c_str());      \
  } while (0)

#endif  // MQSENTRY_SENTRY_LOG_H_
