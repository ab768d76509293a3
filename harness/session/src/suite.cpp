#include "xpubench/suite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/registry.hpp"

namespace xpb {
namespace {

std::string where(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void fail(const std::string& file, const YAML::Mark& m, const std::string& what) {
  throw InputError(where(file, m) + ": " + what);
}

// Keys are plain strings; a key that is itself a list or mapping is a mistake worth naming.
std::string key_string(const YAML::Node& key, const std::string& file) {
  if (!key.IsScalar()) fail(file, key.Mark(), "expected a plain string as key");
  if (!valid_utf8(key.Scalar())) fail(file, key.Mark(), "a key that is not valid UTF-8");
  return key.Scalar();
}

// yaml-cpp keeps the last of two equal keys silently; a suite that says a thing twice is
// ambiguous, so it is an error.
void check_unique_keys(const YAML::Node& map, const std::string& file) {
  std::set<std::string> seen;
  for (const auto& kv : map)
    if (!seen.insert(key_string(kv.first, file)).second)
      fail(file, kv.first.Mark(), "duplicate key '" + kv.first.Scalar() + "'");
}

// YAML 1.2 core-schema typing of plain scalars; quoted scalars stay strings.
nlohmann::json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  // No number is written in more than 64 characters; a longer scalar is text. (libstdc++'s
  // regex recurses per character, so it never sees one: 60,000 digits overflowed the stack.)
  if (s.size() > 64) return s;
  static const std::regex int_re(R"([-+]?[0-9]+)");
  static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, int_re)) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0) return v;
  }
  if (std::regex_match(s, float_re)) return std::strtod(s.c_str(), nullptr);
  return s;
}

// What converting one file may produce: YAML aliases let a few hundred bytes name 10^8
// values (eight levels of ten references each), so every value is counted as it is made and
// the file refused, at the value where the count ran out, before it can take the memory.
// Includes and entries count too: ten includes of a file that includes ten more, eight deep,
// name 10^8 entries with no value among them.
struct Budget {
  std::size_t values = 0;
  int depth = 0;
  // One more value, entry or include at `mark`; refuses the file when the count runs out.
  void spend(const std::string& file, const YAML::Mark& mark) {
    if (++values > kMaxSuiteValues)
      fail(file, mark, "the suite expands to more than " + std::to_string(kMaxSuiteValues) +
                           " values, entries and includes (YAML aliases or includes repeated many times?)");
  }
};
constexpr int kMaxDepth = 64;

nlohmann::json to_json(const YAML::Node& n, const std::string& file, Budget& budget) {
  budget.spend(file, n.Mark());
  if (budget.depth >= kMaxDepth) fail(file, n.Mark(), "values nest deeper than " + std::to_string(kMaxDepth) + " levels");
  ++budget.depth;
  nlohmann::json out;
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      // Text goes into messages and result documents, which are UTF-8.
      if (!valid_utf8(n.Scalar())) fail(file, n.Mark(), "a value that is not valid UTF-8");
      out = scalar_to_json(n);
      break;
    case YAML::NodeType::Sequence: {
      out = nlohmann::json::array();
      for (const auto& item : n) out.push_back(to_json(item, file, budget));
      break;
    }
    case YAML::NodeType::Map: {
      check_unique_keys(n, file);
      out = nlohmann::json::object();
      for (const auto& kv : n) out[key_string(kv.first, file)] = to_json(kv.second, file, budget);
      break;
    }
    default: out = nullptr;
  }
  --budget.depth;
  return out;
}


void expect_map(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsMap()) fail(file, n.Mark(), "expected " + what + " to be a mapping (key: value lines)");
  check_unique_keys(n, file);
}

std::string expect_string(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsScalar()) fail(file, n.Mark(), "expected " + what + " to be a string");
  if (!valid_utf8(n.Scalar())) fail(file, n.Mark(), "expected " + what + " to be valid UTF-8");
  return n.Scalar();
}

void check_keys(const YAML::Node& map, const std::string& file, const std::set<std::string>& allowed,
                const std::string& context) {
  for (const auto& kv : map) {
    const auto key = key_string(kv.first, file);
    if (!allowed.count(key)) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
      fail(file, kv.first.Mark(), "unknown key '" + key + "' in " + context + " (expected one of: " + names + ")");
    }
  }
}

nlohmann::json parse_policy(const YAML::Node& n, const std::string& file, const std::string& what, Budget& budget) {
  expect_map(n, file, what);
  RunPolicy probe;
  for (const auto& kv : n) {
    nlohmann::json one = {{key_string(kv.first, file), to_json(kv.second, file, budget)}};
    if (auto err = probe.apply(one); !err.empty()) fail(file, kv.first.Mark(), err);
  }
  Budget again;  // the values were counted above; this second walk only assembles them
  return to_json(n, file, again);
}

