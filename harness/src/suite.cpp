#include "xpubench/suite.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <unistd.h>

#include "xpubench/error.hpp"

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

nlohmann::json to_json(const YAML::Node& n, const std::string& file) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      auto arr = nlohmann::json::array();
      for (const auto& item : n) arr.push_back(to_json(item, file));
      return arr;
    }
    case YAML::NodeType::Map: {
      check_unique_keys(n, file);
      auto obj = nlohmann::json::object();
      for (const auto& kv : n) obj[key_string(kv.first, file)] = to_json(kv.second, file);
      return obj;
    }
    default: return nullptr;
  }
}

void expect_map(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsMap()) fail(file, n.Mark(), "expected " + what + " to be a mapping (key: value lines)");
  check_unique_keys(n, file);
}

std::string expect_string(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsScalar()) fail(file, n.Mark(), "expected " + what + " to be a string");
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

nlohmann::json parse_policy(const YAML::Node& n, const std::string& file, const std::string& what) {
  expect_map(n, file, what);
  RunPolicy probe;
  for (const auto& kv : n) {
    nlohmann::json one = {{key_string(kv.first, file), to_json(kv.second, file)}};
    if (auto err = probe.apply(one); !err.empty()) fail(file, kv.first.Mark(), err);
  }
  return to_json(n, file);
}

SuiteEntry parse_entry(const YAML::Node& n, const std::string& file) {
  expect_map(n, file, "a benchmark entry");
  check_keys(n, file, {"workload", "params", "quick_params"}, "a benchmark entry");
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
      target[name] = to_json(kv.second, file);
      e.param_where.emplace(name, where(file, kv.second.Mark()));
    }
  }
  return e;
}

Suite parse_node(const YAML::Node& root, const std::string& file, int depth);

void include_suites(Suite& s, const YAML::Node& inc, const std::string& file, int depth) {
  if (!inc.IsSequence()) fail(file, inc.Mark(), "expected 'include' to be a list of suite names");
  for (const auto& item : inc) {
    const auto name = expect_string(item, file, "an included suite name");
    if (depth > 8) fail(file, item.Mark(), "includes nest deeper than 8 levels (a cycle?)");
    auto path = find_suite(name);
    if (path.empty()) {
      // A sibling file is found even when the search path does not list its directory.
      auto sibling = std::filesystem::path(file).parent_path() / (name + ".yaml");
      if (std::filesystem::exists(sibling)) path = sibling;
    }
    if (path.empty()) fail(file, item.Mark(), "included suite '" + name + "' not found");
    YAML::Node sub;
    try {
      sub = YAML::LoadFile(path.string());
    } catch (const YAML::Exception& e) {
      fail(path.string(), e.mark, e.msg);
    }
    Suite inner = parse_node(sub, path.string(), depth + 1);
    for (auto& e : inner.entries) {
      e.policy.update(s.policy);
      e.quick_policy.update(s.quick_policy);
      s.entries.push_back(std::move(e));
    }
  }
}

Suite parse_node(const YAML::Node& root, const std::string& file, int depth) {
  if (!root.IsMap()) fail(file, root.Mark(), "expected a suite: a mapping with 'suite' and 'benchmarks' keys");
  check_unique_keys(root, file);
  check_keys(root, file, {"suite", "description", "policy", "quick_policy", "benchmarks", "include", "quick"},
             "a suite");
  Suite s;
  s.file = file;
  if (!root["suite"]) fail(file, root.Mark(), "missing key 'suite' (the suite's name)");
  s.name = expect_string(root["suite"], file, "'suite'");
  if (root["description"]) s.description = expect_string(root["description"], file, "'description'");
  if (root["policy"]) s.policy = parse_policy(root["policy"], file, "'policy'");
  if (root["quick_policy"]) s.quick_policy = parse_policy(root["quick_policy"], file, "'quick_policy'");
  if (const YAML::Node q = root["quick"]) {
    const auto v = q.IsScalar() ? scalar_to_json(q) : nlohmann::json();
    if (!v.is_boolean()) fail(file, q.Mark(), "expected 'quick' to be true or false");
    s.quick = v.get<bool>();
  }
  if (root["include"]) include_suites(s, root["include"], file, depth);
  if (const YAML::Node b = root["benchmarks"]) {
    if (!b.IsSequence()) fail(file, b.Mark(), "expected 'benchmarks' to be a list of entries ('- workload: ...')");
    for (const auto& item : b) {
      auto e = parse_entry(item, file);
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
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(file_name, e.mark, e.msg);
  }
  try {
    return parse_node(root, file_name, 0);
  } catch (const YAML::Exception& e) {  // a conversion the checks above did not foresee
    fail(file_name, e.mark, e.msg);
  }
}

Suite load_suite(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot open suite file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_suite(text.str(), file.string());
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
  if (eq == std::string::npos || eq == 0 || !std::regex_match(text.substr(0, eq), key_re))
    throw InputError("--set '" + text + "': expected key=value, e.g. --set threads=2 or --set policy.max_seconds=1");
  Override o;
  o.key = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (value.empty()) throw InputError("--set '" + text + "': expected a value after '='");
  try {
    o.value = to_json(YAML::Load(value), "--set " + o.key);
  } catch (const YAML::Exception& e) {
    throw InputError("--set '" + text + "': the value is not valid YAML: " + e.msg);
  }
  return o;
}

std::uint64_t parse_bytes(const nlohmann::json& v, const std::string& at) {
  auto bad = [&]() -> std::uint64_t {
    throw InputError(at + ": expected a size like 4096, 64MiB, 4 KiB or 1.5GB (at most 4 EiB), got " + v.dump());
  };
  // 2^62 bytes: far beyond any memory, and small enough that sums of sizes cannot overflow.
  constexpr double kMaxBytes = 4611686018427387904.0;
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    if (static_cast<double>(v.get<std::uint64_t>()) > kMaxBytes) return bad();
    return v.get<std::uint64_t>();
  }
  if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() <= kMaxBytes &&
      std::floor(v.get<double>()) == v.get<double>())
    return static_cast<std::uint64_t>(v.get<double>());
  if (!v.is_string()) return bad();
  static const std::regex re(R"(\s*([0-9]{1,20}(\.[0-9]{1,20})?)\s*([KMGT]i?B|B)?\s*)");
  std::smatch m;
  const std::string s = v.get<std::string>();
  if (!std::regex_match(s, m, re)) return bad();
  const double number = std::stod(m[1].str());
  const std::string unit = m[3].str();
  double mult = 1;
  if (!unit.empty() && unit != "B") {
    const auto power = static_cast<double>(std::string("KMGT").find(unit[0]) + 1);
    const double base = unit.size() == 3 ? 1024.0 : 1000.0;
    mult = std::pow(base, power);
  }
  const double bytes = std::round(number * mult);
  if (bytes > kMaxBytes) return bad();
  return static_cast<std::uint64_t>(bytes);
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
