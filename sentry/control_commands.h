// `mqsentry list`, `mqsentry checkpoint`, and the running sandbox's side of them.
#ifndef MQSENTRY_SENTRY_CONTROL_COMMANDS_H_
#define MQSENTRY_SENTRY_CONTROL_COMMANDS_H_

#include <string>

#include "sentry/control.h"
#include "sentry/sentry.h"

namespace mqsentry::sentry {

// argv[1] is "list" / "checkpoint". Exit 0, or 1 with one line on stderr (2: usage).
int ListMain(int argc, char** argv);
int CheckpointMain(int argc, char** argv);

// Answers "info" (counts) and "checkpoint" (a live checkpoint streamed back after the
// calls resume) for `sentry`, whose program is `program`.
void ServeControl(ControlServer& server, Sentry& sentry, const std::string& program);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_CONTROL_COMMANDS_H_