SuiteEntry parse_entry(const YAML::Node& n, const std::string& file, Budget& budget) {
  expect_map(n, file, "a benchmark entry");
  check_keys(n, file, {"workload", "params", "quick_params", "only_on"}, "a benchmark entry");
  SuiteEntry e;
  e.where = where(file, n.Mark());
  if (!n["workload"]) fail(file, n.Mark(), "benchmark entry needs a 'workload' key (e.g. workload: memory.bandwidth)");
  e.workload = expect_string(n["workload"], file, "'workload'");
  for (const char* key : {"params", "quick_params"}) {
    const YAML::Node p = n[key];
    if (!p) continue;
    expect_map(p, file, std::string("'") + key + "'");
    auto& target = std::string(key) == "params" ? e.params : e.quick_params;
    for (const auto& kv : p) {
      const auto name = key_string(kv.first, file);
      target[name] = to_json(kv.second, file, budget);
      e.param_where.emplace(name, where(file, kv.second.Mark()));
    }
  }
  if (const YAML::Node o = n["only_on"]) {
    if (!o.IsSequence() || o.size() == 0)
      fail(file, o.Mark(), "expected 'only_on' to be a non-empty list of devices (ids, drivers or kinds: [hc1-sim])");
    for (const auto& item : o) {
      budget.spend(file, item.Mark());
      e.only_on.push_back(expect_string(item, file, "a device in 'only_on'"));
    }
  }
  return e;
}

Suite parse_node(const YAML::Node& root, const std::string& file, int depth, Budget& budget);

// The text of a suite file. Only a regular file is opened (a FIFO would block the reader, a
// device could be endless); every failure names the file and the reason.
std::string read_suite_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) throw InputError(name + ": cannot read the suite: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(name + ": is a directory; expected a suite file (.yaml)");
  if (!S_ISREG(st.st_mode))
    throw InputError(name + ": is not a regular file (a FIFO, device or socket); suites are read from regular files only");
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw InputError(name + ": cannot open the suite: " + std::strerror(errno));
  std::string text;
  // Checked again on the open file: the path may have been replaced since the stat.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(name + ": is not a regular file; suites are read from regular files only");
  }
  // A suite is a few KiB; a file of megabytes is not one, whatever it holds.
  constexpr off_t kMaxSuiteBytes = off_t{4} << 20;
  if (st.st_size > kMaxSuiteBytes) {
    ::close(fd);
    throw InputError(name + ": " + std::to_string(st.st_size) + " bytes is too large for a suite file (at most 4 MiB)");
  }
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError(name + ": cannot read the suite: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > static_cast<std::size_t>(kMaxSuiteBytes)) {
      ::close(fd);
      throw InputError(name + ": too large for a suite file (at most 4 MiB)");
    }
  }
  ::close(fd);
  return text;
}

YAML::Node load_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {  // its own message says only "bad file"
    fail(file, e.mark, "values nest deeper than the YAML reader allows (" + std::to_string(e.depth()) + " levels)");
  } catch (const YAML::Exception& e) {
    fail(file, e.mark, e.msg);
  }
}

void include_suites(Suite& s, const YAML::Node& inc, const std::string& file, int depth, Budget& budget) {
  if (!inc.IsSequence()) fail(file, inc.Mark(), "expected 'include' to be a list of suite names");
  for (const auto& item : inc) {
    const auto name = expect_string(item, file, "an included suite name");
    budget.spend(file, item.Mark());
    if (depth > 8) fail(file, item.Mark(), "includes nest deeper than 8 levels (a cycle?)");
    auto path = find_suite(name);
    if (path.empty()) {
      // A sibling file is found even when the search path does not list its directory.
      auto sibling = std::filesystem::path(file).parent_path() / (name + ".yaml");
      if (std::filesystem::exists(sibling)) path = sibling;
    }
    if (path.empty()) fail(file, item.Mark(), "included suite '" + name + "' not found");
    std::string text = read_suite_file(path);
    const YAML::Node sub = load_yaml(text, path.string());
    Suite inner = parse_node(sub, path.string(), depth + 1, budget);
    s.files.emplace_back(path, std::move(text));
    for (auto& f : inner.files) s.files.push_back(std::move(f));
    for (auto& e : inner.entries) {
      e.policy.update(s.policy);
      e.quick_policy.update(s.quick_policy);
      s.entries.push_back(std::move(e));
    }
  }
}

