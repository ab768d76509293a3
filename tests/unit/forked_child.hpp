// Runs a function in a forked child and returns the text it returned (or why the child failed),
// for tests of what a process forked by `--isolate` sees. The child calls only `fn` and
// _exit: no test assertions, no destructors of the parent's objects.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace xpb::test {

inline std::string in_forked_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    const std::string out = fn();
    std::size_t done = 0;
    while (done < out.size()) {
      const auto n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the child did not exit cleanly: " + text;
  return text;
}

}  // namespace xpb::test
