// Running work in child processes (isolation.hpp): values come back, crashes, exits and hangs
// become reasons, the worker keeps its child between jobs and forks a new one after a crash.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "isolation.hpp"

namespace {

TEST(RunInChild, ReturnsTheChildsValue) {
  auto out = xpb::run_in_child([] { return nlohmann::json{{"pid", ::getpid()}}; }, 10, nullptr);
  ASSERT_TRUE(out.ok) << out.failure;
  EXPECT_NE(out.value["pid"].get<int>(), ::getpid());  // it ran elsewhere
}

TEST(RunInChild, NamesTheSignalTheExitAndTheException) {
  auto segv = xpb::run_in_child([]() -> nlohmann::json { std::raise(SIGSEGV); return nullptr; }, 10, nullptr);
  EXPECT_FALSE(segv.ok);
  EXPECT_NE(segv.failure.find("signal 11"), std::string::npos) << segv.failure;
  auto quit = xpb::run_in_child([]() -> nlohmann::json { std::exit(7); }, 10, nullptr);
  EXPECT_NE(quit.failure.find("exited with status 7"), std::string::npos) << quit.failure;
  auto quiet = xpb::run_in_child([]() -> nlohmann::json { ::_exit(0); }, 10, nullptr);
  EXPECT_NE(quiet.failure.find("exited (status 0) before reporting"), std::string::npos) << quiet.failure;
  auto thrown = xpb::run_in_child([]() -> nlohmann::json { throw std::runtime_error("no such tensor"); }, 10, nullptr);
  EXPECT_NE(thrown.failure.find("failed: no such tensor"), std::string::npos) << thrown.failure;
}

TEST(RunInChild, KillsAHangAtTheDeadlineAndStopsOnCancel) {
  auto hang = xpb::run_in_child([]() -> nlohmann::json { for (;;) ::pause(); }, 0.3, nullptr);
  EXPECT_NE(hang.failure.find("did not finish within 0.3 s"), std::string::npos) << hang.failure;
  EXPECT_LT(hang.host_seconds, 5.0);
  std::atomic<bool> cancel{true};
  auto stopped = xpb::run_in_child([]() -> nlohmann::json { for (;;) ::pause(); }, 60, &cancel);
  EXPECT_FALSE(stopped.ok);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_NE(stopped.failure.find("signal 2"), std::string::npos) << stopped.failure;
}

TEST(ChildWorker, KeepsOneChildBetweenJobsAndForksAnotherAfterACrash) {
  int calls = 0;  // the child's copy counts the jobs it ran
  xpb::ChildWorker worker([&calls](std::size_t job) -> nlohmann::json {
    if (job == 2) std::raise(SIGABRT);
    return {{"job", job}, {"pid", ::getpid()}, {"calls", ++calls}};
  });
  auto a = worker.run(0, 10, nullptr), b = worker.run(1, 10, nullptr);
  ASSERT_TRUE(a.ok && b.ok) << a.failure << b.failure;
  EXPECT_EQ(a.value["pid"], b.value["pid"]);
  EXPECT_EQ(b.value["calls"], 2);
  EXPECT_EQ(calls, 0);  // none ran in this process
  auto crash = worker.run(2, 10, nullptr);
  EXPECT_FALSE(crash.ok);
  EXPECT_NE(crash.failure.find("signal 6"), std::string::npos) << crash.failure;
  auto c = worker.run(3, 10, nullptr);
  ASSERT_TRUE(c.ok) << c.failure;
  EXPECT_NE(c.value["pid"], a.value["pid"]);  // a new child, starting from this process's state
  EXPECT_EQ(c.value["calls"], 1);
}

TEST(ChildWorker, AHungJobIsKilledAndTheNextOneRuns) {
  xpb::ChildWorker worker([](std::size_t job) -> nlohmann::json {
    if (job == 0)
      for (;;) ::pause();
    return {{"job", job}};
  });
  auto hang = worker.run(0, 0.3, nullptr);
  EXPECT_NE(hang.failure.find("did not finish within 0.3 s"), std::string::npos) << hang.failure;
  auto next = worker.run(1, 10, nullptr);
  ASSERT_TRUE(next.ok) << next.failure;
  EXPECT_EQ(next.value["job"], 1);
}

}  // namespace
