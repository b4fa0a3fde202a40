// Framing, record order and the streaming reader's early bounds (see stream.h). Message
// chunks are encoded by hand in protobuf's wire format (what MessageChunk's own serializer
// writes), so that payloads are copied once, straight into the record.
#include "ipc/checkpoint/stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/message_lite.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/crc32c.h"
#include "kernel/abi.h"
#include "kernel/status_macros.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace pb = ::mqsentry::checkpoint;
namespace abi = ::mqsentry::kernel::abi;

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

void PutVarint(std::string& out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, static_cast<size_t>(n));
}
size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

const char* TypeName(uint32_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kSandboxInfo: return "sandbox info";
    case RecordType::kUserNamespace: return "user namespace";
    case RecordType::kIpcNamespace: return "IPC namespace";
    case RecordType::kQueue: return "queue";
    case RecordType::kMessages: return "messages";
    case RecordType::kAccounting: return "accounting";
    case RecordType::kEnd: return "end";
  }
  return "unknown";
}

class Writer {
 public:
  explicit Writer(ByteSink& sink) : sink_(sink) {}

  absl::Status Header() {
    char header[kFileHeaderBytes];
    std::memcpy(header, kFileMagic.data(), kFileMagic.size());
    PutU32(header + 8, kFileVersion);
    PutU32(header + 12, Crc32c(std::string_view(header, 12)));
    return sink_.Write(std::string_view(header, sizeof header));
  }

  absl::Status Proto(RecordType type, const google::protobuf::MessageLite& m) {
    scratch_.clear();
    m.AppendToString(&scratch_);
    if (scratch_.size() > kMaxRecordBytes) {
      return absl::InvalidArgumentError(absl::StrCat(TypeName(static_cast<uint32_t>(type)),
                                                     " record of ", scratch_.size(),
                                                     " bytes > limit ", kMaxRecordBytes));
    }
    RETURN_IF_ERROR(Begin(type, scratch_.size()));
    RETURN_IF_ERROR(Piece(scratch_));
    return End();
  }

  // The messages of one queue, in chunks of about kChunkTargetBytes, in MessageChunk's wire
  // format: per message, field 1 (length-delimited) holding priority (field 1, varint,
  // omitted when 0) and payload (field 2, omitted when empty), as protobuf writes them.
  absl::Status Messages(const std::vector<state::MessageState>& messages) {
    size_t i = 0;
    while (i < messages.size()) {
      // The chunk's extent and length first: the length leads the record.
      size_t end = i, payload = 0, length = 0;
      do {
        const state::MessageState& m = messages[end++];
        const size_t inner = InnerSize(m);
        length += 1 + VarintSize(inner) + inner;
        payload += m.payload.size();
      } while (end < messages.size() && payload + messages[end].payload.size() <= kChunkTargetBytes);
      RETURN_IF_ERROR(Begin(RecordType::kMessages, length));
      for (; i < end; ++i) {
        const state::MessageState& m = messages[i];
        scratch_.clear();
        scratch_.push_back('\x0a');
        PutVarint(scratch_, InnerSize(m));
        if (m.priority != 0) {
          scratch_.push_back('\x08');
          PutVarint(scratch_, m.priority);
        }
        if (!m.payload.empty()) {
          scratch_.push_back('\x12');
          PutVarint(scratch_, m.payload.size());
        }
        RETURN_IF_ERROR(Piece(scratch_));
        RETURN_IF_ERROR(Piece(m.payload));
      }
      RETURN_IF_ERROR(End());
    }
    return absl::OkStatus();
  }

  absl::Status Finish() { return sink_.Flush(); }

 private:
  static size_t InnerSize(const state::MessageState& m) {
    size_t inner = 0;
    if (m.priority != 0) inner += 1 + VarintSize(m.priority);
    if (!m.payload.empty()) inner += 1 + VarintSize(m.payload.size()) + m.payload.size();
    return inner;
  }

