// Element types of tensors, including the GGUF block-quantized formats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "xpubench/export.hpp"

namespace xpb {

// Codes are frozen: the plugin ABI and result files carry them. New types are appended with
// the next free code; none is ever renumbered. The block-quantized types (q8_0 to iq4_xs) are
// ggml's block layouts byte for byte (xpubench/gguf_blocks.hpp), so a GGUF tensor maps to an
// xpubench tensor without conversion. Their names are ggml's ("q4_K"); parse_dtype ignores case.
enum class DType : std::uint8_t {
  f64 = 1, f32 = 2, f16 = 3, bf16 = 4, i8 = 5, u8 = 6, i32 = 7, u32 = 8, u64 = 9, q8_0 = 10, q4_0 = 11,
  q4_1 = 12, q5_0 = 13, q5_1 = 14, q2_K = 15, q3_K = 16, q4_K = 17, q5_K = 18, q6_K = 19, iq4_nl = 20,
  iq4_xs = 21,
};

struct DTypeTraits {
  std::string_view name;
  std::size_t block_elements;  // 1 for scalar types
  std::size_t block_bytes;     // bytes of one block (of one element for scalar types)
};

// The traits of a known type; aborts (a broken invariant) for a code outside the enum.
XPB_API const DTypeTraits& traits(DType t);
inline std::string_view name(DType t) { return traits(t).name; }
XPB_API std::optional<DType> parse_dtype(std::string_view name);
// The type with this frozen code, or nothing (codes from a plugin or a file are checked here).
XPB_API std::optional<DType> dtype_from_code(std::uint32_t code);
// Every type, in code order.
XPB_API std::span<const DType> all_dtypes();

// Bytes needed to store `elements` values; quantized types need a multiple of their block.
XPB_API std::size_t storage_bytes(DType t, std::size_t elements);

}  // namespace xpb