Suite parse_node(const YAML::Node& root, const std::string& file, int depth, Budget& budget) {
  if (!root.IsMap()) fail(file, root.Mark(), "expected a suite: a mapping with 'suite' and 'benchmarks' keys");
  check_unique_keys(root, file);
  check_keys(root, file, {"suite", "description", "policy", "quick_policy", "benchmarks", "include", "quick", "devices"},
             "a suite");
  Suite s;
  s.file = file;
  if (!root["suite"]) fail(file, root.Mark(), "missing key 'suite' (the suite's name)");
  s.name = expect_string(root["suite"], file, "'suite'");
  if (root["description"]) s.description = expect_string(root["description"], file, "'description'");
  if (root["policy"]) s.policy = parse_policy(root["policy"], file, "'policy'", budget);
  if (root["quick_policy"]) s.quick_policy = parse_policy(root["quick_policy"], file, "'quick_policy'", budget);
  if (const YAML::Node q = root["quick"]) {
    const auto v = q.IsScalar() ? scalar_to_json(q) : nlohmann::json();
    if (!v.is_boolean()) fail(file, q.Mark(), "expected 'quick' to be true or false");
    s.quick = v.get<bool>();
  }
  if (const YAML::Node d = root["devices"]) {
    if (!d.IsSequence()) fail(file, d.Mark(), "expected 'devices' to be a list of device ids with options (--device syntax)");
    for (const auto& item : d) {
      budget.spend(file, item.Mark());
      s.devices.push_back(expect_string(item, file, "a device"));
    }
  }
  if (root["include"]) include_suites(s, root["include"], file, depth, budget);
  if (const YAML::Node b = root["benchmarks"]) {
    if (!b.IsSequence()) fail(file, b.Mark(), "expected 'benchmarks' to be a list of entries ('- workload: ...')");
    for (const auto& item : b) {
      budget.spend(file, item.Mark());
      auto e = parse_entry(item, file, budget);
      e.policy = s.policy;
      e.quick_policy = s.quick_policy;
      s.entries.push_back(std::move(e));
    }
  }
  if (s.entries.empty()) fail(file, root.Mark(), "suite '" + s.name + "' has no benchmarks (expected 'benchmarks' or 'include')");
  return s;
}

}  // namespace

Suite parse_suite(const std::string& text, const std::string& file_name) {
  const YAML::Node root = load_yaml(text, file_name);
  try {
    Budget budget;
    return parse_node(root, file_name, 0, budget);
  } catch (const YAML::Exception& e) {  // a conversion the checks above did not foresee
    fail(file_name, e.mark, e.msg);
  }
}

Suite load_suite(const std::filesystem::path& file) {
  std::string text = read_suite_file(file);
  Suite s = parse_suite(text, file.string());
  s.files.insert(s.files.begin(), {file, std::move(text)});
  return s;
}

Suite resolve_suite(const std::string& name) {
  const std::filesystem::path p(name);
  if (p.extension() == ".yaml" || p.extension() == ".yml") return load_suite(p);
  if (auto found = find_suite(name); !found.empty()) return load_suite(found);
  if (WorkloadRegistry::instance().create(name)) return single_workload_suite(name);
  std::string suites, workloads;
  for (const auto& l : list_suites()) suites += (suites.empty() ? "" : ", ") + l.name;
  for (const auto& w : WorkloadRegistry::instance().names()) workloads += (workloads.empty() ? "" : ", ") + w;
  throw InputError("'" + name + "' is neither a suite (" + suites + ", or a .yaml file) nor a workload (" + workloads + ")");
}

std::vector<SuiteListing> list_suites() {
  std::vector<SuiteListing> out;
  std::set<std::string> seen;
  for (const auto& dir : suite_search_path()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".yaml" && e.is_regular_file(ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (!seen.insert(f.stem().string()).second) continue;
      SuiteListing l{f.stem().string(), f, "", 0, ""};
      try {
        auto s = load_suite(f);
        l.description = s.description;
        l.entries = s.entries.size();
      } catch (const std::exception& e) {
        l.error = e.what();
      }
      out.push_back(std::move(l));
    }
  }
  return out;
}

Suite single_workload_suite(const std::string& workload) {
  Suite s;
  s.name = workload;
  s.description = "the workload " + workload + " with its default parameters";
  SuiteEntry e;
  e.workload = workload;
  e.where = "command line";
  s.entries.push_back(e);
  return s;
}

Override parse_override(const std::string& text) {
  const auto eq = text.find('=');
  static const std::regex key_re(R"([A-Za-z_][A-Za-z0-9_.]*)");
  // Keys are short names; a long one is refused before the regex sees it (it recurses per
  // character).
  if (eq == std::string::npos || eq == 0 || eq > 128 || !std::regex_match(text.substr(0, eq), key_re))
    throw InputError("--set '" + text + "': expected key=value, e.g. --set threads=2 or --set policy.max_seconds=1");
  Override o;
  o.key = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (value.empty()) throw InputError("--set '" + text + "': expected a value after '='");
  try {
    Budget budget;
    o.value = to_json(YAML::Load(value), "--set " + o.key, budget);
  } catch (const YAML::Exception& e) {
    throw InputError("--set '" + text + "': the value is not valid YAML: " + e.msg);
  }
  return o;
}

std::vector<std::filesystem::path> suite_search_path() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("XPB_SUITE_PATH")) {
    std::stringstream ss(env);
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty()) dirs.emplace_back(dir);
  }
  // Next to an installed binary: <prefix>/bin/xpubench -> <prefix>/share/xpubench/suites.
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share" / "xpubench" / "suites");
  dirs.emplace_back(XPB_SOURCE_SUITES_DIR);
  dirs.emplace_back(XPB_INSTALL_SUITES_DIR);
  return dirs;
}

std::filesystem::path find_suite(const std::string& name) {
  for (const auto& dir : suite_search_path()) {
    auto p = dir / (name + ".yaml");
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return {};
}

}  // namespace xpb
