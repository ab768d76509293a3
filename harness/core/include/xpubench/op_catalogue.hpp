// The op catalogue as data (DESIGN.md §3): one OpDef per op, with its frozen code, arity,
// typed attributes, the check of its shapes and dtypes, its cost model (FLOPs and bytes for
// given shapes: rooflines, simulator timing, pJ/op) and its conformance cases with per-dtype
// tolerances and their reasons. Graph::check, `xpubench list ops`, the conformance tests and
// `xpubench conform` all read this one table. The reference kernel of every op is in
// drivers/ref (a test proves each op of the catalogue has one).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xpubench/export.hpp"
#include "xpubench/graph.hpp"

namespace xpb {

enum class OpFamily : std::uint8_t { memory, linear_algebra, transformer, compute, analog };
XPB_API std::string_view name(OpFamily f);

enum class AttrType : std::uint8_t { integer, real, boolean, string };
XPB_API std::string_view name(AttrType t);

struct AttrDef {
  std::string_view name;
  AttrType type;
  bool required;
  std::string_view help;
};

// The work of one run of a node (or a graph): what the op must compute and move, counted
// from its definition, not from what a device happens to do (a device that re-reads a
// weight twice still counts it once).
struct Work {
  double flops = 0;          // floating-point or integer arithmetic operations (a MAC is 2)
  double bytes_read = 0;     // bytes of the inputs the op must read
  double bytes_written = 0;  // bytes of the outputs it writes

  Work& operator+=(const Work& o) {
    flops += o.flops;
    bytes_read += o.bytes_read;
    bytes_written += o.bytes_written;
    return *this;
  }
  Work operator*(double k) const { return {flops * k, bytes_read * k, bytes_written * k}; }
};

// How far a device's output may be from ref's. An output passes when, for every element,
// |got - want| <= abs + rel * |want|, and (when rms_rel > 0) the RMS of (got - want) is at
// most rms_rel times the RMS of want. Integer outputs must be equal whatever these say.
struct Tolerance {
  double abs = 0;
  double rel = 0;
  double rms_rel = 0;
  std::string why;  // the reason for these bounds, recorded with every comparison
};

// One conformance case of an op: a graph with its inputs seeded, run `iterations` times on
// the device and on ref, whose `outputs` are then compared within `tolerance`.
struct ConformanceCase {
  std::string name;  // e.g. "matmul q4_0 x[5,96] W[40,96]"
  Op op;
  DType dtype;       // the dtype the case is about (of the weights, or of the data)
  Graph graph;
  std::vector<TensorId> outputs;
  std::vector<std::int64_t> dims;  // values of the graph's dynamic dims (empty: none)
  std::uint64_t iterations = 1;
  Tolerance tolerance;
};

struct OpDef {
  Op op;
  std::string_view name;
  OpFamily family;
  std::string_view summary;        // one line: what it computes
  std::size_t min_inputs, max_inputs, outputs;
  std::vector<AttrDef> attrs;
  std::vector<DType> dtypes;       // the dtypes it is defined for (data, or weights)
  // Shapes and dtypes of one node (arity and attribute types are checked before this).
  // Returns what is wrong, or nothing.
  std::optional<std::string> (*check)(const Graph& g, const Node& n);
  // The work of one run of the node with the given values of the graph's dynamic dims.
  Work (*cost)(const Graph& g, const Node& n, std::span<const std::int64_t> dims);
  // The op's conformance cases, made fresh (graphs own their inputs).
  std::vector<ConformanceCase> (*conformance)();
};

// Every op, in code order.
XPB_API std::span<const OpDef> op_catalogue();
// The definition of `op`; aborts for a code the catalogue lacks (a broken invariant: every
// enumerator has an entry, which a test proves).
XPB_API const OpDef& op_def(Op op);
// The op with this frozen code, or nothing (codes from a plugin are checked here).
XPB_API std::optional<Op> op_from_code(std::uint32_t code);

// The work of one run of a whole graph (the sum over its nodes) at these dim values.
XPB_API Work graph_work(const Graph& g, std::span<const std::int64_t> dims);

// Every conformance case of every op (or of one op).
XPB_API std::vector<ConformanceCase> conformance_cases();
XPB_API std::vector<ConformanceCase> conformance_cases(Op op);

}  // namespace xpb
