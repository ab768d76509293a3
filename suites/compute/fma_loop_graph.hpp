// The fma_loop graph (graph.hpp) of compute.peak and energy.compute, with its exact check:
// x of `elements` values of `dtype` -> y = f^chain(x). The inputs repeat a table of distinct
// values (1024 seeded values in [-1, 1) for floats, every byte for i8), so the expected
// outputs cost one chain per table entry, computed here in the dtype's own arithmetic.
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/graph.hpp"

namespace xpb::compute {

struct FmaLoopGraph {
  Graph graph;
  TensorId out = 0;
  DType dtype = DType::f32;
  std::int64_t elements = 0, chain = 0;
  std::vector<std::uint64_t> inputs, expected;  // per distinct input: its bits, and f^chain's

  std::uint64_t array_bytes() const;  // of x (and of y)
};

// `vector_width` 0 leaves the width to the device. Throws std::bad_alloc past memory.
FmaLoopGraph fma_loop_graph(DType dtype, std::int64_t elements, std::int64_t chain, int vector_width);

// Every output element compared bit for bit with the expected value: a conformance object.
nlohmann::json check_fma_loop(const FmaLoopGraph& f, const Executable& exe);

}  // namespace xpb::compute
