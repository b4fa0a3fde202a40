// The DAC permission check of fs/namei.c (generic_permission) as it applies to mqueue
// inodes (regular files) and the mqueue root directory, including the capability
// overrides (spec §3.6, §4) and the sticky-directory deletion rule (may_delete).
#ifndef MQSENTRY_KERNEL_PERMISSION_H_
#define MQSENTRY_KERNEL_PERMISSION_H_

#include <cstdint>

#include "kernel/credentials.h"
#include "kernel/ids.h"

namespace mqsentry::kernel {

inline constexpr int kMayExec = 1;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayRead = 4;

struct InodeOwnership {
  KUid uid;
  KGid gid;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  bool is_directory = false;
};

// generic_permission(): 0 if `mask` (kMay*) is granted, else EACCES.
// Owner class if fsuid == uid, else group class if InGroup(gid), else other; the first
// class that matches decides. Then CAP_DAC_OVERRIDE (regular files: unless exec is asked
// and no x bit is set; directories: always) and CAP_DAC_READ_SEARCH (read only; for
// directories also search), both via CapableWrtInode.
int GenericPermission(const Credentials& cred, const InodeOwnership& inode, int mask);

// The sticky-bit part of may_delete() (check_sticky): 0 if `cred` may remove an entry
// owned by `victim` from directory `dir`, else EPERM. Allowed if the directory is not
// sticky, fsuid owns the entry or the directory, or CAP_FOWNER wrt the entry's ids.
int CheckSticky(const Credentials& cred, const InodeOwnership& dir, const InodeOwnership& victim);

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_PERMISSION_H_