  absl::Status Begin(RecordType type, size_t length) {
    char header[kRecordHeaderBytes];
    PutU32(header, static_cast<uint32_t>(length));
    PutU32(header + 4, static_cast<uint32_t>(type));
    crc_ = Crc32c(std::string_view(header, sizeof header));
    return sink_.Write(std::string_view(header, sizeof header));
  }
  absl::Status Piece(std::string_view bytes) {
    if (bytes.empty()) return absl::OkStatus();
    crc_ = Crc32cExtend(crc_, bytes);
    return sink_.Write(bytes);
  }
  absl::Status End() {
    char trailer[kRecordTrailerBytes];
    PutU32(trailer, crc_);
    return sink_.Write(std::string_view(trailer, sizeof trailer));
  }

  ByteSink& sink_;
  std::string scratch_;
  uint32_t crc_ = 0;
};

absl::Status WriteAll(const state::SandboxState& s, const SandboxInfo& info, ByteSink& sink) {
  Writer w(sink);
  RETURN_IF_ERROR(w.Header());
  pb::SandboxInfo pi;
  pi.set_own_ipc_namespace(info.own_ipc_namespace);
  pi.set_program(info.program);
  pi.set_taken_at_unix(info.taken_at_unix);
  pi.set_live(info.live);
  RETURN_IF_ERROR(w.Proto(RecordType::kSandboxInfo, pi));
  pb::EndRecord end;
  for (const state::UserNamespaceState& u : s.user_namespaces) {
    RETURN_IF_ERROR(w.Proto(RecordType::kUserNamespace, UserNamespaceToProto(u)));
  }
  end.set_user_namespaces(s.user_namespaces.size());
  for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
    RETURN_IF_ERROR(w.Proto(RecordType::kIpcNamespace, IpcNamespaceToProto(ipc)));
    for (const state::QueueState& q : ipc.queues) {
      pb::QueueRecord r;
      *r.mutable_queue() = QueueToProto(q);
      uint64_t bytes = 0;
      for (const state::MessageState& m : q.messages) bytes += m.payload.size();
      r.set_message_count(static_cast<uint32_t>(q.messages.size()));
      r.set_payload_bytes(bytes);
      RETURN_IF_ERROR(w.Proto(RecordType::kQueue, r));
      RETURN_IF_ERROR(w.Messages(q.messages));
      end.set_queues(end.queues() + 1);
      end.set_messages(end.messages() + q.messages.size());
      end.set_payload_bytes(end.payload_bytes() + bytes);
    }
  }
  end.set_ipc_namespaces(s.ipc_namespaces.size());
  for (const state::AccountingEntry& e : s.accounting) {
    pb::AccountingEntry pe;
    pe.set_user_ns(e.user_ns);
    pe.set_uid(e.uid);
    pe.set_bytes(e.bytes);
    RETURN_IF_ERROR(w.Proto(RecordType::kAccounting, pe));
  }
  end.set_accounting_entries(s.accounting.size());
  RETURN_IF_ERROR(w.Proto(RecordType::kEnd, end));
  return w.Finish();
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

// A varint of at most 10 bytes from `p`; false if it runs past the end or is longer.
bool ReadVarint(std::string_view& p, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70 && !p.empty(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(p.front());
    p.remove_prefix(1);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// A length-delimited field's bytes.
bool ReadBytes(std::string_view& p, std::string_view& out) {
  uint64_t n = 0;
  if (!ReadVarint(p, n) || n > p.size()) return false;
  out = p.substr(0, n);
  p.remove_prefix(n);
  return true;
}

// MessageChunk's wire format, strictly: only its known fields, each with its own wire
// type; priority must fit 32 bits. `visit(priority, payload)` per message, in order.
template <typename Visit>
absl::Status ParseChunk(std::string_view p, Visit visit) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("message chunk: ", what));
  };
  while (!p.empty()) {
    uint64_t tag = 0;
    if (!ReadVarint(p, tag)) return bad("truncated tag");
    if (tag != 0x0a) return bad(absl::StrCat("unknown field number ", tag >> 3, " (wire type ", tag & 7, ")"));
    std::string_view m;
    if (!ReadBytes(p, m)) return bad("message length past the end of the record");
    uint64_t priority = 0;
    std::string_view payload;
    while (!m.empty()) {
      if (!ReadVarint(m, tag)) return bad("truncated tag in a message");
      if (tag == 0x08) {
        if (!ReadVarint(m, priority)) return bad("truncated priority");
        if (priority > UINT32_MAX) return bad(absl::StrCat("priority ", priority, " > 2^32-1"));
      } else if (tag == 0x12) {
        if (!ReadBytes(m, payload)) return bad("payload length past the end of its message");
      } else {
        return bad(absl::StrCat("unknown field number ", tag >> 3, " (wire type ", tag & 7,
                                ") in a message"));
      }
    }
    RETURN_IF_ERROR(visit(static_cast<uint32_t>(priority), payload));
  }
  return absl::OkStatus();
}

