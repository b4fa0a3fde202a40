#include "sentry/control_commands.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/stream.h"
#include "kernel/status_macros.h"

namespace mqsentry::sentry {
namespace {

namespace cp = ::mqsentry::ipc::checkpoint;

int Fail(const std::string& message) {
  std::fprintf(stderr, "mqsentry: %s\n", message.c_str());
  return 1;
}

int Usage(const char* usage, const std::string& why) {
  std::fprintf(stderr, "mqsentry: %s\nusage: %s\n", why.c_str(), usage);
  return 2;
}

// --flag VALUE / --flag=VALUE; positional arguments go to `positional`.
struct Args {
  std::string root, format = "text", output;
  std::vector<std::string> positional;
};

std::string ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool inline_value = false;
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    std::string* target = arg == "--root" ? &a->root
                          : arg == "--format" ? &a->format
                          : arg == "--output" ? &a->output
                                              : nullptr;
    if (target != nullptr) {
      if (!inline_value) {
        if (++i >= argc) return absl::StrCat(arg, " needs a value");
        value = argv[i];
      }
      *target = value;
    } else if (arg.rfind("--", 0) == 0) {
      return absl::StrCat("unknown flag ", arg);
    } else {
      a->positional.push_back(arg);
    }
  }
  if (a->root.empty()) {
    absl::StatusOr<std::string> root = DefaultControlRoot();
    if (!root.ok()) return std::string(root.status().message());
    a->root = *root;
  }
  return "";
}

struct Counts {
  uint64_t namespaces = 0, queues = 0, messages = 0, bytes = 0;
};

std::string CountsText(const Counts& c) {
  return absl::StrCat(c.namespaces, " ", c.queues, " ", c.messages, " ", c.bytes);
}

bool ParseCounts(const std::vector<std::string>& words, size_t at, Counts* c) {
  return words.size() >= at + 4 && absl::SimpleAtoi(words[at], &c->namespaces) &&
         absl::SimpleAtoi(words[at + 1], &c->queues) &&
         absl::SimpleAtoi(words[at + 2], &c->messages) && absl::SimpleAtoi(words[at + 3], &c->bytes);
}

void Reply(int fd, const std::string& line) {
  const std::string l = line + "\n";
  (void)!send(fd, l.data(), l.size(), MSG_NOSIGNAL);
}

// Sends to a socket; a client that went away is no failure of the sandbox.
class SocketSink : public cp::ByteSink {
 public:
  explicit SocketSink(int fd) : fd_(fd) {}
  absl::Status Write(std::string_view bytes) override {
    if (buffer_.size() + bytes.size() > kBuffer) RETURN_IF_ERROR(Flush());
    if (bytes.size() >= kBuffer) return Send(bytes);
    buffer_.append(bytes);
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    absl::Status s = Send(buffer_);
    buffer_.clear();
    return s;
  }

 private:
  static constexpr size_t kBuffer = 1 << 20;
  absl::Status Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  int fd_;
  std::string buffer_;
};

}  // namespace

void ServeControl(ControlServer& server, Sentry& sentry, const std::string& program) {
  server.Serve([&sentry, program](int fd, const std::string& request) {
    if (request == "info") {
      const Sentry::Counts c = sentry.CountState();
      Reply(fd, absl::StrCat("ok ", CountsText({c.namespaces, c.queues, c.messages, c.bytes})));
      return;
    }
    if (request != "checkpoint") {
      Reply(fd, absl::StrCat("error unknown request \"", absl::CHexEscape(request), "\""));
      return;
    }
    int64_t pause_ns = 0;
    Sentry::StateSnapshot snapshot = sentry.CaptureLive(&pause_ns);
    // Calls run again from here: the file is encoded and sent while they go on.
    if (absl::Status s = cp::ValidateSandboxState(snapshot.state); !s.ok()) {
      Reply(fd, absl::StrCat("error the captured state is invalid: ", s.message()));
      return;
    }
    Counts c;
    c.namespaces = snapshot.state.ipc_namespaces.size();
    for (const auto& ipc : snapshot.state.ipc_namespaces) {
      for (const auto& q : ipc.queues) {
        ++c.queues;
        c.messages += q.messages.size();
        for (const auto& m : q.messages) c.bytes += m.payload.size();
      }
    }
    Reply(fd, absl::StrCat("ok ", CountsText(c), " ", pause_ns));
    cp::SandboxInfo info;
    info.own_ipc_namespace = snapshot.own_namespace;
    info.program = program;
    info.taken_at_unix = time(nullptr);
    info.live = true;
    SocketSink sink(fd);
    (void)cp::WriteCheckpointUnvalidated(snapshot.state, info, sink);
  });
}

