// An external power meter (a lab power analyzer) read through a bridge program on this machine,
// which speaks the meter's own protocol and writes one line per reading:
//   <unix time in seconds, decimal> <value> J    cumulative joules (a counter), or
//   <unix time in seconds, decimal> <value> W    average watts since the previous line
// '#' comments and blank lines are skipped; trailing blanks and CRLF line ends are tolerated.
// The bridge writes a FIFO ("fifo:PATH") or serves a loopback TCP port ("tcp:127.0.0.1:PORT").
// It must run here: its timestamps are compared with this machine's clock, and a meter across a
// network would put the network's delay and another clock between the two.
//
// The readings become one cumulative energy E(t) in unix time; an interval's energy is
// E(end) - E(start), each end linearly interpolated between the readings around it. For W lines
// each reading adds watts x (its time - the previous line's time): the value is the meter's
// average over exactly that span, so that product is the span's energy and the interpolation
// between two readings is the meter's own constant average. A trapezoid with the previous W
// value would move energy between neighbouring spans. The first W line (of the stream, or after
// a break) has no span it is known to cover: it only starts the integral.
//
// The readings are kept in segments: a counter going backwards (a meter reset), time not moving
// forwards, a switch between J and W lines, or a reconnection of the TCP bridge starts a new
// one, and an interval that crosses two segments is not measured.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "xpubench/energy.hpp"

