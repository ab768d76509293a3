// The machine a result was measured on: OS, CPU, memory and build facts. Topology is in
// topology.cpp. Every reader takes its root from SystemRoots so tests can feed synthetic trees.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "xpubench/build_info.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb {

namespace fs = std::filesystem;

namespace {

struct FileText {
  bool ok = false;
  std::string text;
  std::string error;  // strerror of the failure when !ok
  int error_number = 0;
};

FileText read_text(const fs::path& path) {
  FileText out;
  // An ifstream opens a directory and then reads nothing, which would pass for an empty file.
  if (std::error_code ec; fs::is_directory(path, ec)) {
    out.error_number = EISDIR;
    out.error = std::strerror(EISDIR);
    return out;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error_number = errno;
    out.error = errno != 0 ? std::strerror(errno) : "cannot open";
    return out;
  }
  // procfs and sysfs files report size 0, so read until EOF rather than by size.
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    out.error_number = errno;
    out.error = errno != 0 ? std::strerror(errno) : "read error";
    return out;
  }
  out.ok = true;
  out.text = ss.str();
  return out;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  const std::string t = trim(text);
  if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

std::optional<std::uint64_t> read_u64(const fs::path& path) {
  const auto f = read_text(path);
  return f.ok ? parse_u64(f.text) : std::nullopt;
}

// ---- /proc/cpuinfo --------------------------------------------------------------------------

// One "key : value" list per processor block, in file order.
using CpuBlock = std::vector<std::pair<std::string, std::string>>;

std::vector<CpuBlock> parse_cpuinfo(const std::string& text) {
  std::vector<CpuBlock> blocks(1);
  for (const auto& line : lines_of(text)) {
    if (trim(line).empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    blocks.back().emplace_back(trim(std::string_view(line).substr(0, colon)),
                               trim(std::string_view(line).substr(colon + 1)));
  }
  if (blocks.back().empty()) blocks.pop_back();
  return blocks;
}

std::string find_key(const std::vector<CpuBlock>& blocks, const std::string& key) {
  for (const auto& b : blocks)
    for (const auto& [k, v] : b)
      if (k == key && !v.empty()) return v;
  return {};
}

std::optional<unsigned> parse_hex(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 0);
  if (end == s.c_str() || *end != '\0') return std::nullopt;
  return static_cast<unsigned>(v);
}

std::string arm_implementer_name(unsigned id) {
  static const std::map<unsigned, const char*> names = {
      {0x41, "Arm"},      {0x42, "Broadcom"}, {0x43, "Cavium"},    {0x46, "Fujitsu"},
      {0x48, "HiSilicon"}, {0x4e, "NVIDIA"},  {0x50, "Applied Micro"}, {0x51, "Qualcomm"},
      {0x53, "Samsung"},  {0x56, "Marvell"},  {0x61, "Apple"},     {0x69, "Intel"},
      {0x6d, "Microsoft"}, {0xc0, "Ampere"}};
  const auto it = names.find(id);
  if (it != names.end()) return it->second;
  char buf[32];
  std::snprintf(buf, sizeof buf, "implementer 0x%02x", id);
  return buf;
}

// The cores found in servers and boards people benchmark; anything else is named by number.
const char* arm_part_name(unsigned implementer, unsigned part) {
  static const std::map<std::pair<unsigned, unsigned>, const char*> names = {
      {{0x41, 0xd03}, "Cortex-A53"},   {{0x41, 0xd04}, "Cortex-A35"},  {{0x41, 0xd05}, "Cortex-A55"},
      {{0x41, 0xd07}, "Cortex-A57"},   {{0x41, 0xd08}, "Cortex-A72"},  {{0x41, 0xd09}, "Cortex-A73"},
      {{0x41, 0xd0a}, "Cortex-A75"},   {{0x41, 0xd0b}, "Cortex-A76"},  {{0x41, 0xd0c}, "Neoverse-N1"},
      {{0x41, 0xd0d}, "Cortex-A77"},   {{0x41, 0xd40}, "Neoverse-V1"}, {{0x41, 0xd41}, "Cortex-A78"},
      {{0x41, 0xd44}, "Cortex-X1"},    {{0x41, 0xd46}, "Cortex-A510"}, {{0x41, 0xd47}, "Cortex-A710"},
      {{0x41, 0xd48}, "Cortex-X2"},    {{0x41, 0xd49}, "Neoverse-N2"}, {{0x41, 0xd4a}, "Neoverse-E1"},
      {{0x41, 0xd4b}, "Cortex-A78C"},  {{0x41, 0xd4d}, "Cortex-A715"}, {{0x41, 0xd4e}, "Cortex-X3"},
      {{0x41, 0xd4f}, "Neoverse-V2"},  {{0x41, 0xd80}, "Cortex-A520"}, {{0x41, 0xd81}, "Cortex-A720"},
      {{0x41, 0xd82}, "Cortex-X4"},    {{0x41, 0xd84}, "Neoverse-V3"}, {{0x41, 0xd8e}, "Neoverse-N3"},
      {{0x43, 0x0af}, "ThunderX2"},    {{0x46, 0x001}, "A64FX"},       {{0x48, 0xd01}, "Kunpeng-920"},
      {{0x4e, 0x004}, "Carmel"},       {{0x51, 0xc00}, "Falkor"},      {{0xc0, 0xac3}, "AmpereOne"}};
  const auto it = names.find({implementer, part});
  return it != names.end() ? it->second : nullptr;
}

struct ArmCores {
  std::string vendor;  // of the first core; empty when the file has no CPU implementer
  std::string model;   // "Arm Cortex-A76 + Arm Cortex-A55"; empty when none is found
  bool all_named = false;  // every part is in the table (else the model has raw part numbers)
};

// Arm kernels identify a core by implementer and part numbers, not by name; a big.LITTLE
// chip lists several.
ArmCores arm_cores(const std::vector<CpuBlock>& blocks) {
  std::vector<std::pair<unsigned, unsigned>> parts;
  for (const auto& b : blocks) {
    std::optional<unsigned> impl, part;
    for (const auto& [k, v] : b) {
      if (k == "CPU implementer") impl = parse_hex(v);
      if (k == "CPU part") part = parse_hex(v);
    }
    if (impl && part && std::find(parts.begin(), parts.end(), std::pair{*impl, *part}) == parts.end())
      parts.emplace_back(*impl, *part);
  }
  ArmCores out;
  if (parts.empty()) return out;
  out.vendor = arm_implementer_name(parts.front().first);
  out.all_named = true;
  for (const auto& [impl, part] : parts) {
    const char* name = arm_part_name(impl, part);
    char raw[32];
    std::snprintf(raw, sizeof raw, "part 0x%03x", part);
    out.all_named = out.all_named && name != nullptr;
    out.model += (out.model.empty() ? "" : " + ") + arm_implementer_name(impl) + " " + (name != nullptr ? name : raw);
  }
  return out;
}

constexpr std::array kSimdFlags = {
    // x86
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "avx_vnni",
    // Arm
    "asimd", "sve", "sve2", "i8mm", "bf16", "asimddp"};

void describe_cpu(const std::string& procfs, SystemInfo& s) {
  const fs::path path = fs::path(procfs) / "cpuinfo";
  const auto f = read_text(path);
  if (!f.ok) {
    s.cpu_model = s.cpu_vendor = "unavailable: cannot read " + path.string() + ": " + f.error;
    return;
  }
  const auto blocks = parse_cpuinfo(f.text);
  s.cpu_model = s.cpu_vendor = "unavailable: not found in " + path.string();

  const ArmCores arm = arm_cores(blocks);
  if (auto v = find_key(blocks, "vendor_id"); !v.empty()) {
    static const std::map<std::string, std::string> vendors = {
        {"GenuineIntel", "Intel"}, {"AuthenticAMD", "AMD"}, {"HygonGenuine", "Hygon"},
        {"CentaurHauls", "Centaur"}, {"Shanghai", "Zhaoxin"}};
    const auto it = vendors.find(v);
    s.cpu_vendor = it != vendors.end() ? it->second : v;
  } else if (!arm.vendor.empty()) {
    s.cpu_vendor = arm.vendor;
  }
  // Most informative first: named Arm cores beat a 32-bit Arm "model name" (just "ARMv7
  // Processor"); a SoC name ("Hardware") beats part numbers nobody can look up. POWER prints
  // "cpu", RISC-V "uarch".
  std::vector<std::string> candidates = {arm.all_named ? arm.model : "", find_key(blocks, "model name"),
                                         find_key(blocks, "Hardware"), arm.model, find_key(blocks, "cpu"),
                                         find_key(blocks, "uarch")};
  for (const auto& c : candidates)
    if (!c.empty()) {
      s.cpu_model = c;
      break;
    }

  std::string flags = find_key(blocks, "flags");
  if (flags.empty()) flags = find_key(blocks, "Features");
  const auto have = words_of(flags);
  for (const char* want : kSimdFlags)
    if (std::find(have.begin(), have.end(), want) != have.end()) s.isa_flags.emplace_back(want);
}

// ---- os-release, sysfs knobs ----------------------------------------------------------------

// os-release(5) values are shell-style: optionally quoted, with backslash escapes.
std::string unquote(const std::string& raw) {
  const std::string v = trim(raw);
  if (v.size() < 2 || (v.front() != '"' && v.front() != '\'') || v.back() != v.front()) return v;
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && v.front() == '"' && i + 2 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

std::string describe_os(const std::vector<std::string>& candidates) {
  std::string tried;
  for (const auto& path : candidates) {
    const auto f = read_text(path);
    if (!f.ok) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    for (const auto& line : lines_of(f.text))
      if (line.rfind("PRETTY_NAME=", 0) == 0) return unquote(line.substr(12));
    return "Linux";  // os-release(5): the default when PRETTY_NAME is not set
  }
  return "unavailable: no os-release file (" + (tried.empty() ? std::string("none given") : tried) + ")";
}

std::string describe_governor(const std::string& sysfs) {
  const fs::path path = fs::path(sysfs) / "devices/system/cpu/cpu0/cpufreq/scaling_governor";
  const auto f = read_text(path);
  if (f.ok && !trim(f.text).empty()) return trim(f.text);
  if (!f.ok && f.error_number != ENOENT) return "unavailable: cannot read " + path.string() + ": " + f.error;
  return "unavailable: no cpufreq interface (virtual machine?)";
}

std::string describe_thp(const std::string& sysfs) {
  const fs::path path = fs::path(sysfs) / "kernel/mm/transparent_hugepage/enabled";
  const auto f = read_text(path);
  if (!f.ok) {
    if (f.error_number == ENOENT) return "unavailable: no " + path.string() + " (kernel without THP)";
    return "unavailable: cannot read " + path.string() + ": " + f.error;
  }
  const auto open = f.text.find('[');
  const auto close = f.text.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos)
    return "unavailable: no [selected] mode in " + path.string() + ": '" + trim(f.text) + "'";
  return f.text.substr(open + 1, close - open - 1);
}

// ---- memory and cgroups ---------------------------------------------------------------------

struct CgroupPaths {
  std::optional<std::string> v2;         // "0::/path"
  std::optional<std::string> v1_memory;  // "N:...memory...:/path"
};

CgroupPaths own_cgroups(const std::string& procfs) {
  CgroupPaths out;
  const auto f = read_text(fs::path(procfs) / "self/cgroup");
  if (!f.ok) return out;
  for (const auto& line : lines_of(f.text)) {
    const auto c1 = line.find(':');
    const auto c2 = c1 == std::string::npos ? std::string::npos : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string id = line.substr(0, c1);
    const std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string path = trim(line.substr(c2 + 1));
    if (id == "0" && controllers.empty()) out.v2 = path;
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');)
      if (c == "memory") out.v1_memory = path;
  }
  return out;
}

// The process's own cgroup directory under `root`, and its ancestors up to `root`, innermost
// first. A container without a cgroup namespace sees the host's path in /proc/self/cgroup
// while its own cgroup is mounted at the root; then only the root is left.
std::vector<fs::path> cgroup_chain(const fs::path& root, const std::optional<std::string>& own) {
  std::vector<fs::path> chain;
  if (own) {
    fs::path dir = root;
    std::vector<fs::path> down;
    for (const auto& part : fs::path(*own).relative_path()) {
      if (part == "." || part.empty()) continue;
      if (part == "..") return {root};
      dir /= part;
      down.push_back(dir);
    }
    std::error_code ec;
    if (!down.empty() && fs::is_directory(down.back(), ec))
      chain.assign(down.rbegin(), down.rend());
  }
  chain.push_back(root);
  return chain;
}

// v1 reports "no limit" as the largest page-aligned signed 64-bit value (0x7ffffffffffff000
// on 64-bit kernels, other values elsewhere); no machine has 4 EiB, so anything that large
// means unlimited.
constexpr std::uint64_t kV1Unlimited = std::uint64_t{1} << 62;

void read_cgroup_v2(const std::vector<fs::path>& chain, MemoryInfo& m) {
  // The limit that binds is the one with the least headroom anywhere up the tree: a parent
  // slice at its memory.max OOM-kills children that are far below their own.
  std::optional<std::uint64_t> best_headroom;
  for (const auto& dir : chain) {
    const auto max_text = read_text(dir / "memory.max");
    const auto current = read_u64(dir / "memory.current");
    if (&dir == &chain.front() && current) m.cgroup_usage_bytes = current;
    if (!max_text.ok || trim(max_text.text) == "max") continue;
    const auto limit = parse_u64(max_text.text);
    if (!limit) continue;
    const std::uint64_t used = current.value_or(0);
    const std::uint64_t headroom = *limit > used ? *limit - used : 0;
    if (!best_headroom || headroom < *best_headroom) {
      best_headroom = headroom;
      m.cgroup_limit_bytes = limit;
      m.cgroup_usage_bytes = current;
    }
  }
}

bool has_v2_memory(const std::vector<fs::path>& chain) {
  std::error_code ec;
  for (const auto& dir : chain)
    if (fs::exists(dir / "memory.max", ec) || fs::exists(dir / "memory.current", ec)) return true;
  return false;
}

void read_cgroup_v1(const fs::path& memory_root, const std::optional<std::string>& own, MemoryInfo& m) {
  const fs::path dir = cgroup_chain(memory_root, own).front();
  std::optional<std::uint64_t> limit = read_u64(dir / "memory.limit_in_bytes");
  // hierarchical_memory_limit folds in the ancestors' limits, which the group's own file
  // does not show.
  if (const auto stat = read_text(dir / "memory.stat"); stat.ok) {
    for (const auto& line : lines_of(stat.text)) {
      if (line.rfind("hierarchical_memory_limit ", 0) != 0) continue;
      if (const auto h = parse_u64(line.substr(26)); h && (!limit || *h < *limit)) limit = h;
    }
  }
  if (limit && *limit < kV1Unlimited) m.cgroup_limit_bytes = limit;
  m.cgroup_usage_bytes = read_u64(dir / "memory.usage_in_bytes");
}

}  // namespace