int ListMain(int argc, char** argv) {
  constexpr char kUsage[] = "mqsentry list [--root DIR] [--format=text|json]";
  Args a;
  if (std::string err = ParseArgs(argc, argv, &a); !err.empty()) return Usage(kUsage, err);
  if (!a.positional.empty()) return Usage(kUsage, "list takes no arguments");
  if (a.format != "text" && a.format != "json") return Usage(kUsage, "--format is text or json");
  absl::StatusOr<std::vector<control::SandboxEntry>> entries = ListSandboxes(a.root);
  if (!entries.ok()) return Fail(std::string(entries.status().message()));
  control::SandboxList list;
  for (control::SandboxEntry& e : *entries) {
    absl::StatusOr<UniqueFd> sock = SendControlRequest(a.root, e.name(), "info");
    if (sock.ok()) {
      absl::StatusOr<std::string> line = ReadControlLine(sock->get());
      Counts c;
      if (line.ok() && ParseCounts(absl::StrSplit(*line, ' '), 1, &c) && line->rfind("ok ", 0) == 0) {
        e.set_namespaces(c.namespaces);
        e.set_queues(c.queues);
        e.set_messages(c.messages);
        e.set_bytes(c.bytes);
        e.set_answered(true);
      }
    }
    *list.add_sandboxes() = std::move(e);
  }
  if (a.format == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.always_print_primitive_fields = true;
    o.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(list, &json, o).ok()) return Fail("JSON");
    std::fputs(json.c_str(), stdout);
    return 0;
  }
  std::printf("%-20s %-9s %-20s %-10s %-6s %-8s %-10s %s\n", "NAME", "INIT-PID", "STARTED",
              "NAMESPACES", "QUEUES", "MESSAGES", "BYTES", "PROGRAM");
  for (const control::SandboxEntry& e : list.sandboxes()) {
    char started[32] = "-";
    const time_t t = static_cast<time_t>(e.started_unix());
    struct tm tm {};
    if (gmtime_r(&t, &tm) != nullptr) strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    auto n = [&e](uint64_t v) { return e.answered() ? absl::StrCat(v) : std::string("?"); };
    std::printf("%-20s %-9lld %-20s %-10s %-6s %-8s %-10s %s\n", e.name().c_str(),
                static_cast<long long>(e.init_pid()), started, n(e.namespaces()).c_str(),
                n(e.queues()).c_str(), n(e.messages()).c_str(), n(e.bytes()).c_str(),
                e.program().c_str());
  }
  return 0;
}

int CheckpointMain(int argc, char** argv) {
  constexpr char kUsage[] = "mqsentry checkpoint NAME --output FILE [--root DIR]";
  Args a;
  if (std::string err = ParseArgs(argc, argv, &a); !err.empty()) return Usage(kUsage, err);
  if (a.positional.size() != 1) return Usage(kUsage, "one sandbox name");
  if (a.output.empty()) return Usage(kUsage, "--output FILE is required");
  const std::string& name = a.positional[0];
  // The temporary file first, beside the output: a bad path fails before the pause.
  const size_t slash = a.output.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : a.output.substr(0, slash));
  const std::string temp = absl::StrFormat("%s/.%s.tmp-%d", dir,
                                           a.output.substr(slash == std::string::npos ? 0 : slash + 1),
                                           getpid());
  UniqueFd out(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return Fail(absl::StrCat(temp, ": ", std::strerror(errno)));
  auto fail = [&](const std::string& message) {
    unlink(temp.c_str());
    return Fail(message);
  };
  absl::StatusOr<UniqueFd> sock = SendControlRequest(a.root, name, "checkpoint");
  if (!sock.ok()) return fail(std::string(sock.status().message()));
  absl::StatusOr<std::string> header = ReadControlLine(sock->get());
  if (!header.ok()) return fail(absl::StrCat(name, ": ", header.status().message()));
  if (header->rfind("error ", 0) == 0) return fail(absl::StrCat(name, ": ", header->substr(6)));
  const std::vector<std::string> words = absl::StrSplit(*header, ' ');
  Counts c;
  int64_t pause_ns = 0;
  if (words.size() != 6 || words[0] != "ok" || !ParseCounts(words, 1, &c) ||
      !absl::SimpleAtoi(words[5], &pause_ns)) {
    return fail(absl::StrCat(name, ": unexpected answer \"", absl::CHexEscape(*header), "\""));
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  while (true) {
    const ssize_t n = read(sock->get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(absl::StrCat(name, ": read: ", std::strerror(errno)));
    if (n == 0) break;
    if (write(out.get(), buf.data(), static_cast<size_t>(n)) != n) {
      return fail(absl::StrCat(temp, ": ", std::strerror(errno)));
    }
    total += static_cast<uint64_t>(n);
  }
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto fsync_start = std::chrono::steady_clock::now();
  if (fsync(out.get()) != 0) return fail(absl::StrCat(temp, ": fsync: ", std::strerror(errno)));
  out.reset();
  // Only a complete, valid file replaces the output.
  absl::StatusOr<cp::CheckpointFile> check = cp::ReadCheckpointFile(temp);
  if (!check.ok()) {
    return fail(absl::StrCat(name, ": the checkpoint received is not valid (did the sandbox "
                             "exit?): ", check.status().message()));
  }
  if (rename(temp.c_str(), a.output.c_str()) != 0) {
    return fail(absl::StrCat(a.output, ": ", std::strerror(errno)));
  }
  if (UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); d.valid()) {
    (void)fsync(d.get());
  }
  const double fsync_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fsync_start).count();
  std::printf("checkpoint %s: %llu IPC namespaces, %llu queues, %llu messages, %llu bytes; "
              "calls paused %.3f ms; %s: %llu bytes, written in %.3f s, fsync %.3f s\n",
              name.c_str(), static_cast<unsigned long long>(c.namespaces),
              static_cast<unsigned long long>(c.queues),
              static_cast<unsigned long long>(c.messages),
              static_cast<unsigned long long>(c.bytes), pause_ns / 1e6, a.output.c_str(),
              static_cast<unsigned long long>(total), write_s, fsync_s);
  return 0;
}

}  // namespace mqsentry::sentry
