#include "pattern_kernels.hpp"

#include <algorithm>

namespace xpb::cpu {
namespace {

// The pattern as a function the compiler can inline into each loop, so the per-word cost is
// a few instructions (vectorised for all but the random pattern) rather than a switch.
template <class F>
void for_pattern(Pattern p, std::uint64_t seed, bool invert, F&& body) {
  const std::uint64_t flip = invert ? ~std::uint64_t{0} : 0;
  switch (p) {
    case Pattern::walking_ones: body([=](std::uint64_t i) { return (std::uint64_t{1} << (i & 63)) ^ flip; }); break;
    case Pattern::walking_zeros: body([=](std::uint64_t i) { return ~(std::uint64_t{1} << (i & 63)) ^ flip; }); break;
    case Pattern::checkerboard:
      body([=](std::uint64_t i) { return ((i & 1) ? 0x5555555555555555ull : 0xAAAAAAAAAAAAAAAAull) ^ flip; });
      break;
    case Pattern::random: body([=](std::uint64_t i) { return pattern_word(Pattern::random, seed, i, invert); }); break;
    case Pattern::address: body([=](std::uint64_t i) { return (i * 8) ^ flip; }); break;
  }
}

}  // namespace

void fill_pattern(std::uint64_t* words, std::size_t begin, std::size_t end, Pattern p, std::uint64_t seed,
                  bool invert) {
  for_pattern(p, seed, invert, [&](auto word) {
    for (std::size_t i = begin; i < end; ++i) words[i] = word(i);
  });
}

std::uint64_t verify_pattern(const std::uint64_t* words, std::size_t begin, std::size_t end, Pattern p,
                             std::uint64_t seed, bool invert, std::size_t max_list, std::vector<Mismatch>& list) {
  std::uint64_t errors = 0;
  for_pattern(p, seed, invert, [&](auto word) {
    // Blocks of 64 words are compared without branches; only a block with a mismatch is
    // walked word by word to list it.
    std::size_t i = begin;
    for (; i < end; i += 64) {
      const std::size_t stop = std::min(end, i + 64);
      std::uint64_t diff = 0;
      for (std::size_t k = i; k < stop; ++k) diff |= words[k] ^ word(k);
      if (diff == 0) [[likely]]
        continue;
      for (std::size_t k = i; k < stop; ++k) {
        const std::uint64_t want = word(k);
        if (words[k] != want) {
          if (list.size() < max_list) list.push_back({k, want, words[k]});
          ++errors;
        }
      }
    }
  });
  return errors;
}

}  // namespace xpb::cpu
