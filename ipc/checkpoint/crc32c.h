// CRC-32C (Castagnoli polynomial, reflected, as in iSCSI and ext4), with the SSE4.2 crc32
// instruction where the CPU has it: checkpoint files checksum every byte they hold, and a
// table-driven loop (about 0.5 GB/s) would be slower than the rest of the codec.
#ifndef MQSENTRY_IPC_CHECKPOINT_CRC32C_H_
#define MQSENTRY_IPC_CHECKPOINT_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace mqsentry::ipc::checkpoint {

// Continues a CRC: Crc32cExtend(Crc32cExtend(0, a), b) == Crc32cExtend(0, a + b).
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

// Crc32cExtend(0, data); Crc32c("123456789") is 0xe3069283.
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

}  // namespace mqsentry::ipc::checkpoint

#endif  // MQSENTRY_IPC_CHECKPOINT_CRC32C_H_