class Reader {
 public:
  explicit Reader(ByteSource& source) : source_(source) {}

  absl::StatusOr<CheckpointFile> Read() {
    RETURN_IF_ERROR(ReadHeader());
    while (true) {
      const uint64_t record_offset = offset_;
      char header[kRecordHeaderBytes];
      ASSIGN_OR_RETURN(size_t got, ReadFully(header, sizeof header));
      if (got == 0) {
        if (phase_ == Phase::kDone) break;
        return Error(record_offset, "the file ends before its end record (truncated)");
      }
      if (got < sizeof header) {
        return Error(record_offset, absl::StrCat("truncated record header (", got, " of ",
                                                 kRecordHeaderBytes, " bytes)"));
      }
      if (phase_ == Phase::kDone) {
        return Error(record_offset, "data after the end record");
      }
      const uint32_t length = GetU32(header);
      type_ = GetU32(header + 4);
      ++record_;
      if (length > kMaxRecordBytes) {
        return Error(record_offset, absl::StrCat("record length ", length, " > limit ",
                                                 kMaxRecordBytes, " (damaged or hostile)"));
      }
      std::string_view payload;
      if (std::optional<std::string_view> view = source_.View(length); view.has_value()) {
        payload = *view;
        offset_ += payload.size();
      } else {
        payload_.resize(length);
        ASSIGN_OR_RETURN(size_t n, ReadFully(payload_.data(), length));
        payload = std::string_view(payload_).substr(0, n);
      }
      if (payload.size() < length) {
        return Error(record_offset, absl::StrCat("truncated: the record holds ", length,
                                                 " bytes, the file only ", payload.size(),
                                                 " more"));
      }
      // The CRC is checked before anything looks at the payload.
      const uint32_t crc = Crc32cExtend(Crc32c(std::string_view(header, 8)), payload);
      char trailer[kRecordTrailerBytes];
      ASSIGN_OR_RETURN(got, ReadFully(trailer, sizeof trailer));
      if (got < sizeof trailer) {
        return Error(record_offset, "truncated: the record's CRC-32C is missing");
      }
      const uint32_t stored_crc = GetU32(trailer);
      if (crc != stored_crc) {
        return Error(record_offset,
                     absl::StrFormat("CRC-32C 0x%08x, the record's bytes give 0x%08x (damaged)",
                                     stored_crc, crc));
      }
      current_ = payload;
      if (absl::Status s = Record(); !s.ok()) return Error(record_offset, s.message());
    }
    RETURN_IF_ERROR(ValidateSandboxState(file_.state));
    file_.file_bytes = offset_;
    file_.records = record_;
    return std::move(file_);
  }

 private:
  enum class Phase { kInfo, kUserNamespaces, kIpcNamespaces, kAccounting, kDone };

  absl::Status Error(uint64_t offset, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", offset, " (record ", record_, ", ", TypeName(type_), "): ", what));
  }

  absl::StatusOr<size_t> ReadFully(char* buffer, size_t n) {
    ASSIGN_OR_RETURN(size_t got, source_.Read(buffer, n));
    offset_ += got;
    return got;
  }

