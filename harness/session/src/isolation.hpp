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

// Forks; the child runs `work` once (an exception it throws comes back as the failure) and
// _exit()s without running destructors or atexit handlers of the parent's objects. The parent
// waits on the reply, the child's end and a 20 ms tick: past `timeout_s` the child is killed
// (SIGKILL); when `cancel` is set it is sent SIGINT, and killed 5 s later if it has not
// finished. Never throws for what the child does; throws std::runtime_error when no child can
// be made (fork or pipe failed). A ChildWorker for one job.
ChildOutcome run_in_child(const std::function<nlohmann::json()>& work, double timeout_s, const std::atomic<bool>* cancel);

// A child process forked on the first job and reused for the next ones, so a run of many
// benchmarks pays one fork, not one each: the parent sends a job number, the child runs
// `work(job)` and sends its value back. When the child crashes, exits or hangs (killed at the
// deadline), that job's outcome says so and the next job forks a new child. Same guarantees
// and the same ChildOutcome as run_in_child; the child holds the state the parent had when it
// was forked (the devices, the plan), and keeps what it builds between jobs (as one process
// running the jobs in turn would).
class ChildWorker {
 public:
  explicit ChildWorker(std::function<nlohmann::json(std::size_t job)> work) : work_(std::move(work)) {}
  ~ChildWorker();  // ends the child: closes its request pipe, then kills it if it lingers
  ChildWorker(const ChildWorker&) = delete;
  ChildWorker& operator=(const ChildWorker&) = delete;

  // Runs one job in the child (forking one first when there is none). Throws
  // std::runtime_error when no child can be made.
  ChildOutcome run(std::size_t job, double timeout_s, const std::atomic<bool>* cancel);

 private:
  void start();
  void reap(bool kill_first);

  std::function<nlohmann::json(std::size_t)> work_;
  int pid_ = -1;
  int pidfd_ = -1;
  int to_child_ = -1;    // job numbers, 8 bytes each
  int from_child_ = -1;  // replies: 8 bytes of length, then that much JSON
};

}  // namespace xpb
