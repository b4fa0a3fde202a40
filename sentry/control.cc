#include "sentry/control.h"

#include <dirent.h>
#include <algorithm>
#include <cctype>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace mqsentry::sentry {
namespace {

constexpr int kReplyTimeoutSeconds = 10;

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A path for bind/connect that fits sun_path whatever the directory's length.
sockaddr_un Address(int dir_fd, const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = absl::StrCat("/proc/self/fd/", dir_fd, "/", name, ".sock");
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

absl::StatusOr<UniqueFd> OpenRoot(const std::string& root, bool create) {
  if (create && mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(absl::StrCat("--root ", root));
  }
  UniqueFd dir(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Errno(absl::StrCat("--root ", root));
  return dir;
}

void RemoveEntries(int dir_fd, const std::string& name) {
  unlinkat(dir_fd, (name + ".sock").c_str(), 0);
  unlinkat(dir_fd, (name + ".json").c_str(), 0);
}

absl::Status WriteEntry(int dir_fd, const std::string& name, const control::SandboxEntry& e) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(e, &json, o).ok()) {
    return absl::InternalError("state file: JSON");
  }
  json += "\n";
  const std::string temp = absl::StrCat(".", name, ".json.tmp");
  UniqueFd fd(openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Errno(temp);
  if (write(fd.get(), json.data(), json.size()) != static_cast<ssize_t>(json.size())) {
    return Errno(temp);
  }
  if (renameat(dir_fd, temp.c_str(), dir_fd, (name + ".json").c_str()) != 0) return Errno(temp);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> DefaultControlRoot() {
  if (geteuid() == 0) return std::string("/run/mqsentry");
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg == nullptr || *xdg == '\0') {
    return absl::InvalidArgumentError("XDG_RUNTIME_DIR is not set: pass --root DIR");
  }
  return absl::StrCat(xdg, "/mqsentry");
}

absl::Status CheckSandboxName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sandbox name \"", name, "\": use 1 to 64 of A-Z a-z 0-9 _ . - (not starting with .)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Claim(const std::string& root,
                                                                    const std::string& name,
                                                                    control::SandboxEntry entry) {
  if (absl::Status s = CheckSandboxName(name); !s.ok()) return s;
  absl::StatusOr<UniqueFd> dir = OpenRoot(root, /*create=*/true);
  if (!dir.ok()) return dir.status();
  std::unique_ptr<ControlServer> server(new ControlServer);
  server->name_ = name;
  server->dir_ = *std::move(dir);
  server->owner_ = geteuid();
  server->lock_.reset(
      openat(server->dir_.get(), (name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!server->lock_.valid()) return Errno(absl::StrCat(root, "/", name, ".lock"));
  if (flock(server->lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::AlreadyExistsError(absl::StrCat("sandbox name \"", name,
                                                   "\" is in use (a running sandbox under ",
                                                   root, " has it)"));
    }
    return Errno("flock");
  }
  server->claimed_ = true;
  RemoveEntries(server->dir_.get(), name);  // a dead sandbox's leftovers
  server->listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!server->listen_.valid()) return Errno("socket");
  const sockaddr_un addr = Address(server->dir_.get(), name);
  const mode_t old = umask(0177);  // the socket is the owner's only (0600)
  const int bound = bind(server->listen_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (bound != 0) return Errno(absl::StrCat(root, "/", name, ".sock"));
  if (listen(server->listen_.get(), 16) != 0) return Errno("listen");
  server->stop_.reset(eventfd(0, EFD_CLOEXEC));
  if (!server->stop_.valid()) return Errno("eventfd");
  if (absl::Status s = server->Update(entry); !s.ok()) return s;
  return server;
}

absl::Status ControlServer::Update(const control::SandboxEntry& entry) {
  return WriteEntry(dir_.get(), name_, entry);
}

void ControlServer::Serve(std::function<void(int fd, const std::string& request)> handle) {
  thread_ = std::thread([this, handle = std::move(handle)] {
    while (true) {
      pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;
      UniqueFd conn(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      timeval tv{kReplyTimeoutSeconds, 0};
      setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ucred peer{};
      socklen_t len = sizeof peer;
      if (getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
          peer.uid != owner_) {
        // Its request is read (for at most a second) so that the refusal reaches it intact.
        timeval brief{1, 0};
        setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
        (void)ReadControlLine(conn.get());
        const std::string refusal = absl::StrCat(
            "error permission denied: uid ", peer.uid, " is not the sandbox's owner (uid ",
            owner_, ")\n");
        (void)!send(conn.get(), refusal.data(), refusal.size(), MSG_NOSIGNAL);
        continue;
      }
      absl::StatusOr<std::string> request = ReadControlLine(conn.get());
      if (!request.ok()) continue;
      handle(conn.get(), *request);
    }
  });
}

void ControlServer::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
  if (claimed_) {
    claimed_ = false;
    RemoveEntries(dir_.get(), name_);
    unlinkat(dir_.get(), (name_ + ".lock").c_str(), 0);
  }
}

ControlServer::~ControlServer() { Stop(); }

absl::StatusOr<std::vector<control::SandboxEntry>> ListSandboxes(const std::string& root) {
  absl::StatusOr<UniqueFd> dir = OpenRoot(root, /*create=*/false);
  if (!dir.ok()) {
    if (errno == ENOENT) return std::vector<control::SandboxEntry>{};
    return dir.status();
  }
  std::vector<std::string> names;
  {
    DIR* d = fdopendir(dup(dir->get()));
    if (d == nullptr) return Errno(root);
    while (dirent* e = readdir(d)) {
      const std::string f = e->d_name;
      if (f[0] != '.' && absl::EndsWith(f, ".lock")) names.push_back(f.substr(0, f.size() - 5));
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::vector<control::SandboxEntry> out;
  for (const std::string& name : names) {
    UniqueFd lock(openat(dir->get(), (name + ".lock").c_str(), O_RDWR | O_CLOEXEC));
    if (!lock.valid()) continue;
    if (flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
      // No sandbox holds it: stale. Removed while locked, so a new run cannot be mid-claim.
      RemoveEntries(dir->get(), name);
      unlinkat(dir->get(), (name + ".lock").c_str(), 0);
      continue;
    }
    UniqueFd fd(openat(dir->get(), (name + ".json").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    std::string json(64 * 1024, '\0');
    const ssize_t n = read(fd.get(), json.data(), json.size());
    if (n <= 0) continue;
    json.resize(static_cast<size_t>(n));
    control::SandboxEntry entry;
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(json, &entry, o).ok()) continue;
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<UniqueFd> SendControlRequest(const std::string& root, const std::string& name,
                                            const std::string& request) {
  if (absl::Status s = CheckSandboxName(name); !s.ok()) return s;
  absl::StatusOr<UniqueFd> dir = OpenRoot(root, /*create=*/false);
  if (!dir.ok()) return absl::NotFoundError(absl::StrCat("no sandbox named \"", name,
                                                         "\": ", dir.status().message()));
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return Errno("socket");
  const sockaddr_un addr = Address(dir->get(), name);
  if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      return absl::NotFoundError(absl::StrCat("no running sandbox named \"", name, "\" under ",
                                              root));
    }
    return Errno(absl::StrCat(root, "/", name, ".sock"));
  }
  const std::string line = request + "\n";
  if (send(sock.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return Errno("send");
  }
  return sock;
}

absl::StatusOr<std::string> ReadControlLine(int fd) {
  std::string line;
  char c;
  while (line.size() < 4096) {
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError("the sandbox closed the connection");
    if (c == '\n') return line;
    line.push_back(c);
  }
  return absl::InvalidArgumentError("control line too long");
}

}  // namespace mqsentry::sentry
