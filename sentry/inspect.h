// `mqsentry inspect FILE [--format=text|json] [--messages]`: a checkpoint file for people
// (text, in the manner of `crit decode` and `ipcs -q`) or programs (JSON, through
// protobuf's own printer). Exit 0 for a good file; 1 and one line on stderr for a bad one;
// 2 for a usage error.
#ifndef MQSENTRY_SENTRY_INSPECT_H_
#define MQSENTRY_SENTRY_INSPECT_H_

#include <cstdio>

namespace mqsentry::sentry {

// argv[0] is "mqsentry", argv[1] "inspect".
int InspectMain(int argc, char** argv, FILE* out);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_INSPECT_H_
