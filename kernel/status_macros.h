// RETURN_IF_ERROR / ASSIGN_OR_RETURN, named like Abseil's internal macros so that a later
// Abseil with absl/status/status_macros.h is a rename (Debian's 20220623 has none).
#ifndef MQSENTRY_KERNEL_STATUS_MACROS_H_
#define MQSENTRY_KERNEL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MQ_STATUS_CONCAT_INNER_(a, b) a##b
#define MQ_STATUS_CONCAT_(a, b) MQ_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status mq_status_ = (expr);                \
    if (!mq_status_.ok()) return mq_status_;           \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  MQ_ASSIGN_OR_RETURN_IMPL_(MQ_STATUS_CONCAT_(mq_statusor_, __LINE__), lhs, expr)

#define MQ_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()

#endif  // MQSENTRY_KERNEL_STATUS_MACROS_H_
