// LiveIpcNamespaces: which IPC namespaces some task on the host is in now, from
// /proc/<pid>/task/<tid>/ns/ipc (every thread: unshare(CLONE_NEWIPC) is per thread).
//
// The namespace registry uses it to find namespaces that died (spec §9.3: a namespace
// dies when no task is in it; its state is then released). It holds the namespaces it
// knows open itself, so the kernel cannot tell it; a scan of the tasks can. A task that
// moves into a namespace while a scan runs (a fork whose parent exits at once) could be
// missed by one scan, so callers scan twice and trust only what both missed.
#ifndef MQSENTRY_SENTRY_LIVE_NAMESPACES_H_
#define MQSENTRY_SENTRY_LIVE_NAMESPACES_H_

#include "absl/container/flat_hash_set.h"
#include "sentry/identity.h"

namespace mqsentry::sentry {

// Tasks whose namespace links the supervisor may not read (another user's, outside the
// sandbox) are skipped: they cannot be in a namespace of the sandbox.
absl::flat_hash_set<NsId> LiveIpcNamespaces();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_LIVE_NAMESPACES_H_
