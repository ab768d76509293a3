// The external meter sensor against a fake bridge: a thread of the test that serves a loopback
// TCP port (127.0.0.1, port 0: the kernel picks a free one) or writes a FIFO made with mkfifo in
// a temporary directory, and writes the protocol's lines. Readings are stamped with this
// machine's clock, as a real bridge's are.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "forked_child.hpp"
#include "xpubench/energy.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double now_s() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string reading(double t, double value, const char* unit) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.6f %.6f %s", t, value, unit);
  return buf;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The bridge: its script runs on its own thread once the sensor is connected (TCP) or the FIFO
// is open for writing; afterwards the connection is held until the bridge is destroyed.
class FakeBridge {
 public:
  using Script = std::function<void(FakeBridge&)>;

  static std::unique_ptr<FakeBridge> tcp(Script script) {
    auto b = std::unique_ptr<FakeBridge>(new FakeBridge(std::move(script)));
    b->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (b->listen_fd_ < 0 || ::bind(b->listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(b->listen_fd_, 4) != 0 || ::getsockname(b->listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on loopback");
    b->spec_ = "tcp:127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    b->thread_ = std::thread([raw = b.get()] { raw->serve(); });
    return b;
  }

  static std::unique_ptr<FakeBridge> fifo(const fs::path& path, Script script) {
    auto b = std::unique_ptr<FakeBridge>(new FakeBridge(std::move(script)));
    b->fifo_path_ = path;
    b->spec_ = "fifo:" + path.string();
    b->thread_ = std::thread([raw = b.get()] { raw->serve(); });
    return b;
  }

  ~FakeBridge() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  const std::string& spec() const { return spec_; }

  // In the script: write a line (a newline is added); false once the bridge stops.
  bool line(const std::string& text) { return send(text + "\n"); }
  bool send(const std::string& bytes) {
    if (stopping() || fd_ < 0) return false;
    return send_all(fd_, bytes, is_socket());
  }
  // In the script: wait; false once the bridge stops.
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stop_; });
  }
  // In the script: end this writer or connection and start another, as a bridge that is
  // restarted does (or one that opens the FIFO for every line).
  bool reconnect() {
    ::close(fd_);
    fd_ = -1;
    return connect();
  }
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

 private:
  explicit FakeBridge(Script script) : script_(std::move(script)) {}

  bool is_socket() const { return listen_fd_ >= 0; }

  static bool send_all(int fd, const std::string& bytes, bool socket) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = socket ? ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL)
                               : ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Accepts the sensor's connection, or opens the FIFO once the sensor has it open for reading
  // (a non-blocking open, retried, so that a sensor that never comes cannot hang the test).
  bool connect() {
    while (!stopping()) {
      if (is_socket()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 10) == 1) {
          fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (fd_ >= 0) return true;
        }
      } else {
        fd_ = ::open(fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ >= 0) {
          ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
          return true;
        }
        std::this_thread::sleep_for(2ms);
      }
    }
    return false;
  }

  void serve() {
    // A FIFO writer whose reader went away (the sensor destroyed first) gets EPIPE instead of
    // SIGPIPE, which would end the test program; MSG_NOSIGNAL does the same for TCP.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    if (connect()) script_(*this);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_; });
  }

  Script script_;
  std::string spec_;
  fs::path fifo_path_;
  int listen_fd_ = -1;
  int fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// A meter at `watts`, one line every `period`: a joules counter (J) or the average power (W).
FakeBridge::Script steady_meter(double watts, const char* unit, std::chrono::milliseconds period = 20ms,
                                std::atomic<bool>* reset = nullptr) {
  return [=](FakeBridge& b) {
    const double t0 = now_s();
    double offset = 1000;  // a counter that has been running
    bool was_reset = false;
    do {
      const double t = now_s();
      if (reset != nullptr && *reset && !was_reset) {
        offset = -watts * (t - t0);  // counts from zero again
        was_reset = true;
      }
      if (!b.line(unit[0] == 'J' ? reading(t, offset + watts * (t - t0), "J") : reading(t, watts, "W"))) return;
    } while (b.wait(period));
  };
}

