#include "isolation.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace xpb {
namespace {

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent went away: nothing left to tell
    done += static_cast<std::size_t>(n);
  }
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* what = ::strsignal(sig);
    return "the child process running it was killed by signal " + std::to_string(sig) + " (" +
           (what != nullptr ? what : "unknown") + ")";
  }
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    return "the child process running it exited with status " + std::to_string(code) +
           " before reporting a result (did the driver call exit()?)";
  }
  return "the child process running it ended abnormally (wait status " + std::to_string(status) + ")";
}

}  // namespace

// --- ChildWorker -------------------------------------------------------------------------------

namespace {

// Reads exactly `n` bytes; false at end of file or on an error.
bool read_exactly(int fd, void* dst, std::size_t n) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

void ChildWorker::start() {
  // Requests go through a socket so the parent can send with MSG_NOSIGNAL: a child that died
  // while idle must not take the parent down with SIGPIPE (a library caller may not ignore it).
  int request[2], reply[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, request) != 0)
    throw std::runtime_error(std::string("cannot make a socket pair: ") + std::strerror(errno));
  if (::pipe2(reply, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(request[0]);
    ::close(request[1]);
    throw std::runtime_error(std::string("cannot make a pipe: ") + std::strerror(err));
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {request[0], request[1], reply[0], reply[1]}) ::close(fd);
    throw std::runtime_error(std::string("cannot fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(request[1]);
    ::close(reply[0]);
    std::uint64_t job = 0;
    // One job per request until the parent closes the pipe.
    while (read_exactly(request[0], &job, sizeof job)) {
      std::string text;
      try {
        text = nlohmann::json{{"value", work_(static_cast<std::size_t>(job))}}.dump();
      } catch (const std::exception& e) {
        text = nlohmann::json{{"error", e.what()}}.dump();
      } catch (...) {
        text = nlohmann::json{{"error", "an exception that is not a std::exception"}}.dump();
      }
      const std::uint64_t length = text.size();
      write_all(reply[1], std::string(reinterpret_cast<const char*>(&length), sizeof length) + text);
    }
    ::_exit(0);
  }
  ::close(request[0]);
  ::close(reply[1]);
  pid_ = pid;
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  to_child_ = request[1];
  from_child_ = reply[0];
}

void ChildWorker::reap(bool kill_first) {
  if (pid_ < 0) return;
  if (to_child_ >= 0) ::close(to_child_);  // a child told to stop this way ends at once
  if (kill_first) ::kill(pid_, SIGKILL);
  int status = 0;
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    ::poll(&p, 1, 1000);
  } else {
    for (int i = 0; i < 1000 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(1000);
  }
  if (::waitpid(pid_, &status, WNOHANG) == 0) {  // one that lingers past a second is killed
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  for (int fd : {pidfd_, from_child_})
    if (fd >= 0) ::close(fd);
  pid_ = pidfd_ = to_child_ = from_child_ = -1;
}

ChildWorker::~ChildWorker() { reap(false); }

ChildOutcome ChildWorker::run(std::size_t job, double timeout_s, const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  if (pid_ < 0) start();
  ChildOutcome out;
  const std::uint64_t j = job;
  // A child that went away since its last job cannot take this one: start another.
  if (::send(to_child_, &j, sizeof j, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof j)) {
    reap(true);
    start();
    if (::send(to_child_, &j, sizeof j, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof j))
      throw std::runtime_error(std::string("cannot send a job to the child process: ") + std::strerror(errno));
  }
  std::string got;
  std::uint64_t need = 0;
  bool have_length = false, ended = false, killed_for_time = false, signalled = false;
  int status = 0;
  auto signalled_at = t0;
  char chunk[65536];
  for (;;) {
    if (have_length && got.size() >= need) break;  // the whole reply is here
    pollfd p[2] = {{from_child_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    if (::poll(p, 2, 20) > 0 && (p[0].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t n = ::read(from_child_, chunk, sizeof chunk);
      if (n > 0) {
        got.append(chunk, static_cast<std::size_t>(n));
        if (!have_length && got.size() >= sizeof need) {
          std::memcpy(&need, got.data(), sizeof need);
          got.erase(0, sizeof need);
          have_length = true;
        }
        continue;
      }
    }
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      ended = true;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!killed_for_time && std::chrono::duration<double>(now - t0).count() > timeout_s) {
      killed_for_time = true;
      ::kill(pid_, SIGKILL);
    }
    if (cancel != nullptr && cancel->load()) {
      if (!signalled) {
        signalled = true;
        signalled_at = now;
        ::kill(pid_, SIGINT);
      } else if (std::chrono::duration<double>(now - signalled_at).count() > 5) {
        ::kill(pid_, SIGKILL);
      }
    }
  }
  out.host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.interrupted = signalled;
  if (ended) {
    // The child is gone (reaped above): the next job forks a new one.
    for (int fd : {pidfd_, from_child_, to_child_})
      if (fd >= 0) ::close(fd);
    pid_ = pidfd_ = to_child_ = from_child_ = -1;
    if (killed_for_time)
      out.failure = "timed out: the child process running it did not finish within " + fmt::format("{:g}", timeout_s) +
                    " s and was killed (a hang in the driver?)";
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      out.failure = "the child process running it exited (status 0) before reporting a result (did the driver call exit()?)";
    else
      out.failure = describe_exit(status);
    return out;
  }
  try {
    auto reply = nlohmann::json::parse(got);
    if (reply.contains("error")) {
      out.failure = "the child process running it failed: " + reply["error"].get<std::string>();
      return out;
    }
    out.value = std::move(reply["value"]);
    out.ok = true;
  } catch (const std::exception& e) {
    out.failure = std::string("the child process running it sent back a result that cannot be read: ") + e.what();
  }
  return out;
}

ChildOutcome run_in_child(const std::function<nlohmann::json()>& work, double timeout_s, const std::atomic<bool>* cancel) {
  ChildWorker once([&work](std::size_t) { return work(); });
  return once.run(0, timeout_s, cancel);
}

}  // namespace xpb
