// The catalogue table: the memory, transformer, DiT, compute and analog families define their
// ops (op_memory.cpp, op_transformer.cpp, op_dit.cpp, op_compute.cpp, op_analog.cpp); this file puts them in code order and
// answers lookups.
#include "xpubench/op_catalogue.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "op_families.hpp"

namespace xpb {
namespace {

const std::vector<OpDef>& table() {
  static const std::vector<OpDef> all = [] {
    std::vector<OpDef> out = memory_op_defs();
    for (auto& d : transformer_op_defs()) out.push_back(std::move(d));
    for (auto& d : dit_op_defs()) out.push_back(std::move(d));
    for (auto& d : compute_op_defs()) out.push_back(std::move(d));
    for (auto& d : analog_op_defs()) out.push_back(std::move(d));
    std::sort(out.begin(), out.end(), [](const OpDef& a, const OpDef& b) { return a.op < b.op; });
    return out;
  }();
  return all;
}

}  // namespace

std::string_view name(OpFamily f) {
  switch (f) {
    case OpFamily::memory: return "memory";
    case OpFamily::linear_algebra: return "linear_algebra";
    case OpFamily::transformer: return "transformer";
    case OpFamily::compute: return "compute";
    case OpFamily::analog: return "analog";
  }
  return "unknown";
}

std::string_view name(AttrType t) {
  switch (t) {
    case AttrType::integer: return "integer";
    case AttrType::real: return "real";
    case AttrType::boolean: return "boolean";
    case AttrType::string: return "string";
  }
  return "unknown";
}

std::span<const OpDef> op_catalogue() { return table(); }

const OpDef& op_def(Op op) {
  for (const auto& d : table())
    if (d.op == op) return d;
  std::fprintf(stderr, "xpubench: op code %u has no catalogue entry\n", static_cast<unsigned>(op));
  std::abort();  // every enumerator has an entry (a test proves it); codes from outside are checked first
}

std::optional<Op> op_from_code(std::uint32_t code) {
  for (const auto& d : table())
    if (static_cast<std::uint32_t>(d.op) == code) return d.op;
  return std::nullopt;
}

Work graph_work(const Graph& g, std::span<const std::int64_t> dims) {
  Work w;
  for (const auto& node : g.nodes()) w += op_def(node.op).cost(g, node, dims);
  return w;
}

std::vector<ConformanceCase> conformance_cases() {
  std::vector<ConformanceCase> out;
  for (const auto& d : table())
    for (auto& c : d.conformance()) out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> conformance_cases(Op op) { return op_def(op).conformance(); }

}  // namespace xpb
