#include "ipc/checkpoint/stream_testing.h"

#include "ipc/checkpoint/crc32c.h"

namespace mqsentry::ipc::checkpoint_testing {
namespace {

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

Records SplitRecords(std::string_view file) {
  Records out;
  size_t at = checkpoint::kFileHeaderBytes;
  constexpr size_t kFraming = checkpoint::kRecordHeaderBytes + checkpoint::kRecordTrailerBytes;
  while (at + kFraming <= file.size()) {
    const uint32_t length = GetU32(file.data() + at);
    if (length > file.size() - at - kFraming) break;
    Record r;
    r.offset = at;
    r.raw_type = GetU32(file.data() + at + 4);
    r.type = static_cast<checkpoint::RecordType>(r.raw_type);
    r.payload = std::string(file.substr(at + checkpoint::kRecordHeaderBytes, length));
    out.push_back(std::move(r));
    at += kFraming + length;
  }
  return out;
}

std::string Reseal(const Records& records) {
  std::string out(checkpoint::kFileMagic);
  PutU32(out, checkpoint::kFileVersion);
  PutU32(out, checkpoint::Crc32c(out));
  for (const Record& r : records) {
    std::string head;
    PutU32(head, static_cast<uint32_t>(r.payload.size()));
    PutU32(head, r.raw_type);
    const uint32_t crc = checkpoint::Crc32cExtend(checkpoint::Crc32c(head), r.payload);
    out += head;
    out += r.payload;
    PutU32(out, crc);
  }
  return out;
}

}  // namespace mqsentry::ipc::checkpoint_testing
