#include "xpubench/result_writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "xpubench/error.hpp"
#include "xpubench/integrity.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb {
namespace {

namespace fs = std::filesystem;

// Hostnames, CPU model strings and file names are not guaranteed UTF-8; a result must still be
// written, so invalid bytes become U+FFFD instead of aborting the dump.
std::string dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string now_iso8601_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Without this the rename (or the journal's creation) may be lost on power failure even
// though the file's own data reached the disk.
void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some filesystems refuse to open directories; the data is still written
  ::fsync(fd);
  ::close(fd);
}

void create_parent(const fs::path& file) {
  const auto parent = file.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error(parent.string() + ": cannot create directory: " + ec.message());
}

void write_line(std::FILE* f, const fs::path& path, const std::string& line) {
  // One fwrite of the whole line: a crash can then only cut off the end of the last line,
  // which load_result recognises as truncation.
  if (std::fwrite(line.data(), 1, line.size(), f) != line.size() || std::fflush(f) != 0 ||
      ::fsync(::fileno(f)) != 0)
    throw std::runtime_error(path.string() + ": cannot write the journal: " + errno_text(errno));
}

// Takes `<out>.lock` exclusively (flock) and writes this process's pid into it, so a second
// writer of the same path is refused while this one lives. The lock dies with the process;
// a lock file left by a killed run is simply taken over.
int take_lock(const fs::path& out) {
  fs::path lock = out;
  lock += ".lock";
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) throw std::runtime_error(lock.string() + ": cannot create the lock file: " + errno_text(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {};
      const auto n = ::pread(fd, pid, sizeof pid - 1, 0);
      ::close(fd);
      std::string owner = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : std::string();
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
      throw InputError(out.string() + ": another xpubench run" + (owner.empty() ? "" : " (pid " + owner + ")") +
                       " is writing this result; wait for it or choose another -o");
    }
    // The previous owner removes the lock file as it finishes: if that happened between our
    // open and our lock, we hold a lock on a file nobody else will see. Start again.
    struct stat held {}, named {};
    if (::fstat(fd, &held) != 0 || ::stat(lock.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
        held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // The pid is only for the message another run prints; the lock holds without it.
    }
    return fd;
  }
  throw std::runtime_error(lock.string() + ": the lock file keeps being replaced; cannot take it");
}

// Gives the lock up: the file goes first (while still held), so no one can take a lock on a
// file that is about to vanish without noticing (see take_lock).
void release_lock(const fs::path& out, int& fd) {
  if (fd < 0) return;
  fs::path lock = out;
  lock += ".lock";
  ::unlink(lock.c_str());
  ::close(fd);
  fd = -1;
}

// A journal left by a crashed run may be the only copy of what it measured: move it aside
// (to the first free JOURNAL.N, never over another) rather than truncate it; if it cannot be
// moved, the run does not start.
void keep_old_journal(const fs::path& journal) {
  struct stat st{};
  if (::lstat(journal.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return;
    throw std::runtime_error(journal.string() + ": cannot look at the journal of an earlier run: " + errno_text(err));
  }
  for (int i = 1; i < 1000; ++i) {
    fs::path aside = journal;
    aside += "." + std::to_string(i);
    // RENAME_NOREPLACE: an aside that appeared meanwhile is never replaced.
    if (::renameat2(AT_FDCWD, journal.c_str(), AT_FDCWD, aside.c_str(), RENAME_NOREPLACE) == 0) return;
    const int err = errno;
    if (err != EEXIST)
      throw std::runtime_error(journal.string() + ": cannot move the journal of an earlier run aside to " +
                               aside.string() + ": " + errno_text(err));
  }
  throw std::runtime_error(journal.string() + ": 999 journals of earlier runs are already kept beside it (" +
                           journal.string() + ".1 ...); move them away first");
}

// Line and column (1-based) of byte offset `pos` (0-based) in `text`.
std::pair<int, int> line_column(const std::string& text, std::size_t pos) {
  pos = std::min(pos, text.size());
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < pos; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return {line, static_cast<int>(pos - line_start) + 1};
}

// nlohmann's message without its "[json.exception...] parse error at line L, column C: "
// prefix, which would repeat (and, for one journal line, misstate) the place.
std::string parse_message(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  const auto at = what.find("syntax error");
  if (at != std::string::npos) return what.substr(at);
  const auto colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// nlohmann's byte is 1-based and points at the last character read.
std::size_t error_offset(const nlohmann::json::parse_error& e) { return e.byte == 0 ? 0 : e.byte - 1; }

// The whole of a result file. Only a regular file is read (a FIFO would block, a device could
// be endless), and a file too large for the memory left is an error naming it.
std::string read_text(const fs::path& file) {
  const std::string name = file.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) throw InputError(name + ": cannot read: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(name + ": is a directory; expected a result document or journal");
  if (!S_ISREG(st.st_mode)) throw InputError(name + ": is not a regular file (a FIFO, device or socket)");
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw InputError(name + ": cannot read: " + errno_text(errno));
  std::string text;
  try {
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw InputError(name + ": is not a regular file");
    text.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    for (;;) {
      const auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw InputError(name + ": cannot read: " + errno_text(errno));
      if (n == 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
  } catch (const std::bad_alloc&) {
    ::close(fd);
    throw InputError(name + ": out of memory while reading " + std::to_string(st.st_size) + " bytes");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

bool is_journal_header(const nlohmann::json& j) {
  return j.is_object() && j.contains("kind") && j["kind"] == "header";
}

nlohmann::json load_journal(const fs::path& file, std::string text) {
  const std::string name = file.string();
  // Delayed allocation can leave a file's tail as NUL bytes after a power cut: that is the
  // same as a line that was never written.
  while (!text.empty() && text.back() == '\0') text.pop_back();

  struct Line {
    int number;
    std::string text;
  };
  std::vector<Line> lines;
  std::size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    ++number;
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back({number, std::move(line)});
    start = end + 1;
  }
  const bool ends_with_newline = !text.empty() && text.back() == '\n';

  nlohmann::json header;
  std::vector<nlohmann::json> records;
  auto dropped = nlohmann::json::array();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& [n, line] = lines[i];
    const bool last = i + 1 == lines.size();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::out_of_range&) {
      throw InputError(name, n, 0, "a number out of range: expected a finite double");
    } catch (const nlohmann::json::parse_error& e) {
      // The writer puts a line and its newline down in one write, so a crash mid-write leaves
      // an unterminated last line that is a prefix of JSON (the parser ran out of input).
      const bool truncated = last && !ends_with_newline && error_offset(e) >= line.size() - 1;
      if (truncated && i > 0) {
        dropped.push_back({{"line", n}, {"reason", "cut off: the run stopped while writing it"}});
        break;
      }
      const int column = static_cast<int>(std::min(error_offset(e), line.size())) + 1;
      if (truncated)
        throw InputError(name, n, column, "the journal's header line is cut off (the run stopped while starting)");
      throw InputError(name, n, column, "not a JSON line: " + parse_message(e));
    }
    if (i == 0) {
      if (!is_journal_header(j))
        throw InputError(name, n, 0, "expected the journal header {\"kind\": \"header\", \"run\": ..., ...}");
      header = std::move(j);
      header.erase("kind");
      continue;
    }
    if (!j.is_object() || !j.contains("kind") || j["kind"] != "benchmark" || !j.contains("record") ||
        !j["record"].is_object())
      throw InputError(name, n, 0, "expected a benchmark line {\"kind\": \"benchmark\", \"record\": {...}}");
    records.push_back(std::move(j["record"]));
  }
  if (header.is_null()) throw InputError(name + ": empty journal (no header line)");

  const std::size_t count = records.size();
  auto doc = assemble_result(header, std::move(records), "incomplete");
  nlohmann::json recovery = {{"from", "journal"}, {"file", name}, {"records", count}};
  if (!dropped.empty()) recovery["dropped_lines"] = dropped;
  doc["run"]["recovery"] = std::move(recovery);
  return doc;
}

// Counts what a parse would make, with a SAX pass that holds nothing: values and string bytes.
// Also how deep values nest: the JSON library writes and compares values recursively, so a
// document nested 200,000 deep would overflow the stack in the first dump() of it.
struct CountingSax : nlohmann::json_sax<nlohmann::json> {
  static constexpr int kMaxDepth = 512;
  std::uint64_t values = 0, string_bytes = 0;
  int depth = 0;
  bool too_deep = false;
  bool open() {
    ++values;
    too_deep = too_deep || ++depth > kMaxDepth;
    return !too_deep;  // stops the pass: the answer is known
  }
  bool null() override { return ++values, true; }
  bool boolean(bool) override { return ++values, true; }
  bool number_integer(number_integer_t) override { return ++values, true; }
  bool number_unsigned(number_unsigned_t) override { return ++values, true; }
  bool number_float(number_float_t, const string_t&) override { return ++values, true; }
  bool string(string_t& s) override { return ++values, string_bytes += s.size(), true; }
  bool binary(binary_t&) override { return ++values, true; }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t& s) override { return string_bytes += s.size() + 64, true; }  // a map node per key
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

// The memory this process may still take: its address-space limit less what it maps now, and
// what the machine has available, whichever is less.
std::uint64_t memory_left() {
  std::uint64_t left = read_memory_info().usable_bytes();
  if (left == 0) left = std::numeric_limits<std::uint64_t>::max();  // unknown: no bound from the machine
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    statm >> pages;
    const std::uint64_t mapped = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    left = std::min<std::uint64_t>(left, as.rlim_cur > mapped ? as.rlim_cur - mapped : 0);
  }
  return left;
}

// A document whose parsed form would not fit is refused before the parse: running out of
// memory inside the JSON library can end in std::terminate (its destructors allocate), which
// no catch would reach.
void check_room_to_parse(const std::string& name, const std::string& text) {
  CountingSax count;
  nlohmann::json::sax_parse(text, &count, nlohmann::json::input_format_t::json, false);
  if (count.too_deep)
    throw InputError(name + ": values nest deeper than " + std::to_string(CountingSax::kMaxDepth) +
                     " levels; an xpubench result nests fewer than 20");
  // A json value is 16 bytes; arrays grow by doubling and objects keep a tree node per key.
  const std::uint64_t needed = count.values * 40 + count.string_bytes * 2 + text.size();
  const std::uint64_t left = memory_left();
  if (needed > left)
    throw InputError(name + ": out of memory: reading this document needs about " + std::to_string(needed >> 20) +
                     " MiB; " + std::to_string(left >> 20) + " MiB are left to this process");
}

nlohmann::json parse_document(const std::filesystem::path& file, const std::string& text) {
  const std::string name = file.string();
  try {
    auto doc = nlohmann::json::parse(text);
    // A journal holding only its header is one JSON object too.
    if (is_journal_header(doc)) return load_journal(file, text);
    if (!doc.is_object() || !doc.contains("schema"))
      throw InputError(name + ": not an xpubench result (no \"schema\" key)");
    return doc;
  } catch (const nlohmann::json::out_of_range& e) {
    // A number the parser read but a double cannot hold (1e999): the place is where that
    // number is written.
    const std::string what = e.what();
    const auto q0 = what.find('\''), q1 = what.rfind('\'');
    const auto number = q0 != std::string::npos && q1 > q0 ? what.substr(q0 + 1, q1 - q0 - 1) : std::string();
    const auto at = number.empty() ? std::string::npos : text.find(number);
    const auto [line, column] = line_column(text, at == std::string::npos ? 0 : at);
    throw InputError(name, at == std::string::npos ? 0 : line, at == std::string::npos ? 0 : column,
                     "a number out of range" + (number.empty() ? std::string() : " (" + number + ")") +
                         ": expected a finite double");
  } catch (const nlohmann::json::parse_error& e) {
    // JSON Lines: the whole file is not one JSON value, but its first line is a journal line
    // (or the file is named like a journal, in which case load_journal says what is wrong).
    const auto first_line = text.substr(0, text.find('\n'));
    const auto first = nlohmann::json::parse(first_line, nullptr, false);
    if (file.extension() == ".journal" || (first.is_object() && first.contains("kind")))
      return load_journal(file, text);
    const auto [line, column] = line_column(text, error_offset(e));
    throw InputError(name, line, column, "not valid JSON: " + parse_message(e));
  }
}

}  // namespace

ResultWriter::ResultWriter(std::filesystem::path out, nlohmann::json header)
    : out_(std::move(out)), header_(std::move(header)) {
  journal_path_ = out_;
  journal_path_ += ".journal";
  create_parent(out_);
  // Nothing of the path's is touched until this process owns it.
  lock_fd_ = take_lock(out_);
  try {
    keep_old_journal(journal_path_);
  } catch (...) {
    release_lock(out_, lock_fd_);
    throw;
  }
  journal_ = std::fopen(journal_path_.c_str(), "we");
  if (journal_ == nullptr) {
    const int err = errno;
    release_lock(out_, lock_fd_);
    throw std::runtime_error(journal_path_.string() + ": cannot create the journal: " + errno_text(err));
  }
  try {
    auto line = header_;
    line.erase("kind");
    nlohmann::json first = {{"kind", "header"}};
    first.update(line);
    write_line(journal_, journal_path_, dump(first) + "\n");
  } catch (...) {
    std::fclose(journal_);
    journal_ = nullptr;
    release_lock(out_, lock_fd_);
    throw;
  }
  fsync_directory(journal_path_.parent_path());
}

ResultWriter::~ResultWriter() {
  // finish() was never called: the journal stays, as the record of an unfinished run.
  if (journal_ != nullptr) std::fclose(journal_);
  release_lock(out_, lock_fd_);
}

const nlohmann::json& ResultWriter::append(const BenchmarkRecord& record) { return append(record.to_json()); }

const nlohmann::json& ResultWriter::append(nlohmann::json j) {
  if (journal_ == nullptr) throw std::logic_error("ResultWriter::append after finish()");
  write_line(journal_, journal_path_, dump(nlohmann::json{{"kind", "benchmark"}, {"record", j}}) + "\n");
  records_.push_back(std::move(j));
  return records_.back();
}

nlohmann::json ResultWriter::finish(const std::string& status) {
  if (status != "complete" && status != "interrupted")
    throw std::invalid_argument("a finished run is complete or interrupted, not '" + status + "'");
  auto doc = assemble_result(header_, records_, status);
  write_file_atomically(out_, dump(doc, 2) + "\n");
  // Only now is the journal redundant; until the rename it was the sole durable copy.
  if (journal_ != nullptr) {
    std::fclose(journal_);
    journal_ = nullptr;
  }
  // This writer's own journal (the lock guarantees no other run wrote it).
  std::error_code ec;
  fs::remove(journal_path_, ec);
  release_lock(out_, lock_fd_);
  return doc;
}

nlohmann::json assemble_result(const nlohmann::json& header, std::vector<nlohmann::json> records,
                               const std::string& status) {
  nlohmann::json doc = {{"schema", std::string(kResultSchema)}};
  if (header.is_object())
    for (const auto& [key, value] : header.items())
      if (key != "kind" && key != "benchmarks") doc[key] = value;
  if (!doc["run"].is_object()) doc["run"] = nlohmann::json::object();
  doc["run"]["status"] = status;
  doc["run"]["finished"] = status == "incomplete" ? nlohmann::json(nullptr) : nlohmann::json(now_iso8601_utc());
  doc["benchmarks"] = nlohmann::json(std::move(records));
  // A finished run's document carries its SHA-256 (integrity.hpp); a journal read back as an
  // incomplete one does not: nothing attests what it holds.
  if (status != "incomplete") doc["integrity"] = integrity_of(doc);
  return doc;
}

nlohmann::json load_result(const std::filesystem::path& file) {
  const std::string text = read_text(file);
  const std::string name = file.string();
  try {
    check_room_to_parse(name, text);
    return parse_document(file, text);
  } catch (const std::bad_alloc&) {
    throw InputError(name + ": out of memory while parsing " + std::to_string(text.size()) + " bytes of JSON");
  } catch (const nlohmann::json::exception& e) {
    // A value the parser accepted but cannot hold (1e999 is out of a double's range), or a
    // document of the wrong shape: the file is named, never the library's raw message alone.
    throw InputError(name + ": not a readable result: " + std::string(e.what()).substr(std::string(e.what()).find(']') + 2));
  }
}

void check_output_path(const std::filesystem::path& path, const std::string& what) {
  if (path.empty()) throw InputError(what + " \"\": expected a file name");
  const std::string name = path.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      throw InputError(what + " " + name + ": is a directory; expected a file name such as " + (path / "result.json").string());
    if (!S_ISREG(st.st_mode))
      throw InputError(what + " " + name + ": exists and is not a regular file (a FIFO, device or socket); "
                       "expected a regular file or a new path");
  } else if (errno != ENOENT && errno != ENOTDIR) {  // ENOTDIR: a parent is a file (reported below)
    throw InputError(what + " " + name + ": " + errno_text(errno));
  }
  // A missing directory is made (results/ on a fresh clone); one that cannot be is an error now.
  const auto parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec || !fs::is_directory(parent, ec))
    throw InputError(what + " " + name + ": cannot create the directory " + parent.string() +
                     (ec ? ": " + ec.message() : ""));
  if (::access(parent.c_str(), W_OK) != 0)
    throw InputError(what + " " + name + ": cannot write in " + parent.string() + ": " + errno_text(errno));
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  create_parent(path);
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error(tmp.string() + ": cannot create: " + errno_text(errno));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp.string() + ": " + what + ": " + errno_text(err));
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp.string() + ": cannot close: " + errno_text(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(path.string() + ": cannot replace: " + errno_text(err));
  }
  fsync_directory(path.parent_path());
}

}  // namespace xpb
