// Record-level surgery on checkpoint files for tests: split a file into its records, edit
// them, and write them back with fresh CRCs (a hostile writer's view).
#ifndef MQSENTRY_IPC_CHECKPOINT_STREAM_TESTING_H_
#define MQSENTRY_IPC_CHECKPOINT_STREAM_TESTING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/checkpoint/stream.h"

namespace mqsentry::ipc::checkpoint_testing {

struct Record {
  size_t offset = 0;  // of its frame in the file
  checkpoint::RecordType type{};
  uint32_t raw_type = 0;
  std::string payload;
};
using Records = std::vector<Record>;

// The records of a well-framed file (stops at the first frame that does not fit).
Records SplitRecords(std::string_view file);
// A file header for kFileVersion and the records, each with a correct CRC.
std::string Reseal(const Records& records);

}  // namespace mqsentry::ipc::checkpoint_testing

#endif  // MQSENTRY_IPC_CHECKPOINT_STREAM_TESTING_H_