namespace xpb {

namespace {

using namespace std::chrono_literals;

constexpr const char* kSource = "meter";
constexpr const char* kExpected = "expected '<unix seconds> <value> J|W'";
// A reading is a short line: anything longer without a newline is not the protocol.
constexpr std::size_t kMaxLine = 4096;
// The history kept for interpolation: a million readings (24 MB), about 5.8 hours of a meter
// at 50 lines a second. Past that the older half is thinned (every other reading dropped),
// which keeps every energy exact at the readings kept and only coarsens interpolation there.
constexpr std::size_t kMaxReadings = std::size_t{1} << 20;
// The median of the last 63 spacings between readings is the meter's interval.
constexpr std::size_t kSpacingWindow = 63;
// How long construction waits for the first line, so that a bridge started just before
// xpubench is seen as working.
constexpr auto kFirstLineGrace = 2s;
// since() waits for a reading past the interval's end for 3 meter intervals, at least 0.5 s
// (a bridge competing with a benchmark that loads every core can be descheduled for tens of
// milliseconds) and at most 5 s.
constexpr double kWaitIntervals = 3, kWaitFloorS = 0.5, kWaitCapS = 5;

std::string errno_text(int err) {
  char buf[128];
  return ::strerror_r(err, buf, sizeof buf);  // the GNU variant: returns the message
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// A line as it can be shown in a message: printable, and not too long.
std::string printable(std::string_view line) {
  std::string q;
  for (const char c : line.substr(0, 80)) q += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (line.size() > 80) q += "...";
  return q;
}

struct Endpoint {
  int family = AF_INET;
  in_addr v4{};
  in6_addr v6{};
};

struct Spec {
  bool fifo = false;
  std::string path;                 // fifo
  std::vector<Endpoint> endpoints;  // tcp: tried in order
  std::uint16_t port = 0;
};

Spec parse_spec(const std::string& spec) {
  const std::string usage = "meter spec '" + spec + "': expected 'fifo:PATH' or 'tcp:127.0.0.1:PORT'";
  Spec s;
  const std::string_view text = spec;
  if (text.substr(0, 5) == "fifo:") {
    s.fifo = true;
    s.path = std::string(text.substr(5));
    if (s.path.empty()) throw std::invalid_argument(usage + " (no path)");
    return s;
  }
  if (text.substr(0, 4) != "tcp:") throw std::invalid_argument(usage);
  const std::string_view rest = text.substr(4);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) throw std::invalid_argument(usage);
  std::string host(rest.substr(0, colon));
  const std::string_view port = rest.substr(colon + 1);
  unsigned long p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    throw std::invalid_argument(usage + " (a port from 1 to 65535)");
  s.port = static_cast<std::uint16_t>(p);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string not_loopback = "meter spec '" + spec +
                                   "': the meter must be on loopback (127.x.x.x, ::1 or "
                                   "localhost): its bridge runs on this machine and stamps readings with this "
                                   "machine's clock";
  Endpoint e;
  if (host == "localhost") {
    ::inet_pton(AF_INET, "127.0.0.1", &e.v4);
    s.endpoints.push_back(e);
    e.family = AF_INET6;
    e.v6 = in6addr_loopback;
    s.endpoints.push_back(e);
  } else if (::inet_pton(AF_INET, host.c_str(), &e.v4) == 1) {
    if ((ntohl(e.v4.s_addr) >> 24) != 127) throw std::invalid_argument(not_loopback);
    s.endpoints.push_back(e);
  } else if (::inet_pton(AF_INET6, host.c_str(), &e.v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&e.v6)) throw std::invalid_argument(not_loopback);
    e.family = AF_INET6;
    s.endpoints.push_back(e);
  } else {
    throw std::invalid_argument(not_loopback);  // a host name: never looked up
  }
  return s;
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// One line of the protocol, parsed; nothing when it is not one.
struct Line {
  double time = 0;
  double value = 0;
  char unit = 0;  // 'J' or 'W'
};

std::optional<Line> parse_line(std::string_view s) {
  std::string_view tokens[3];
  std::size_t n = 0;
  while (!s.empty()) {
    const auto start = s.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    s.remove_prefix(start);
    const auto len = std::min(s.find_first_of(" \t"), s.size());
    if (n == 3) return std::nullopt;
    tokens[n++] = s.substr(0, len);
    s.remove_prefix(len);
  }
  if (n != 3) return std::nullopt;
  Line l;
  const auto number_in = [](std::string_view t, double& v) {
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && end == t.data() + t.size() && std::isfinite(v);
  };
  if (!number_in(tokens[0], l.time) || !(l.time > 0) || !number_in(tokens[1], l.value)) return std::nullopt;
  if (tokens[2] != "J" && tokens[2] != "W") return std::nullopt;
  l.unit = tokens[2][0];
  return l;
}

class MeterSensor final : public EnergySensor {
 public:
  explicit MeterSensor(const std::string& spec) : text_(spec), spec_(parse_spec(spec)) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      io_error_ = "cannot create the meter reader's wake-up pipe: " + errno_text(errno);
      return;
    }
    thread_ = std::thread([this] { run(); });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kFirstLineGrace,
                 [this] { return !readings_.empty() || !bad_line_.empty() || (attempted_ && !io_error_.empty()); });
  }

  ~MeterSensor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (wake_[1] >= 0) {
      const char byte = 1;
      [[maybe_unused]] const auto n = ::write(wake_[1], &byte, 1);  // the reader's poll() returns
    }
    if (thread_.joinable()) thread_.join();
    for (const int fd : wake_)
      if (fd >= 0) ::close(fd);
  }

  MeterSensor(const MeterSensor&) = delete;
  // A child forked to isolate a benchmark (--isolate) has a copy of this object but not its
  // reader thread, and perhaps a copy of mu_ locked by that thread at the fork: it must not
  // touch either, so it answers unavailable at once, before any lock.
  static constexpr const char* kForkedChild =
      "the meter is read by a thread of the process that opened it, and this benchmark runs in a child process "
      "(--isolate); run without --isolate for its energy";
  bool in_forked_child() const { return ::getpid() != owner_pid_; }
  MeterSensor& operator=(const MeterSensor&) = delete;

  std::string name() const override { return kSource; }

  std::string covers() const override {
    return "what the external meter is wired to (normally the whole machine at the wall), read from " + text_;
  }

  std::string unavailable_reason() const override {
    if (in_forked_child()) return kForkedChild;
    std::lock_guard<std::mutex> lock(mu_);
    return reason_locked();
  }

  double update_interval_s() const override {
    if (in_forked_child()) return 1.0;
    std::lock_guard<std::mutex> lock(mu_);
    return median_spacing_locked();
  }

  // counters[0]: when the snapshot was taken, in unix nanoseconds (the meter's time base).
  EnergySnapshot snapshot() const override {
    EnergySnapshot s;
    s.when = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    s.counters = {static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count())};
    s.ok = unavailable_reason().empty();
    return s;
  }

  EnergyReading since(const EnergySnapshot& before) const override {
    EnergyReading r;
    r.source = kSource;
    if (in_forked_child()) return unavailable(r, kForkedChild);
    const auto end_steady = std::chrono::steady_clock::now();
    const double end = unix_seconds(std::chrono::system_clock::now());
    std::unique_lock<std::mutex> lock(mu_);
    if (!before.ok || before.counters.size() != 1) {
      const std::string why = reason_locked();
      return unavailable(r, "the snapshot at the start of the interval was taken while the meter was unusable" +
                                (why.empty() ? "" : ": " + why));
    }
    const double start = static_cast<double>(before.counters[0]) * 1e-9;
    r.seconds = std::chrono::duration<double>(end_steady - before.when).count();

    // The reading that closes the interval comes up to a meter interval after its end.
    const double wait_s = std::clamp(kWaitIntervals * median_spacing_locked(), kWaitFloorS, kWaitCapS);
    cv_.wait_for(lock, std::chrono::duration<double>(wait_s), [&] {
      return stopping_ || !bad_line_.empty() || (!readings_.empty() && readings_.back().time >= end);
    });
    if (!bad_line_.empty()) return unavailable(r, bad_line_);
    if (readings_.empty()) return unavailable(r, reason_locked());
    if (readings_.back().time < end)
      return unavailable(r, "the meter " + text_ + " fell silent: its last reading is " +
                                number(end - readings_.back().time) +
                                " s before the interval's end, and none came in the " + number(wait_s) + " s waited" +
                                (io_error_.empty() ? "" : " (" + io_error_ + ")"));
    const Point a = energy_at(start, "start");
    if (!a.why.empty()) return unavailable(r, a.why);
    const Point b = energy_at(end, "end");
    if (!b.why.empty()) return unavailable(r, b.why);
    if (a.segment != b.segment) {
      const auto brk = breaks_.upper_bound(a.segment);
      return unavailable(r, "the meter's readings are broken within the interval: " +
                                (brk != breaks_.end() ? brk->second : std::string("a break")));
    }
    r.available = true;
    r.joules = b.joules - a.joules;
    r.domains = {{"meter", r.joules}};
    return r;
  }

 private:
  struct Reading {
    double time;    // unix seconds
    double joules;  // cumulative, within its segment
    std::uint32_t segment;
  };

  struct Point {
    double joules = 0;
    std::uint32_t segment = 0;
    std::string why;  // empty when known
  };

  static EnergyReading unavailable(EnergyReading r, const std::string& why) {
    r.available = false;
    r.reason = why;
    r.joules = 0;
    r.domains.clear();
    return r;
  }

  std::string reason_locked() const {
    if (!bad_line_.empty()) return bad_line_;
    if (!readings_.empty()) return {};
    if (!io_error_.empty()) return io_error_;
    return "no reading from the meter " + text_ + " yet";
  }

  double median_spacing_locked() const {
    if (spacings_.empty()) return 1.0;
    std::vector<double> v(spacings_.begin(), spacings_.end());
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }

  // E(t), interpolated between the readings around t.
  Point energy_at(double t, const char* which) const {
    Point p;
    const auto hi = std::lower_bound(readings_.begin(), readings_.end(), t,
                                     [](const Reading& rd, double x) { return rd.time < x; });
    if (hi != readings_.end() && hi->time == t) {
      p.joules = hi->joules;
      p.segment = hi->segment;
      return p;
    }
    if (hi == readings_.begin() || hi == readings_.end()) {
      p.why = std::string("no meter reading at or before the interval's ") + which +
              " (the first reading kept is at unix time " + number(readings_.front().time) + ")" +
              (cleared_.empty() ? "" : "; earlier readings were dropped: " + cleared_);
      return p;
    }
    const auto lo = std::prev(hi);
    if (lo->segment != hi->segment) {
      const auto brk = breaks_.find(hi->segment);
      p.why = "the meter's readings are broken at the interval's " + std::string(which) + ": " +
              (brk != breaks_.end() ? brk->second : std::string("a break"));
      return p;
    }
    p.joules = lo->joules + (hi->joules - lo->joules) * (t - lo->time) / (hi->time - lo->time);
    p.segment = hi->segment;
    return p;
  }

  // --- the reader thread ---

  // Waits `d` (less if a signal interrupts), or until woken to stop; false when woken.
  bool pause(std::chrono::milliseconds d) const {
    pollfd p{wake_[0], POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(d.count())) <= 0 || (p.revents & POLLIN) == 0;
  }

  int open_fifo(std::string& error) const {
    const int fd = ::open(spec_.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      error = "cannot open the meter's FIFO " + spec_.path + ": " + errno_text(errno);
      return -1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
      ::close(fd);
      error = spec_.path + " is not a FIFO (the bridge writes a FIFO made with mkfifo)";
      return -1;
    }
    return fd;
  }

  int connect_tcp(std::string& error) const {
    std::string first_error;
    for (const auto& e : spec_.endpoints) {
      const int fd = ::socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        if (first_error.empty()) first_error = errno_text(errno);
        continue;
      }
      sockaddr_in a4{};
      sockaddr_in6 a6{};
      int rc;
      if (e.family == AF_INET) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons(spec_.port);
        a4.sin_addr = e.v4;
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a4), sizeof a4);
      } else {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(spec_.port);
        a6.sin6_addr = e.v6;
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a6), sizeof a6);
      }
      int err = rc == 0 ? 0 : errno;
      if (err == EINPROGRESS) {
        // Loopback answers at once; the wait is bounded anyway, and stopping ends it.
        pollfd p[2] = {{fd, POLLOUT, 0}, {wake_[0], POLLIN, 0}};
        const int n = ::poll(p, 2, 2000);
        socklen_t len = sizeof err;
        if (n <= 0 || (p[1].revents & POLLIN) != 0)
          err = n == 0 ? ETIMEDOUT : ECANCELED;
        else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
          err = errno;
      }
      if (err == 0) return fd;
      ::close(fd);
      if (first_error.empty()) first_error = errno_text(err);
    }
    error = "cannot connect to the meter at " + text_ + ": " + first_error;
    return -1;
  }

  void run() {
    auto backoff = 50ms;
    int fd = -1;
    int empty_eofs = 0;  // ends of stream in a row with no data between them
    bool got_data = false;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
      }
      if (fd < 0) {
        std::string error;
        fd = spec_.fifo ? open_fifo(error) : connect_tcp(error);
        {
          std::lock_guard<std::mutex> lock(mu_);
          attempted_ = true;
          if (fd >= 0 && !spec_.fifo && !io_error_.empty()) restart_ = true;  // a reconnection
          io_error_ = error;
        }
        cv_.notify_all();
        if (fd < 0) {
          // The bridge may not be up yet: try again, less often the longer it takes.
          if (!pause(backoff)) break;
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, 1000ms);
          continue;
        }
        backoff = 50ms;
      }
      pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        record_io_error("polling the meter " + text_ + ": " + errno_text(errno));
        if (!pause(1000ms)) break;
        continue;
      }
      if (p[1].revents != 0) break;
      if (p[0].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        feed(std::string_view(buf, static_cast<std::size_t>(n)));
        got_data = true;
        empty_eofs = 0;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      // The end of the stream: a writer closed the FIFO, the bridge closed the connection, or
      // a read error. What the writer left without a newline is its last line.
      const std::string why = n < 0 ? "reading the meter " + text_ + ": " + errno_text(errno) : "";
      end_of_line_stream();
      if (spec_.fifo && n == 0) {
        // Another writer may come (a bridge started again, or one that opens the FIFO per
        // line): open it afresh before closing this end, so that the FIFO never has no reader
        // (a writer would get SIGPIPE) and a fresh descriptor waits for the next writer.
        if (!got_data && ++empty_eofs > 1 && !pause(50ms)) break;
        got_data = false;
        std::string error;
        const int again = open_fifo(error);
        ::close(fd);
        fd = again;
        if (fd < 0) record_io_error(error);
        continue;
      }
      ::close(fd);
      fd = -1;
      record_io_error(!why.empty() ? why : "the meter's bridge at " + text_ + " closed the connection");
      if (!pause(backoff)) break;
    }
    if (fd >= 0) ::close(fd);
  }

  void record_io_error(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    io_error_ = why;
  }

  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(bytes);
        if (partial_.size() > kMaxLine) {
          ++line_no_;
          bad_line("a line longer than " + std::to_string(kMaxLine) + " bytes, starting '" + printable(partial_) + "'");
          partial_.clear();
          skip_to_newline_ = true;
        }
        return;
      }
      partial_.append(bytes.substr(0, nl));
      bytes.remove_prefix(nl + 1);
      if (skip_to_newline_) {
        skip_to_newline_ = false;
        partial_.clear();
        continue;
      }
      ++line_no_;
      take_line(partial_);
      partial_.clear();
    }
  }

  void end_of_line_stream() {
    if (!partial_.empty() && !skip_to_newline_) {
      ++line_no_;
      take_line(partial_);
    }
    partial_.clear();
    skip_to_newline_ = false;
  }

  void bad_line(const std::string& got) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!bad_line_.empty()) return;  // the first one is the one to fix
      bad_line_ = "meter " + text_ + ", line " + std::to_string(line_no_) + ": " + kExpected + ", got " + got;
    }
    cv_.notify_all();
  }

  void take_line(std::string_view line) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!line.empty() && blank(line.back())) line.remove_suffix(1);
    while (!line.empty() && blank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') return;
    const auto parsed = parse_line(line);
    if (!parsed) {
      bad_line("'" + printable(line) + "'");
      return;
    }
    add(*parsed);
  }

  void add(const Line& l) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!bad_line_.empty()) return;  // unavailable from then on: nothing more is kept
      const std::string at = "line " + std::to_string(line_no_) + ": ";
      double joules = l.unit == 'J' ? l.value : 0.0;
      if (!readings_.empty()) {
        const Reading& prev = readings_.back();
        std::string why;
        if (!(l.time > prev.time)) {
          // Interpolation needs time in order: what came before is dropped.
          cleared_ = at + "time " + number(l.time) + " is not after the previous reading's " + number(prev.time);
          readings_.clear();
          breaks_.clear();
        } else {
          spacings_.push_back(l.time - prev.time);
          if (spacings_.size() > kSpacingWindow) spacings_.pop_front();
          if (l.unit != last_unit_)
            why = at + "the meter switched from " + last_unit_ + " lines to " + l.unit + " lines";
          else if (l.unit == 'J' && l.value < last_value_)
            why = at + "the meter's counter went backwards, from " + number(last_value_) + " J to " + number(l.value) +
                  " J (a meter reset)";
          else if (l.unit == 'W' && restart_)
            why = at + "the first power reading after the bridge reconnected";
          if (why.empty() && l.unit == 'W') joules = prev.joules + l.value * (l.time - prev.time);
          if (!why.empty()) breaks_[++segment_] = why;
        }
      }
      readings_.push_back({l.time, joules, segment_});
      last_unit_ = l.unit;
      last_value_ = l.value;
      restart_ = false;
      if (readings_.size() > kMaxReadings) thin();
    }
    cv_.notify_all();
  }

  // Drops every other reading of the older half (mu_ held).
  void thin() {
    const std::size_t half = readings_.size() / 2;
    std::deque<Reading> kept;
    for (std::size_t i = 0; i < readings_.size(); ++i)
      if (i >= half || i % 2 == 0) kept.push_back(readings_[i]);
    readings_.swap(kept);
    breaks_.erase(breaks_.begin(), breaks_.upper_bound(readings_.front().segment));
  }

  const std::string text_;  // the spec as given, for messages
  const Spec spec_;
  int wake_[2] = {-1, -1};  // the self-pipe: written once, by the destructor

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  // Guarded by mu_:
  bool stopping_ = false;
  bool attempted_ = false;  // the first open or connect has been tried
  std::string io_error_;    // the last open, connect or read failure; cleared on success
  std::string bad_line_;    // the first bad line: the sensor is unavailable from then on
  std::deque<Reading> readings_;
  std::map<std::uint32_t, std::string> breaks_;  // why each segment after the first began
  std::string cleared_;                          // why older readings were dropped, if they were
  std::uint32_t segment_ = 0;
  char last_unit_ = 0;
  double last_value_ = 0;
  bool restart_ = false;  // the TCP bridge reconnected: the next W line starts the integral
  std::deque<double> spacings_;

  // The reader thread's own:
  std::string partial_;  // the line being received
  bool skip_to_newline_ = false;
  std::uint64_t line_no_ = 0;

  std::thread thread_;
  const pid_t owner_pid_ = ::getpid();
};

}  // namespace

std::unique_ptr<EnergySensor> make_meter_sensor(const std::string& spec) { return std::make_unique<MeterSensor>(spec); }

}  // namespace xpb