MemoryInfo read_memory_info(const std::string& procfs_root, const std::string& cgroup_root) {
  MemoryInfo m;
  if (const auto f = read_text(fs::path(procfs_root) / "meminfo"); f.ok) {
    std::optional<std::uint64_t> total, available, free;
    for (const auto& line : lines_of(f.text)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, colon);
      const auto words = words_of(line.substr(colon + 1));
      if (words.empty()) continue;
      auto kib = parse_u64(words[0]);
      if (!kib) continue;
      const std::uint64_t bytes = *kib * (words.size() > 1 && words[1] == "kB" ? 1024 : 1);
      if (key == "MemTotal") total = bytes;
      if (key == "MemAvailable") available = bytes;
      if (key == "MemFree") free = bytes;
    }
    m.total_bytes = total.value_or(0);
    // Kernels before 3.14 have no MemAvailable; MemFree undercounts (it ignores reclaimable
    // cache), which only makes capacity tests more cautious.
    m.available_bytes = available ? *available : free.value_or(0);
  }

  const auto own = own_cgroups(procfs_root);
  const auto v2_chain = cgroup_chain(cgroup_root, own.v2);
  if (own.v2 && has_v2_memory(v2_chain)) {
    read_cgroup_v2(v2_chain, m);
  } else {
    read_cgroup_v1(fs::path(cgroup_root) / "memory", own.v1_memory, m);
  }
  return m;
}

SystemInfo describe_system(const SystemRoots& roots) {
  SystemInfo s;
  std::array<char, 256> host{};
  s.hostname = ::gethostname(host.data(), host.size() - 1) == 0 ? host.data()
                                                                : std::string("unavailable: ") + std::strerror(errno);
  s.os = describe_os(roots.os_release);
  if (struct utsname u {}; ::uname(&u) == 0) {
    s.kernel = u.release;
    s.arch = u.machine;
  } else {
    s.kernel = s.arch = std::string("unavailable: uname failed: ") + std::strerror(errno);
  }
  describe_cpu(roots.procfs, s);
  s.topology = read_topology();
  s.memory = read_memory_info(roots.procfs, roots.cgroup);
  s.governor = describe_governor(roots.sysfs);
  s.thp = describe_thp(roots.sysfs);
  s.compiler = build::compiler;
  s.compile_flags = build::compile_flags;
  s.build_type = build::build_type;
  s.git_revision = build::git_revision;
  s.xpubench_version = build::version;
  return s;
}

}  // namespace xpb