  absl::Status ReadHeader() {
    char header[kFileHeaderBytes];
    ASSIGN_OR_RETURN(size_t got, ReadFully(header, sizeof header));
    if (got == 0) return absl::InvalidArgumentError("empty file: not a checkpoint");
    if (got < kFileMagic.size() || std::string_view(header, 8) != kFileMagic) {
      return absl::InvalidArgumentError(absl::StrCat(
          "offset 0: magic \"", absl::CHexEscape(absl::string_view(header, std::min<size_t>(got, 8))),
          "\" is not \"MQCKPT\\r\\n\": not an mqsentry checkpoint"));
    }
    if (got < sizeof header) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset 0: truncated file header (", got, " of ", kFileHeaderBytes,
                       " bytes)"));
    }
    const uint32_t version = GetU32(header + 8);
    const uint32_t crc = Crc32c(std::string_view(header, 12));
    if (crc != GetU32(header + 12)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "offset 12: file header CRC-32C 0x%08x, its bytes give 0x%08x (damaged)",
          GetU32(header + 12), crc));
    }
    if (version < kOldestFileVersion || version > kFileVersion) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset 8: format version ", version, " is not supported (this build "
                       "reads versions ", kOldestFileVersion, " to ", kFileVersion,
                       version > kFileVersion ? "; written by a newer mqsentry)" : ")"));
    }
    file_.version = version;
    return absl::OkStatus();
  }

  template <typename M>
  absl::Status Parse(M& m) {
    if (!m.ParseFromArray(current_.data(), static_cast<int>(current_.size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(current_.size(), " bytes that do not parse as a ", TypeName(type_),
                       " record"));
    }
    return absl::OkStatus();
  }

  absl::Status Expect(bool ok, absl::string_view what) {
    return ok ? absl::OkStatus()
              : absl::InvalidArgumentError(absl::StrCat("out of order: ", what));
  }

  // The queue whose messages are being read, if any, is complete.
  absl::Status CloseQueue() {
    if (queue_ == nullptr) return absl::OkStatus();
    if (queue_->messages.size() != want_messages_ || bytes_ != want_bytes_) {
      return absl::InvalidArgumentError(absl::StrCat(
          queue_path_, ": ", queue_->messages.size(), " messages of ", bytes_,
          " bytes before the next record, its queue record declared ", want_messages_, " of ",
          want_bytes_));
    }
    queue_ = nullptr;
    return absl::OkStatus();
  }

  absl::Status Record() {
    state::SandboxState& s = file_.state;
    switch (static_cast<RecordType>(type_)) {
      case RecordType::kSandboxInfo: {
        RETURN_IF_ERROR(Expect(phase_ == Phase::kInfo, "sandbox info must be the first record"));
        pb::SandboxInfo p;
        RETURN_IF_ERROR(Parse(p));
        RETURN_IF_ERROR(CheckNoUnknownFields("sandbox_info", p));
        if (p.program().size() > 4096) {
          return absl::InvalidArgumentError(
              absl::StrCat("sandbox_info: program is ", p.program().size(), " bytes > 4096"));
        }
        file_.info = SandboxInfo{p.own_ipc_namespace(), p.program(), p.taken_at_unix(), p.live()};
        phase_ = Phase::kUserNamespaces;
        return absl::OkStatus();
      }
      case RecordType::kUserNamespace: {
        RETURN_IF_ERROR(Expect(phase_ == Phase::kUserNamespaces,
                               "user namespaces come right after the sandbox info"));
        if (s.user_namespaces.size() >= kMaxUserNamespaces) {
          return absl::InvalidArgumentError(
              absl::StrCat("user_namespaces: more than ", kMaxUserNamespaces));
        }
        pb::UserNamespace p;
        RETURN_IF_ERROR(Parse(p));
        ASSIGN_OR_RETURN(state::UserNamespaceState u,
                         UserNamespaceFromProto(
                             absl::StrCat("user_namespaces[", s.user_namespaces.size(), "]"), p));
        s.user_namespaces.push_back(std::move(u));
        return absl::OkStatus();
      }
      case RecordType::kIpcNamespace: {
        RETURN_IF_ERROR(Expect((phase_ == Phase::kUserNamespaces && !s.user_namespaces.empty()) ||
                                   phase_ == Phase::kIpcNamespaces,
                               "an IPC namespace before any user namespace or after accounting"));
        RETURN_IF_ERROR(CloseQueue());
        if (s.ipc_namespaces.size() >= kMaxIpcNamespaces) {
          return absl::InvalidArgumentError(
              absl::StrCat("ipc_namespaces: more than ", kMaxIpcNamespaces));
        }
        pb::IpcNamespace p;
        RETURN_IF_ERROR(Parse(p));
        ASSIGN_OR_RETURN(
            state::IpcNamespaceState ipc,
            IpcNamespaceFromProto(absl::StrCat("ipc_namespaces[", s.ipc_namespaces.size(), "]"),
                                  p));
        s.ipc_namespaces.push_back(std::move(ipc));
        phase_ = Phase::kIpcNamespaces;
        return absl::OkStatus();
      }
      case RecordType::kQueue: {
        RETURN_IF_ERROR(
            Expect(phase_ == Phase::kIpcNamespaces, "a queue outside any IPC namespace"));
        RETURN_IF_ERROR(CloseQueue());
        if (++queues_ > kMaxQueues) {
          return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxQueues, " queues"));
        }
        state::IpcNamespaceState& ipc = s.ipc_namespaces.back();
        queue_path_ = absl::StrCat("ipc_namespaces[", s.ipc_namespaces.size() - 1, "].queues[",
                                   ipc.queues.size(), "]");
        pb::QueueRecord p;
        RETURN_IF_ERROR(Parse(p));
        RETURN_IF_ERROR(CheckNoUnknownFields(queue_path_, p));
        if (!p.has_queue()) {
          return absl::InvalidArgumentError(absl::StrCat(queue_path_, ": queue is missing"));
        }
        if (p.queue().messages_size() != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(queue_path_, ": messages inside the queue record"));
        }
        if (p.queue().has_times() && file_.version < 2) {
          return absl::InvalidArgumentError(absl::StrCat(
              queue_path_, ": times in a format version ", file_.version,
              " file (they were added in version 2)"));
        }
        ASSIGN_OR_RETURN(state::QueueState q, QueueFromProto(queue_path_, p.queue()));
        // Bounds before the chunks arrive, so that memory follows what was declared.
        if (q.maxmsg < 1 || q.maxmsg > abi::kHardMsgMax) {
          return absl::InvalidArgumentError(absl::StrCat(queue_path_, ": maxmsg ", q.maxmsg,
                                                         " is outside 1..", abi::kHardMsgMax,
                                                         " (HARD_MSGMAX)"));
        }
        if (q.msgsize < 1 || q.msgsize > abi::kHardMsgSizeMax) {
          return absl::InvalidArgumentError(absl::StrCat(queue_path_, ": msgsize ", q.msgsize,
                                                         " is outside 1..", abi::kHardMsgSizeMax,
                                                         " (HARD_MSGSIZEMAX)"));
        }
        if (p.message_count() > static_cast<uint64_t>(q.maxmsg)) {
          return absl::InvalidArgumentError(absl::StrCat(queue_path_, ": message_count ",
                                                         p.message_count(), " > maxmsg ",
                                                         q.maxmsg));
        }
        if (p.payload_bytes() > uint64_t{p.message_count()} * static_cast<uint64_t>(q.msgsize)) {
          return absl::InvalidArgumentError(absl::StrCat(
              queue_path_, ": payload_bytes ", p.payload_bytes(), " > message_count ",
              p.message_count(), " x msgsize ", q.msgsize));
        }
        ipc.queues.push_back(std::move(q));
        queue_ = &ipc.queues.back();
        queue_->messages.reserve(p.message_count());
        want_messages_ = p.message_count();
        want_bytes_ = p.payload_bytes();
        bytes_ = 0;
        return absl::OkStatus();
      }
      case RecordType::kMessages: {
        if (queue_ == nullptr) {
          return absl::InvalidArgumentError("out of order: messages outside any queue");
        }
        const size_t before = queue_->messages.size();
        RETURN_IF_ERROR(ParseChunk(current_, [&](uint32_t priority, std::string_view payload) {
          const std::string path =
              absl::StrCat(queue_path_, ".messages[", queue_->messages.size(), "]");
          if (queue_->messages.size() >= want_messages_) {
            return absl::InvalidArgumentError(
                absl::StrCat(path, ": more messages than the ", want_messages_, " declared"));
          }
          if (payload.size() > static_cast<uint64_t>(queue_->msgsize)) {
            return absl::InvalidArgumentError(absl::StrCat(path, ": payload is ", payload.size(),
                                                           " bytes > msgsize ", queue_->msgsize));
          }
          bytes_ += payload.size();
          queue_->messages.push_back(state::MessageState{priority, std::string(payload)});
          return absl::OkStatus();
        }));
        if (queue_->messages.size() == before) {
          return absl::InvalidArgumentError(absl::StrCat(queue_path_, ": empty message chunk"));
        }
        return absl::OkStatus();
      }
      case RecordType::kAccounting: {
        RETURN_IF_ERROR(Expect(phase_ == Phase::kUserNamespaces || phase_ == Phase::kIpcNamespaces ||
                                   phase_ == Phase::kAccounting,
                               "accounting before the user namespaces"));
        RETURN_IF_ERROR(CloseQueue());
        // Each queue's charge reaches at most 34 counters.
        if (s.accounting.size() >= 34 * queues_ + 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "accounting: more than ", 34 * queues_ + 1, " entries for ", queues_, " queues"));
        }
        pb::AccountingEntry p;
        RETURN_IF_ERROR(Parse(p));
        RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat("accounting[", s.accounting.size(), "]"), p));
        s.accounting.push_back(state::AccountingEntry{p.user_ns(), p.uid(), p.bytes()});
        phase_ = Phase::kAccounting;
        return absl::OkStatus();
      }
      case RecordType::kEnd: {
        RETURN_IF_ERROR(Expect(phase_ != Phase::kInfo, "end record before the sandbox info"));
        RETURN_IF_ERROR(CloseQueue());
        pb::EndRecord p;
        RETURN_IF_ERROR(Parse(p));
        RETURN_IF_ERROR(CheckNoUnknownFields("end", p));
        uint64_t messages = 0, bytes = 0;
        for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
          for (const state::QueueState& q : ipc.queues) {
            messages += q.messages.size();
            for (const state::MessageState& m : q.messages) bytes += m.payload.size();
          }
        }
        const std::pair<const char*, std::pair<uint64_t, uint64_t>> totals[] = {
            {"user_namespaces", {p.user_namespaces(), s.user_namespaces.size()}},
            {"ipc_namespaces", {p.ipc_namespaces(), s.ipc_namespaces.size()}},
            {"queues", {p.queues(), queues_}},
            {"messages", {p.messages(), messages}},
            {"payload_bytes", {p.payload_bytes(), bytes}},
            {"accounting_entries", {p.accounting_entries(), s.accounting.size()}},
        };
        for (const auto& [name, v] : totals) {
          if (v.first != v.second) {
            return absl::InvalidArgumentError(absl::StrCat("end: ", name, " ", v.first,
                                                           " but the file holds ", v.second,
                                                           " (records missing or added)"));
          }
        }
        phase_ = Phase::kDone;
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("record type ", type_, " is unknown (written by a newer mqsentry?)"));
  }

  ByteSource& source_;
  uint64_t offset_ = 0;
  uint64_t record_ = 0;
  uint32_t type_ = 0;
  std::string payload_;           // the record being read, unless the source lends it
  std::string_view current_;      // its payload, CRC checked
  Phase phase_ = Phase::kInfo;
  CheckpointFile file_;
  state::QueueState* queue_ = nullptr;
  std::string queue_path_;
  uint64_t want_messages_ = 0;
  uint64_t want_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t queues_ = 0;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

