// Element types of tensors, including the GGUF block-quantized formats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace xpb {

// Q8_0 and Q4_0 follow GGUF exactly (a block of 32 values with one fp16 scale), so a GGUF
// tensor maps to an xpubench tensor without conversion.
enum class DType : std::uint8_t { f64, f32, f16, bf16, i8, u8, i32, u32, u64, q8_0, q4_0 };

struct DTypeTraits {
  std::string_view name;
  std::size_t block_elements;  // 1 for scalar types
  std::size_t block_bytes;     // bytes of one block (of one element for scalar types)
};

const DTypeTraits& traits(DType t);
inline std::string_view name(DType t) { return traits(t).name; }
std::optional<DType> parse_dtype(std::string_view name);

// Bytes needed to store `elements` values; quantized types need a multiple of their block.
std::size_t storage_bytes(DType t, std::size_t elements);

}  // namespace xpb
