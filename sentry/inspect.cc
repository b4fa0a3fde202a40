#include "sentry/inspect.h"

#include <algorithm>
#include <ctime>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/restore_plan.h"
#include "ipc/checkpoint/stream.h"

namespace mqsentry::sentry {
namespace {

namespace cp = ::mqsentry::ipc::checkpoint;
namespace pb = ::mqsentry::checkpoint;
namespace st = ::mqsentry::ipc::state;

constexpr size_t kFirstBytes = 32;

std::string Time(int64_t unix) {
  if (unix == 0) return "unknown";
  const time_t t = static_cast<time_t>(unix);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// A queue file time: any value a checkpoint holds (years 1..9999), 0 included.
std::string FileTime(int64_t unix) {
  const time_t t = static_cast<time_t>(unix);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return absl::StrCat(unix);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string QueueTimes(const st::QueueState& q) {
  if (!q.times.has_value()) return "times not recorded (format version 1)";
  return absl::StrCat("atime ", FileTime(q.times->atime), "  mtime ", FileTime(q.times->mtime),
                      "  ctime ", FileTime(q.times->ctime), " UTC");
}

std::string Extents(const std::vector<kernel::IdMapExtent>& map) {
  std::vector<std::string> parts;
  for (const auto& e : map) parts.push_back(absl::StrCat(e.first, " ", e.lower_first, " ", e.count));
  return parts.empty() ? "(none)" : absl::StrJoin(parts, ", ");
}

uint64_t Bytes(const st::QueueState& q) {
  uint64_t n = 0;
  for (const auto& m : q.messages) n += m.payload.size();
  return n;
}

std::string FirstBytes(std::string_view payload) {
  std::string out = absl::StrCat("\"", absl::CHexEscape(absl::string_view(payload.data(), std::min<size_t>(payload.size(), kFirstBytes))), "\"");
  if (payload.size() > kFirstBytes) out += "...";
  return out;
}

struct Totals {
  uint64_t queues = 0, messages = 0, bytes = 0;
};

Totals Count(const st::SandboxState& s) {
  Totals t;
  for (const auto& ipc : s.ipc_namespaces) {
    for (const auto& q : ipc.queues) {
      ++t.queues;
      t.messages += q.messages.size();
      t.bytes += Bytes(q);
    }
  }
  return t;
}

void PrintText(const std::string& path, const cp::CheckpointFile& f, bool messages, FILE* out) {
  const st::SandboxState& s = f.state;
  const cp::RestorePlan plan = cp::PlanRestore(f);
  const Totals t = Count(s);
  absl::FPrintF(out, "checkpoint %s: format %d, %d bytes in %d records\n", path, f.version,
                f.file_bytes, f.records);
  absl::FPrintF(out, "taken %s (%s) from program %s\n", Time(f.info.taken_at_unix),
                f.info.live ? "live checkpoint" : "saved on exit",
                f.info.program.empty() ? "(unknown)" : absl::CHexEscape(f.info.program));
  absl::FPrintF(out, "%d IPC namespaces, %d queues, %d messages, %d bytes\n\n",
                s.ipc_namespaces.size(), t.queues, t.messages, t.bytes);
  absl::FPrintF(out, "------ User Namespaces --------\n");
  absl::FPrintF(out, "%-5s %-6s %-13s %-16s %s\n", "index", "parent", "owner", "rlimit_msgqueue",
                "uid_map / gid_map");
  for (size_t i = 0; i < s.user_namespaces.size(); ++i) {
    const auto& u = s.user_namespaces[i];
    absl::FPrintF(out, "%-5d %-6d %-13s %-16d %s / %s\n", i, u.parent,
                  absl::StrCat(u.owner_uid, ":", u.owner_gid), u.rlimit_msgqueue,
                  Extents(u.uid_map), Extents(u.gid_map));
  }
  for (const auto& ipc : s.ipc_namespaces) {
    const bool own = ipc.id == f.info.own_ipc_namespace;
    absl::FPrintF(out, "\n------ IPC Namespace %d%s --------\n", ipc.id,
                  own ? " (the sandbox's own)" : " (nested)");
    absl::FPrintF(out,
                  "owner user namespace %d, mqueue root %d:%d\nqueues_max %d  msg_max %d  "
                  "msgsize_max %d  msg_default %d  msgsize_default %d\n",
                  ipc.owner_user_ns, ipc.root_uid, ipc.root_gid, ipc.sysctls.queues_max,
                  ipc.sysctls.msg_max, ipc.sysctls.msgsize_max, ipc.sysctls.msg_default,
                  ipc.sysctls.msgsize_default);
    absl::FPrintF(out, "%-8s %-24s %-13s %-6s %-7s %-8s %-9s %-10s %s\n", "id", "name", "owner",
                  "perms", "maxmsg", "msgsize", "messages", "bytes", "notify");
    for (const auto& q : ipc.queues) {
      std::string notify = "-";
      if (q.notification.has_value()) {
        notify = absl::StrCat(q.notification->notify == 0   ? "signal "
                              : q.notification->notify == 1 ? "none "
                                                            : "thread ",
                              q.notification->owner_host_tgid);
      }
      absl::FPrintF(out, "%-8d %-24s %-13s %-6s %-7d %-8d %-9d %-10d %s\n", q.id,
                    q.name ? cp::QueueDisplayName(q) : "(unlinked)",
                    absl::StrCat(q.uid, ":", q.gid), absl::StrFormat("%04o", q.mode), q.maxmsg,
                    q.msgsize, q.messages.size(), Bytes(q), notify);
      absl::FPrintF(out, "         %s\n", QueueTimes(q));
      if (messages) {
        for (size_t m = 0; m < q.messages.size(); ++m) {
          absl::FPrintF(out, "    [%d] prio %d size %d %s\n", m, q.messages[m].priority,
                        q.messages[m].payload.size(), FirstBytes(q.messages[m].payload));
        }
      }
    }
  }
  absl::FPrintF(out, "\n------ RLIMIT_MSGQUEUE accounting --------\n");
  for (const auto& e : s.accounting) {
    absl::FPrintF(out, "user namespace %d uid %d: %d bytes\n", e.user_ns, e.uid, e.bytes);
  }
  absl::FPrintF(out, "\n------ Not restored by --restore --------\n");
  if (plan.not_restored.empty()) absl::FPrintF(out, "(nothing)\n");
  for (const std::string& line : plan.not_restored) absl::FPrintF(out, "%s\n", line);
}

absl::StatusOr<std::string> Json(const cp::CheckpointFile& f, bool messages) {
  const st::SandboxState& s = f.state;
  pb::Inspection in;
  in.set_format_version(f.version);
  in.set_file_bytes(f.file_bytes);
  in.set_records(f.records);
  pb::SandboxInfo* info = in.mutable_sandbox();
  info->set_own_ipc_namespace(f.info.own_ipc_namespace);
  info->set_program(f.info.program);
  info->set_taken_at_unix(f.info.taken_at_unix);
  info->set_live(f.info.live);
  for (const auto& u : s.user_namespaces) *in.add_user_namespaces() = cp::UserNamespaceToProto(u);
  pb::EndRecord* totals = in.mutable_totals();
  totals->set_user_namespaces(s.user_namespaces.size());
  totals->set_ipc_namespaces(s.ipc_namespaces.size());
  for (const auto& ipc : s.ipc_namespaces) {
    pb::InspectIpcNamespace* pi = in.add_ipc_namespaces();
    *pi->mutable_namespace_() = cp::IpcNamespaceToProto(ipc);
    pi->set_own(ipc.id == f.info.own_ipc_namespace);
    for (const auto& q : ipc.queues) {
      pb::InspectQueue* iq = pi->add_queues();
      iq->set_name(cp::QueueDisplayName(q));
      pb::QueueRecord* r = iq->mutable_record();
      *r->mutable_queue() = cp::QueueToProto(q);
      r->set_message_count(static_cast<uint32_t>(q.messages.size()));
      r->set_payload_bytes(Bytes(q));
      if (messages) {
        for (const auto& m : q.messages) {
          pb::Message* pm = r->mutable_queue()->add_messages();
          pm->set_priority(m.priority);
          pm->set_payload(m.payload.data(), m.payload.size());
        }
      }
      totals->set_queues(totals->queues() + 1);
      totals->set_messages(totals->messages() + q.messages.size());
      totals->set_payload_bytes(totals->payload_bytes() + Bytes(q));
    }
  }
  for (const auto& e : s.accounting) {
    pb::AccountingEntry* pe = in.add_accounting();
    pe->set_user_ns(e.user_ns);
    pe->set_uid(e.uid);
    pe->set_bytes(e.bytes);
  }
  totals->set_accounting_entries(s.accounting.size());
  for (const std::string& line : cp::PlanRestore(f).not_restored) in.add_not_restored(line);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(in, &json, options);
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  return json;
}

}  // namespace

int InspectMain(int argc, char** argv, FILE* out) {
  std::string path, format = "text";
  bool messages = false;
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "mqsentry inspect: %s\nusage: mqsentry inspect FILE "
                 "[--format=text|json] [--messages]\n", why.c_str());
    return 2;
  };
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--messages") {
      messages = true;
    } else if (a.rfind("--format=", 0) == 0) {
      format = a.substr(9);
    } else if (a == "--format") {
      if (++i >= argc) return usage("--format needs text or json");
      format = argv[i];
    } else if (a.rfind("--", 0) == 0) {
      return usage(absl::StrCat("unknown flag ", a));
    } else if (path.empty()) {
      path = a;
    } else {
      return usage("one file only");
    }
  }
  if (path.empty()) return usage("no file given");
  if (format != "text" && format != "json") return usage("--format is text or json");
  absl::StatusOr<cp::CheckpointFile> f = cp::ReadCheckpointFile(path);
  if (!f.ok()) {
    std::fprintf(stderr, "mqsentry: %s\n", std::string(f.status().message()).c_str());
    return 1;
  }
  if (format == "json") {
    absl::StatusOr<std::string> json = Json(*f, messages);
    if (!json.ok()) {
      std::fprintf(stderr, "mqsentry: %s\n", std::string(json.status().message()).c_str());
      return 1;
    }
    std::fputs(json->c_str(), out);
  } else {
    PrintText(path, *f, messages, out);
  }
  return std::fflush(out) == 0 ? 0 : 1;
}

}  // namespace mqsentry::sentry