// Polls until `done` holds, up to `limit`.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A loopback port with nothing listening on it.
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class Meter : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("xpb-meter-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path make_fifo(const std::string& name = "meter.fifo") {
    const fs::path p = dir_ / name;
    if (::mkfifo(p.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    return p;
  }

  // The sensor over `ms` of the meter: `snapshot`, wait, `since`.
  static xpb::EnergyReading measure(const xpb::EnergySensor& sensor, std::chrono::milliseconds ms) {
    const auto before = sensor.snapshot();
    EXPECT_TRUE(before.ok) << sensor.unavailable_reason();
    std::this_thread::sleep_for(ms);
    return sensor.since(before);
  }

  fs::path dir_;
};

// Constant power makes E(t) a straight line, which interpolation follows exactly: the only
// error is between the clocks the interval is timed with (steady for `seconds`, the system
// clock for the meter), microseconds apart.
constexpr double kRel = 0.01, kAbs = 0.05;

TEST_F(Meter, JoulesCounterOverTcp) {
  auto bridge = FakeBridge::tcp(steady_meter(100, "J"));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  EXPECT_EQ(sensor->name(), "meter");
  EXPECT_NE(sensor->covers().find("normally the whole machine at the wall"), std::string::npos);
  const auto r = measure(*sensor, 200ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_EQ(r.source, "meter");
  EXPECT_GT(r.seconds, 0.19);
  EXPECT_NEAR(r.joules, 100 * r.seconds, kRel * 100 * r.seconds + kAbs);
  ASSERT_EQ(r.domains.size(), 1u);
  EXPECT_DOUBLE_EQ(r.domains[0].second, r.joules);
  // The meter's interval, from the spacing of its lines.
  EXPECT_GT(sensor->update_interval_s(), 0.015);
  EXPECT_LT(sensor->update_interval_s(), 0.2);
}

TEST_F(Meter, AForkedChildIsToldAtOnceThatItCannotReadTheMeter) {
  auto bridge = FakeBridge::tcp(steady_meter(100, "J"));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto t0 = std::chrono::steady_clock::now();
  const auto said = xpb::test::in_forked_child([&] {
    const auto before = sensor->snapshot();
    const auto r = sensor->since(before);
    return sensor->unavailable_reason() + "|" + (r.available ? "available" : r.reason);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);  // no wait for readings that cannot come
  EXPECT_NE(said.find("child process (--isolate); run without --isolate"), std::string::npos) << said;
  EXPECT_EQ(said.find("|available"), std::string::npos) << said;
  // The parent's sensor is untouched.
  EXPECT_TRUE(measure(*sensor, 100ms).available);
}

TEST_F(Meter, WattLinesOverAFifoAreIntegrated) {
  auto bridge = FakeBridge::fifo(make_fifo(), steady_meter(50, "W"));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto r = measure(*sensor, 200ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 50 * r.seconds, kRel * 50 * r.seconds + kAbs);
}

TEST_F(Meter, TheFirstWattLineOnlyStartsTheIntegral) {
  // A W line is the average since the line before: the first has no known span and counts for
  // nothing, and the second's 10 W is the power over [t0, t1] (not a mean with the first's).
  // Stamped ahead of time, so that the interval starts between t0 and t1.
  const double t0 = now_s() - 1, t1 = now_s() + 0.3;
  auto bridge = FakeBridge::tcp([=](FakeBridge& b) {
    b.line(reading(t0, 1000, "W"));
    b.line(reading(t1, 10, "W"));
    b.line(reading(t1 + 100, 10, "W"));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_TRUE(eventually([&] { return sensor->update_interval_s() > 2; }));  // all three lines in
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  const double start = static_cast<double>(before.counters[0]) * 1e-9;
  ASSERT_LT(start, t1) << "the machine was too slow to start the interval before t1";
  std::this_thread::sleep_for(std::chrono::duration<double>(t1 - start + 0.15));
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 10 * r.seconds, kRel * 10 * r.seconds + kAbs);
}

TEST_F(Meter, EnergyIsInterpolatedBetweenReadings) {
  // Two readings around the interval's start and one far past its end, with a change of power
  // inside it: 100 W until t1, 300 W after. Stamped ahead of time, as a meter's are not, so that
  // the interval falls between known readings.
  const double t0 = now_s() - 1, t1 = now_s() + 0.3, t2 = t1 + 10;
  auto bridge = FakeBridge::tcp([=](FakeBridge& b) {
    b.line(reading(t0, 1000, "J"));
    b.line(reading(t1, 1000 + 100 * (t1 - t0), "J"));
    b.line(reading(t2, 1000 + 100 * (t1 - t0) + 300 * (t2 - t1), "J"));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_TRUE(eventually([&] { return sensor->update_interval_s() > 2; }));  // all three lines in
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  const double start = static_cast<double>(before.counters[0]) * 1e-9;
  ASSERT_LT(start, t1) << "the machine was too slow to start the interval before t1";
  std::this_thread::sleep_for(std::chrono::duration<double>(t1 - start + 0.15));
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  const double end = start + r.seconds;
  EXPECT_NEAR(r.joules, 100 * (t1 - start) + 300 * (end - t1), 1.0);  // 1 J: 3 ms at 300 W
}

TEST_F(Meter, AnIntervalBeforeTheFirstReadingIsUnavailable) {
  const double t0 = now_s() + 0.2;  // the meter's first reading is still to come
  auto bridge = FakeBridge::tcp([t0](FakeBridge& b) {
    b.line(reading(t0, 0, "J"));
    b.line(reading(t0 + 100, 100, "J"));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto r = measure(*sensor, 300ms);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("no meter reading at or before the interval's start"), std::string::npos) << r.reason;
}

TEST_F(Meter, CommentsBlankLinesCrlfAndTrailingBlanksAreTolerated) {
  auto bridge = FakeBridge::tcp([](FakeBridge& b) {
    const double t0 = now_s();
    b.send("# xpubench meter bridge\r\n\r\n   \n");
    int i = 0;
    do {
      const double t = now_s();
      b.send(reading(t, 20 * (t - t0), "J") + (i++ % 2 ? " \t\r\n" : "\r\n") + "# a comment\n\n");
    } while (b.wait(20ms));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto r = measure(*sensor, 150ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 20 * r.seconds, kRel * 20 * r.seconds + kAbs);
}

TEST_F(Meter, ABadLineMakesTheSensorUnavailableForGood) {
  auto bridge = FakeBridge::tcp([](FakeBridge& b) {
    const double t = now_s();
    b.line(reading(t - 0.1, 1, "J"));
    b.line("# comments and blank lines are lines too");
    b.line("");
    b.line("xyz");
    do b.line(reading(now_s(), 2, "J"));  // good lines after it change nothing
    while (b.wait(20ms));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  const std::string expected = "meter " + bridge->spec() + ", line 4: expected '<unix seconds> <value> J|W', got 'xyz'";
  ASSERT_TRUE(eventually([&] { return !sensor->unavailable_reason().empty(); }));
  EXPECT_EQ(sensor->unavailable_reason(), expected);
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(sensor->unavailable_reason(), expected);
  const auto before = sensor->snapshot();
  EXPECT_FALSE(before.ok);
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_NE(r.reason.find(expected), std::string::npos) << r.reason;
}

TEST_F(Meter, ABadLineDuringAnIntervalMakesItUnavailable) {
  std::atomic<bool> go_bad{false};
  auto bridge = FakeBridge::tcp([&go_bad](FakeBridge& b) {
    do b.line(go_bad ? std::string("12.5 W") : reading(now_s(), 40, "W"));
    while (b.wait(20ms));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  std::this_thread::sleep_for(50ms);
  go_bad = true;
  ASSERT_TRUE(eventually([&] { return !sensor->unavailable_reason().empty(); }));
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("got '12.5 W'"), std::string::npos) << r.reason;
}

TEST_F(Meter, ACounterGoingBackwardsBreaksTheIntervalsAcrossIt) {
  std::atomic<bool> reset{false};
  auto bridge = FakeBridge::tcp(steady_meter(100, "J", 20ms, &reset));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  std::this_thread::sleep_for(60ms);
  reset = true;
  std::this_thread::sleep_for(80ms);
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("the meter's counter went backwards"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("(a meter reset)"), std::string::npos) << r.reason;
  // Not for good: an interval after the reset is measured.
  EXPECT_EQ(sensor->unavailable_reason(), "");
  const auto r2 = measure(*sensor, 150ms);
  ASSERT_TRUE(r2.available) << r2.reason;
  EXPECT_NEAR(r2.joules, 100 * r2.seconds, kRel * 100 * r2.seconds + kAbs);
}

TEST_F(Meter, SilenceIsUnavailableWithinTheBound) {
  auto bridge = FakeBridge::tcp([](FakeBridge& b) {
    const double t0 = now_s();
    for (int i = 0; i < 5; ++i) {
      const double t = now_s();
      b.line(reading(t, 100 * (t - t0), "J"));
      b.wait(20ms);
    }
    // ... and nothing more, the connection still open.
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  std::this_thread::sleep_for(150ms);
  const auto t = Clock::now();
  const auto r = sensor->since(before);
  EXPECT_LT(seconds_since(t), 6.0);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("fell silent"), std::string::npos) << r.reason;
}

TEST_F(Meter, NoLineAtAllIsUnavailableAfterTheGraceWait) {
  auto bridge = FakeBridge::tcp([](FakeBridge&) {});  // connected, silent
  const auto t = Clock::now();
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  EXPECT_LT(seconds_since(t), 4.0);
  EXPECT_EQ(sensor->unavailable_reason(), "no reading from the meter " + bridge->spec() + " yet");
  EXPECT_DOUBLE_EQ(sensor->update_interval_s(), 1.0);
  const auto before = sensor->snapshot();
  EXPECT_FALSE(before.ok);
  const auto t2 = Clock::now();
  const auto r = sensor->since(before);
  EXPECT_LT(seconds_since(t2), 6.0);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("no reading from the meter"), std::string::npos) << r.reason;
}

TEST_F(Meter, ConnectionRefusedSaysSo) {
  const std::string spec = "tcp:127.0.0.1:" + std::to_string(closed_port());
  const auto t = Clock::now();
  auto sensor = xpb::make_meter_sensor(spec);
  EXPECT_LT(seconds_since(t), 1.5);  // no grace wait for a meter that cannot be reached
  EXPECT_EQ(sensor->unavailable_reason(), "cannot connect to the meter at " + spec + ": Connection refused");
  EXPECT_DOUBLE_EQ(sensor->update_interval_s(), 1.0);
  EXPECT_FALSE(sensor->since(sensor->snapshot()).available);
}

TEST_F(Meter, MissingFifoAndNotAFifoSaySo) {
  const auto missing = dir_ / "absent.fifo";
  auto a = xpb::make_meter_sensor("fifo:" + missing.string());
  EXPECT_EQ(a->unavailable_reason(),
            "cannot open the meter's FIFO " + missing.string() + ": No such file or directory");
  const auto file = dir_ / "plain";
  std::ofstream(file) << reading(now_s(), 1, "J") << "\n";
  auto b = xpb::make_meter_sensor("fifo:" + file.string());
  EXPECT_NE(b->unavailable_reason().find(file.string() + " is not a FIFO"), std::string::npos)
      << b->unavailable_reason();
}

TEST_F(Meter, AFifoWriterClosingDoesNotEndTheSensor) {
  // The harshest bridge: a writer per line (a shell loop of `echo ... > fifo`).
  auto bridge = FakeBridge::fifo(make_fifo(), [](FakeBridge& b) {
    const double t0 = now_s();
    do {
      const double t = now_s();
      if (!b.line(reading(t, 100 * (t - t0), "J")) || !b.reconnect()) return;
    } while (b.wait(20ms));
  });
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto r = measure(*sensor, 200ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 100 * r.seconds, kRel * 100 * r.seconds + kAbs);
}

// A bridge that restarts after 10 lines (200 ms): the sensor connects again.
FakeBridge::Script restarting_meter(double watts, const char* unit) {
  return [=](FakeBridge& b) {
    const double t0 = now_s();
    for (int i = 0;; ++i) {
      if (i == 10 && !b.reconnect()) return;
      const double t = now_s();
      const std::string l = unit[0] == 'J' ? reading(t, watts * (t - t0), "J") : reading(t, watts, "W");
      if (!b.line(l) || !b.wait(20ms)) return;
    }
  };
}

TEST_F(Meter, TheSensorReconnectsToABridgeThatWasRestarted) {
  auto bridge = FakeBridge::tcp(restarting_meter(30, "J"));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  std::this_thread::sleep_for(400ms);  // past the restart
  // A counter is a counter: the interval across the reconnection is measured.
  const auto across = sensor->since(before);
  ASSERT_TRUE(across.available) << across.reason;
  EXPECT_NEAR(across.joules, 30 * across.seconds, kRel * 30 * across.seconds + kAbs);
  const auto r = measure(*sensor, 150ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 30 * r.seconds, kRel * 30 * r.seconds + kAbs);
}

TEST_F(Meter, WattLinesStartAgainAfterAReconnection) {
  auto bridge = FakeBridge::tcp(restarting_meter(30, "W"));
  auto sensor = xpb::make_meter_sensor(bridge->spec());
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  std::this_thread::sleep_for(400ms);  // past the restart
  // The first W line after it may average over lines the sensor never saw: not integrated.
  const auto across = sensor->since(before);
  EXPECT_FALSE(across.available);
  EXPECT_NE(across.reason.find("the first power reading after the bridge reconnected"), std::string::npos)
      << across.reason;
  const auto r = measure(*sensor, 150ms);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 30 * r.seconds, kRel * 30 * r.seconds + kAbs);
}

TEST(MeterSpec, OnlyLoopbackIsAccepted) {
  for (const char* spec : {"tcp:10.0.0.5:4455", "tcp:192.168.1.20:4455", "tcp:0.0.0.0:4455", "tcp:meter.lab:4455",
                           "tcp:[2001:db8::1]:4455", "tcp:128.0.0.1:4455"}) {
    try {
      xpb::make_meter_sensor(spec);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("the meter must be on loopback"), std::string::npos) << e.what();
    }
  }
}

TEST(MeterSpec, LoopbackFormsAreAccepted) {
  const std::string port = std::to_string(closed_port());
  for (const auto& spec : {"tcp:127.0.0.1:" + port, "tcp:127.1.2.3:" + port, "tcp:localhost:" + port, "tcp:::1:" + port,
                           "tcp:[::1]:" + port}) {
    EXPECT_NO_THROW({
      auto sensor = xpb::make_meter_sensor(spec);
      EXPECT_NE(sensor->unavailable_reason(), "");  // nothing listens there
    }) << spec;
  }
}

TEST(MeterSpec, MalformedSpecsAreRejected) {
  for (const char* spec :
       {"", "meter", "udp:127.0.0.1:4455", "tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536",
        "tcp:127.0.0.1:12ab", "tcp:127.0.0.1:-1", "tcp::4455", "fifo:", "FIFO:/tmp/x"}) {
    try {
      xpb::make_meter_sensor(spec);
      ADD_FAILURE() << "'" << spec << "' was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("expected 'fifo:PATH' or 'tcp:127.0.0.1:PORT'"), std::string::npos)
          << e.what();
    }
  }
}

TEST_F(Meter, DestructorReturnsPromptlyWithTheWriterConnected) {
  {
    auto bridge = FakeBridge::tcp([](FakeBridge& b) { b.line(reading(now_s(), 1, "J")); });
    auto sensor = xpb::make_meter_sensor(bridge->spec());
    ASSERT_EQ(sensor->unavailable_reason(), "");
    const auto t = Clock::now();
    sensor.reset();
    EXPECT_LT(seconds_since(t), 1.0);
  }
  {
    auto bridge = FakeBridge::fifo(make_fifo(), [](FakeBridge& b) { b.line(reading(now_s(), 1, "J")); });
    auto sensor = xpb::make_meter_sensor(bridge->spec());
    ASSERT_EQ(sensor->unavailable_reason(), "");
    const auto t = Clock::now();
    sensor.reset();
    EXPECT_LT(seconds_since(t), 1.0);
  }
  {
    // A FIFO no writer ever opens: the grace wait, then a prompt end.
    auto sensor = xpb::make_meter_sensor("fifo:" + make_fifo("lonely.fifo").string());
    EXPECT_EQ(sensor->unavailable_reason(),
              "no reading from the meter fifo:" + (dir_ / "lonely.fifo").string() + " yet");
    const auto t = Clock::now();
    sensor.reset();
    EXPECT_LT(seconds_since(t), 1.0);
  }
}

}  // namespace