absl::Status FdSink::Write(std::string_view bytes) {
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    buffer_.append(bytes);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Flush());
  if (bytes.size() < kBufferBytes / 2) {
    buffer_.append(bytes);
    return absl::OkStatus();
  }
  return WriteDirect(bytes);
}

absl::Status FdSink::Flush() {
  absl::Status s = WriteDirect(buffer_);
  buffer_.clear();
  return s;
}

absl::Status FdSink::WriteDirect(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> StringSource::Read(char* buffer, size_t n) {
  const size_t got = std::min(n, bytes_.size());
  std::memcpy(buffer, bytes_.data(), got);
  bytes_.remove_prefix(got);
  return got;
}

std::optional<std::string_view> StringSource::View(size_t n) {
  const std::string_view out = bytes_.substr(0, n);
  bytes_.remove_prefix(out.size());
  return out;
}

absl::StatusOr<size_t> FdSource::Read(char* buffer, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd_, buffer + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

absl::Status WriteCheckpoint(const state::SandboxState& state, const SandboxInfo& info,
                             ByteSink& sink) {
  RETURN_IF_ERROR(ValidateSandboxState(state));
  return WriteAll(state, info, sink);
}

absl::Status WriteCheckpointUnvalidated(const state::SandboxState& state, const SandboxInfo& info,
                                        ByteSink& sink) {
  return WriteAll(state, info, sink);
}

absl::StatusOr<CheckpointFile> ReadCheckpoint(ByteSource& source) {
  return Reader(source).Read();
}

absl::StatusOr<std::string> EncodeCheckpointFile(const state::SandboxState& state,
                                                 const SandboxInfo& info) {
  std::string out;
  StringSink sink(&out);
  RETURN_IF_ERROR(WriteCheckpoint(state, info, sink));
  return out;
}

absl::StatusOr<CheckpointFile> DecodeCheckpointFile(std::string_view bytes) {
  StringSource source(bytes);
  return ReadCheckpoint(source);
}

absl::StatusOr<WriteStats> WriteCheckpointFileAtomicallyAt(int dir_fd, const std::string& name,
                                                           const state::SandboxState& state,
                                                           const SandboxInfo& info) {
  RETURN_IF_ERROR(ValidateSandboxState(state));
  // A name no one else uses: O_EXCL, retried on the (unlikely) collision.
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temp = absl::StrFormat(".%s.tmp-%d-%d-%d", name, ::getpid(), attempt,
                           std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
    fd = ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat(name, ": ", std::strerror(errno)));
    }
  }
  if (fd < 0) return absl::UnavailableError(absl::StrCat(name, ": no temporary file"));
  auto fail = [&](absl::string_view what) {
    ::close(fd);
    ::unlinkat(dir_fd, temp.c_str(), 0);
    return absl::UnavailableError(absl::StrCat(name, ": ", what));
  };
  WriteStats stats;
  auto start = std::chrono::steady_clock::now();
  FdSink sink(fd);
  if (absl::Status s = WriteAll(state, info, sink); !s.ok()) return fail(s.message());
  stats.write_seconds = Seconds(start);
  start = std::chrono::steady_clock::now();
  if (::fsync(fd) != 0) return fail(absl::StrCat("fsync: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) == 0) stats.bytes = static_cast<uint64_t>(st.st_size);
  ::close(fd);
  if (::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dir_fd, temp.c_str(), 0);
    return absl::UnavailableError(absl::StrCat(name, ": rename: ", std::strerror(err)));
  }
  (void)::fsync(dir_fd);  // the rename itself
  stats.fsync_seconds = Seconds(start);
  return stats;
}

absl::StatusOr<WriteStats> WriteCheckpointFileAtomically(const std::string& path,
                                                         const state::SandboxState& state,
                                                         const SandboxInfo& info) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return absl::UnavailableError(absl::StrCat(dir, ": ", std::strerror(errno)));
  absl::StatusOr<WriteStats> stats = WriteCheckpointFileAtomicallyAt(dir_fd, name, state, info);
  ::close(dir_fd);
  if (!stats.ok()) {
    return absl::Status(stats.status().code(), absl::StrCat(dir, "/", stats.status().message()));
  }
  return stats;
}

absl::StatusOr<CheckpointFile> ReadCheckpointFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  FdSource source(fd);
  absl::StatusOr<CheckpointFile> file = ReadCheckpoint(source);
  ::close(fd);
  if (!file.ok()) {
    return absl::Status(file.status().code(), absl::StrCat(path, ": ", file.status().message()));
  }
  return file;
}

}  // namespace mqsentry::ipc::checkpoint
