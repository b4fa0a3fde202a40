// model_demo: the main job until the sandbox lands (issue 3). A producer and a consumer
// use one queue of the emulated kernel model, with priorities, a SIGEV_SIGNAL
// notification, a blocked receive served by direct hand-off, a full queue, and a
// checkpoint that is encoded, decoded, restored and drained. No host mqueue call is made:
// everything below is mqsentry's model (ipc/, kernel/, ipc/checkpoint/).
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "ipc/checkpoint/codec.h"
#include "ipc/ipc_namespace.h"
#include "ipc/queue.h"
#include "ipc/sandbox_snapshot.h"
#include "ipc/status_line.h"
#include "kernel/abi.h"
#include "kernel/credentials.h"
#include "kernel/syscall_result.h"

namespace mqsentry {
namespace {

namespace abi = kernel::abi;
using ipc::Queue;

// Prints what the sentry would deliver.
class PrintingEvents : public ipc::QueueEvents {
 public:
  void NotificationFired(const Queue&, const ipc::NotificationFiring& f) override {
    if (f.registration.notify != abi::kSigevSignal) {
      std::printf("  [notify] SIGEV_NONE registration of process %llu consumed, nothing sent\n",
                  static_cast<unsigned long long>(f.registration.owner.id));
      return;
    }
    std::printf("  [notify] signal %d to process %llu: si_code=SI_MESGQ si_pid=%d si_uid=%u\n",
                f.registration.signo,
                static_cast<unsigned long long>(f.registration.owner.id), f.sender.host_tgid,
                f.sender_uid.value());
  }
  void NotificationRemoved(const Queue&, const ipc::NotificationRegistration&) override {
    std::printf("  [notify] registration removed\n");
  }
  void PollWake(const Queue&) override {}
};

void Show(const char* what, const kernel::SyscallResult& r) {
  std::printf("%-44s = %s\n", what, r.ok() ? "ok" : r.ToString().c_str());
}

std::string StatusOf(const Queue& q) {
  ipc::QueueStatus s = q.Status();
  return ipc::FormatStatusLine(s.qsize, s.notify, s.signo,
                               s.notify_owner ? s.notify_owner_host_tgid : 0);
}

int Run() {
  PrintingEvents events;
  auto accounting = std::make_shared<ipc::UserAccounting>();
  ipc::IpcNamespace::Options options;
  options.id = 1;
  options.owner_user_ns = kernel::UserNamespace::Initial();
  options.limits = std::make_shared<ipc::StaticLimits>();
  options.accounting = accounting;
  options.events = &events;
  auto ns = std::make_shared<ipc::IpcNamespace>(std::move(options));

  kernel::Credentials producer = kernel::Credentials::User(1000, 1000);
  kernel::Credentials consumer = kernel::Credentials::User(1000, 1000);
  ipc::SenderIdentity producer_id{ipc::ProcessRef{1}, 101, producer.ruid};

  std::printf("== mq_open\n");
  abi::MqAttr attr{};
  attr.mq_maxmsg = 4;
  attr.mq_msgsize = 64;
  ipc::OpenOutcome w = ns->Open(producer, "orders", abi::kOWronly | abi::kOCreat, 0600, &attr);
  Show("producer mq_open(\"orders\", O_WRONLY|O_CREAT)", w.result);
  ipc::OpenOutcome r = ns->Open(consumer, "orders", abi::kORdonly, 0, nullptr);
  Show("consumer mq_open(\"orders\", O_RDONLY)", r.result);
  Show("stranger mq_open(\"orders\", O_RDONLY)",
       ns->Open(kernel::Credentials::User(2000, 2000), "orders", abi::kORdonly, 0, nullptr)
           .result);
  if (!w.result.ok() || !r.result.ok()) return 1;
  Queue& q = w.inode->queue();

  std::printf("== mq_notify + prioritised sends\n");
  ipc::NotificationRegistration reg;
  reg.owner = ipc::ProcessRef{2};
  reg.owner_host_tgid = 102;
  reg.owner_user_ns = consumer.user_ns;
  reg.notify = abi::kSigevSignal;
  reg.signo = SIGUSR1;
  Show("consumer mq_notify(SIGEV_SIGNAL, SIGUSR1)", q.RegisterNotification(reg));
  for (auto [prio, text] : {std::pair{1u, "low: restock"}, std::pair{9u, "urgent: refund"},
                            std::pair{5u, "normal: ship"}}) {
    ipc::SendRequest s;
    s.priority = prio;
    s.payload = text;
    s.sender = producer_id;
    std::string call = "producer mq_send(prio " + std::to_string(prio) + ")";
    Show(call.c_str(), q.Send(std::move(s)).result);
  }
  std::printf("  status line: %s", StatusOf(q).c_str());

  std::printf("== consumer drains: highest priority first\n");
  for (int i = 0; i < 3; ++i) {
    ipc::ReceiveRequest rr;
    rr.buffer_len = 64;
    ipc::ReceiveOutcome got = q.Receive(rr);
    std::printf("  mq_receive -> prio %u \"%s\"\n", got.message->priority,
                got.message->payload.str().c_str());
  }

  std::printf("== blocked receive, served by direct hand-off (no notification)\n");
  ipc::ReceiveRequest block;
  block.buffer_len = 64;
  block.tag = 7;
  ipc::ReceiveOutcome parked = q.Receive(block);
  std::printf("  consumer mq_receive parks: %s\n", parked.parked ? "yes" : "no");
  Show("consumer mq_notify(SIGEV_NONE)",
       q.RegisterNotification([&] {
         ipc::NotificationRegistration n = reg;
         n.notify = abi::kSigevNone;
         return n;
       }()));
  ipc::SendRequest h;
  h.priority = 3;
  h.payload = "handed over";
  h.sender = producer_id;
  ipc::SendOutcome handed = q.Send(std::move(h));
  if (handed.handoff) {
    std::printf("  producer mq_send hands \"%s\" to waiter tag %llu; queue stays empty\n",
                handed.handoff->message.payload.str().c_str(),
                static_cast<unsigned long long>(handed.handoff->receiver_tag));
  }

  std::printf("== a full queue\n");
  for (int i = 0; i < 4; ++i) {
    ipc::SendRequest s;
    s.priority = static_cast<uint32_t>(i);
    s.payload = "job " + std::to_string(i);
    s.sender = producer_id;
    q.Send(std::move(s));
  }
  ipc::SendRequest extra;
  extra.payload = "one too many";
  extra.nonblocking = true;
  Show("producer mq_send(O_NONBLOCK) on a full queue", q.Send(std::move(extra)).result);
  std::printf("  status line: %s", StatusOf(q).c_str());

  std::printf("== checkpoint and restore\n");
  ipc::state::SandboxState st = ipc::ExportSandbox(*accounting, {ns});
  absl::StatusOr<std::string> bytes = ipc::checkpoint::EncodeCheckpoint(st);
  if (!bytes.ok()) {
    std::fprintf(stderr, "encode: %s\n", bytes.status().ToString().c_str());
    return 1;
  }
  std::printf("  encoded %zu bytes\n", bytes->size());
  absl::StatusOr<ipc::state::SandboxState> decoded = ipc::checkpoint::DecodeCheckpoint(*bytes);
  if (!decoded.ok()) {
    std::fprintf(stderr, "decode: %s\n", decoded.status().ToString().c_str());
    return 1;
  }
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 0x5a;
  absl::StatusOr<ipc::state::SandboxState> bad = ipc::checkpoint::DecodeCheckpoint(damaged);
  std::printf("  a damaged copy decodes as: %s\n",
              bad.ok() ? "a valid (different) state" : bad.status().ToString().c_str());
  absl::StatusOr<ipc::ImportedSandbox> restored = ipc::ImportSandbox(*decoded, &events);
  if (!restored.ok()) {
    std::fprintf(stderr, "import: %s\n", restored.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<ipc::QueueInode> again = restored->namespaces[0]->Lookup("orders");
  std::printf("  restored \"orders\": %s", StatusOf(again->queue()).c_str());
  for (;;) {
    ipc::ReceiveRequest rr;
    rr.buffer_len = 64;
    rr.nonblocking = true;
    ipc::ReceiveOutcome got = again->queue().Receive(rr);
    if (!got.message) {
      Show("  mq_receive(O_NONBLOCK) on the drained copy", got.result);
      break;
    }
    std::printf("  mq_receive -> prio %u \"%s\"\n", got.message->priority,
                got.message->payload.str().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace mqsentry

int main() { return mqsentry::Run(); }
