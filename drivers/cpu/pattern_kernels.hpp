// Fill and verify of memory test patterns over one thread's share [begin, end) of a buffer of
// u64 words (indices are global, so each word's expected value does not depend on the split).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "xpubench/graph.hpp"

namespace xpb::cpu {

void fill_pattern(std::uint64_t* words, std::size_t begin, std::size_t end, Pattern p, std::uint64_t seed,
                  bool invert);

struct Mismatch {
  std::uint64_t index, expected, actual;
};

// Returns the number of mismatching words; appends the first `max_list` of them, in index
// order, to `list`.
std::uint64_t verify_pattern(const std::uint64_t* words, std::size_t begin, std::size_t end, Pattern p,
                             std::uint64_t seed, bool invert, std::size_t max_list, std::vector<Mismatch>& list);

}  // namespace xpb::cpu
