// A small mq client for the checkpoint CLI tests.
//   mq_tool send NAME MAXMSG MSGSIZE PRIO:PAYLOAD...   create (mode 0640) or open, then send
//   mq_tool drain NAME...        per queue: "NAME maxmsg M msgsize S curmsgs C", then each
//                                message "NAME PRIO PAYLOAD" until EAGAIN (non-blocking)
//   mq_tool fill NAME COUNT SIZE create with maxmsg COUNT, msgsize SIZE, send COUNT messages
//                                (priority i % 7, payload: i in decimal, padded to SIZE)
//   mq_tool pause FILE           writes "ready" to FILE, then waits for stdin to close
//   mq_tool pump NAME N FILE     a child sends "0".."N-1" (blocking, maxmsg 10) while the
//                                parent receives; writes "ready" to FILE once 100 went
//                                through; prints "pump ok N" if each arrived once, in order,
//                                then waits for stdin to close (the sandbox stays up for the
//                                checkpoints a test still takes)
//   mq_tool times NAME           fstat of an mq descriptor of NAME (O_RDONLY): "A M C", the
//                                file's atime, mtime and ctime in seconds
// Exit 1 with the errno on stderr if a call fails.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

int Pump(int argc, char** argv) {
  if (argc != 5) return 2;
  const std::string name = argv[2];
  const long n = std::atol(argv[3]);
  mq_attr attr{};
  attr.mq_maxmsg = 10;
  attr.mq_msgsize = 32;
  const mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT, 0600, &attr);
  if (q == static_cast<mqd_t>(-1)) return Fail("mq_open", name);
  const pid_t child = fork();
  if (child == 0) {
    for (long i = 0; i < n; ++i) {
      const std::string m = std::to_string(i);
      while (mq_send(q, m.data(), m.size(), 0) != 0) {
        if (errno != EINTR) _exit(Fail("mq_send", name));
      }
    }
    _exit(0);
  }
  char buf[32];
  for (long i = 0; i < n; ++i) {
    ssize_t got;
    while ((got = mq_receive(q, buf, sizeof buf, nullptr)) < 0) {
      if (errno != EINTR) return Fail("mq_receive", name);
    }
    if (std::string(buf, static_cast<size_t>(got)) != std::to_string(i)) {
      std::printf("pump bad: got %.*s, want %ld\n", static_cast<int>(got), buf, i);
      return 1;
    }
    if (i == 100) {
      if (FILE* f = std::fopen(argv[4], "w")) {
        std::fputs("ready\n", f);
        std::fclose(f);
      }
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("pump ok %ld\n", n);
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return status == 0 ? 0 : 1;
}

int Times(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string name = argv[2];
  const mqd_t q = mq_open(name.c_str(), O_RDONLY);
  if (q == static_cast<mqd_t>(-1)) return Fail("mq_open", name);
  struct stat st {};
  if (fstat(q, &st) != 0) return Fail("fstat", name);
  std::printf("%lld %lld %lld\n", static_cast<long long>(st.st_atime),
              static_cast<long long>(st.st_mtime), static_cast<long long>(st.st_ctime));
  mq_close(q);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "send") return Send(argc, argv);
  if (cmd == "fill") return Fill(argc, argv);
  if (cmd == "drain") return Drain(argc, argv);
  if (cmd == "pause") return Pause(argc, argv);
  if (cmd == "pump") return Pump(argc, argv);
  if (cmd == "times") return Times(argc, argv);
  std::fprintf(stderr, "usage: mq_tool send|fill|drain|pause ...\n");
  return 2;
}
