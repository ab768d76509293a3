#include "xpubench/dtype.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace xpb {
namespace {

struct Entry {
  DType type;
  DTypeTraits traits;
};
// Block sizes and bytes of ggml's layouts (xpubench/gguf_blocks.hpp has the structs).
constexpr std::array<Entry, 21> kTypes{{
    {DType::f64, {"f64", 1, 8}},     {DType::f32, {"f32", 1, 4}},     {DType::f16, {"f16", 1, 2}},
    {DType::bf16, {"bf16", 1, 2}},   {DType::i8, {"i8", 1, 1}},       {DType::u8, {"u8", 1, 1}},
    {DType::i32, {"i32", 1, 4}},     {DType::u32, {"u32", 1, 4}},     {DType::u64, {"u64", 1, 8}},
    {DType::q8_0, {"q8_0", 32, 34}}, {DType::q4_0, {"q4_0", 32, 18}}, {DType::q4_1, {"q4_1", 32, 20}},
    {DType::q5_0, {"q5_0", 32, 22}}, {DType::q5_1, {"q5_1", 32, 24}}, {DType::q2_K, {"q2_K", 256, 84}},
    {DType::q3_K, {"q3_K", 256, 110}}, {DType::q4_K, {"q4_K", 256, 144}}, {DType::q5_K, {"q5_K", 256, 176}},
    {DType::q6_K, {"q6_K", 256, 210}}, {DType::iq4_nl, {"iq4_nl", 32, 18}}, {DType::iq4_xs, {"iq4_xs", 256, 136}},
}};

bool same_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

const Entry* find(DType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return &e;
  return nullptr;
}

}  // namespace

const DTypeTraits& traits(DType t) {
  const Entry* e = find(t);
  if (e == nullptr) {
    std::fprintf(stderr, "xpubench: dtype code %u is not in the table\n", static_cast<unsigned>(t));
    std::abort();  // only a cast from an unchecked code gets here: dtype_from_code checks codes
  }
  return e->traits;
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& e : kTypes)
    if (same_ignoring_case(e.traits.name, name)) return e.type;
  return std::nullopt;
}

std::optional<DType> dtype_from_code(std::uint32_t code) {
  for (const auto& e : kTypes)
    if (static_cast<std::uint32_t>(e.type) == code) return e.type;
  return std::nullopt;
}

std::span<const DType> all_dtypes() {
  static const auto all = [] {
    std::array<DType, kTypes.size()> out{};
    for (std::size_t i = 0; i < kTypes.size(); ++i) out[i] = kTypes[i].type;
    return out;
  }();
  return all;
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
