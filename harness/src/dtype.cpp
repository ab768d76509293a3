#include "xpubench/dtype.hpp"

#include <array>
#include <cstdlib>
#include <cstdio>

namespace xpb {
namespace {
// Indexed by DType. Q8_0: fp16 scale + 32 int8; Q4_0: fp16 scale + 16 bytes of nibbles (GGUF).
constexpr std::array<DTypeTraits, 11> kTraits{{
    {"f64", 1, 8},  {"f32", 1, 4},  {"f16", 1, 2},  {"bf16", 1, 2},  {"i8", 1, 1},  {"u8", 1, 1},
    {"i32", 1, 4},  {"u32", 1, 4},  {"u64", 1, 8},  {"q8_0", 32, 34}, {"q4_0", 32, 18},
}};
}  // namespace

const DTypeTraits& traits(DType t) { return kTraits.at(static_cast<std::size_t>(t)); }

std::optional<DType> parse_dtype(std::string_view name) {
  for (std::size_t i = 0; i < kTraits.size(); ++i)
    if (kTraits[i].name == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::size_t storage_bytes(DType t, std::size_t elements) {
  const auto& tr = traits(t);
  if (elements % tr.block_elements != 0) {
    std::fprintf(stderr, "xpubench: %zu elements of %s are not whole blocks of %zu\n", elements,
                 tr.name.data(), tr.block_elements);
    std::abort();  // a broken invariant of the graph builder, not a user error
  }
  return elements / tr.block_elements * tr.block_bytes;
}

}  // namespace xpb
