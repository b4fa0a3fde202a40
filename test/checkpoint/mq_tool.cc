// A small mq client for the checkpoint CLI tests.
//   mq_tool send NAME MAXMSG MSGSIZE PRIO:PAYLOAD...   create (mode 0640) or open, then send
//   mq_tool drain NAME...        per queue: "NAME maxmsg M msgsize S curmsgs C", then each
//                                message "NAME PRIO PAYLOAD" until EAGAIN (non-blocking)
//   mq_tool fill NAME COUNT SIZE create with maxmsg COUNT, msgsize SIZE, send COUNT messages
//                                (priority i % 7, payload: i in decimal, padded to SIZE)
//   mq_tool pause FILE           writes "ready" to FILE, then waits for stdin to close
// Exit 1 with the errno on stderr if a call fails.
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int Fail(const char* what, const std::string& name) {
  std::fprintf(stderr, "mq_tool: %s %s: %s\n", what, name.c_str(), std::strerror(errno));
  return 1;
}

int Send(int argc, char** argv) {
  if (argc < 5) return 2;
  const std::string name = argv[2];
  mq_attr attr{};
  attr.mq_maxmsg = std::atol(argv[3]);
  attr.mq_msgsize = std::atol(argv[4]);
  const mqd_t q = mq_open(name.c_str(), O_WRONLY | O_CREAT, 0640, &attr);
  if (q == static_cast<mqd_t>(-1)) return Fail("mq_open", name);
  for (int i = 5; i < argc; ++i) {
    const std::string spec = argv[i];
    const size_t colon = spec.find(':');
    const unsigned prio = static_cast<unsigned>(std::atoi(spec.substr(0, colon).c_str()));
    const std::string payload = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (mq_send(q, payload.data(), payload.size(), prio) != 0) return Fail("mq_send", name);
  }
  return 0;
}

int Fill(int argc, char** argv) {
  if (argc != 5) return 2;
  const std::string name = argv[2];
  const long count = std::atol(argv[3]), size = std::atol(argv[4]);
  mq_attr attr{};
  attr.mq_maxmsg = count;
  attr.mq_msgsize = size;
  const mqd_t q = mq_open(name.c_str(), O_WRONLY | O_CREAT, 0600, &attr);
  if (q == static_cast<mqd_t>(-1)) return Fail("mq_open", name);
  for (long i = 0; i < count; ++i) {
    std::string payload = std::to_string(i);
    payload.resize(static_cast<size_t>(size), '.');
    if (mq_send(q, payload.data(), payload.size(), static_cast<unsigned>(i % 7)) != 0) {
      return Fail("mq_send", name);
    }
  }
  return 0;
}

int Drain(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::string name = argv[i];
    const mqd_t q = mq_open(name.c_str(), O_RDONLY | O_NONBLOCK);
    if (q == static_cast<mqd_t>(-1)) return Fail("mq_open", name);
    mq_attr attr{};
    if (mq_getattr(q, &attr) != 0) return Fail("mq_getattr", name);
    std::printf("%s maxmsg %ld msgsize %ld curmsgs %ld\n", name.c_str(), attr.mq_maxmsg,
                attr.mq_msgsize, attr.mq_curmsgs);
    std::vector<char> buf(static_cast<size_t>(attr.mq_msgsize));
    while (true) {
      unsigned prio = 0;
      const ssize_t n = mq_receive(q, buf.data(), buf.size(), &prio);
      if (n < 0) {
        if (errno == EAGAIN) break;
        return Fail("mq_receive", name);
      }
      std::printf("%s %u %.*s\n", name.c_str(), prio, static_cast<int>(n), buf.data());
    }
    mq_close(q);
  }
  return 0;
}

int Pause(int argc, char** argv) {
  if (argc != 3) return 2;
  FILE* f = std::fopen(argv[2], "w");
  if (f == nullptr) return Fail("fopen", argv[2]);
  std::fputs("ready\n", f);
  std::fclose(f);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "send") return Send(argc, argv);
  if (cmd == "fill") return Fill(argc, argv);
  if (cmd == "drain") return Drain(argc, argv);
  if (cmd == "pause") return Pause(argc, argv);
  std::fprintf(stderr, "usage: mq_tool send|fill|drain|pause ...\n");
  return 2;
}
