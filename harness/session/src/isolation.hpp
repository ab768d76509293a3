// Running one piece of work in a fork()ed child process (`--isolate`, DESIGN.md §4): a crash,
// an exit() or a hang inside a plugin becomes a reason in the parent instead of the end of the
// run. The child computes a JSON value and sends it back through a pipe; the parent waits for
// it with a deadline.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace xpb {

struct ChildOutcome {
  bool ok = false;            // the child sent its value and exited 0
  nlohmann::json value;       // what `work` returned, when ok
  bool interrupted = false;   // stopped because `cancel` was set
  std::string failure;        // why not ok: "killed by signal 11 (Segmentation fault)", "timed out after 5 s", ...
  double host_seconds = 0;    // from fork to the child's end, on the host's clock
};

// Forks; the child runs `work` (an exception it throws comes back as the failure) and _exit()s
// without running destructors or atexit handlers of the parent's objects. The parent polls
// every 20 ms: past `timeout_s` the child is killed (SIGKILL); when `cancel` is set it is sent
// SIGINT, and killed 5 s later if it has not finished. Never throws for what the child does;
// throws std::runtime_error when no child can be made (fork or pipe failed).
ChildOutcome run_in_child(const std::function<nlohmann::json()>& work, double timeout_s, const std::atomic<bool>* cancel);

}  // namespace xpb
