// `xpubench model export`: a preset decoder with its seeded synthetic weights written as a
// GGUF v3 file of llama architecture, so other engines (llama.cpp, ...) can run the very same
// model for a side-by-side comparison.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xpubench/export.hpp"

namespace xpb {

// The preset names: llama-3.1-8b, tinyllama-1.1b, stories-15m, stories-110m, tiny, tiny-tied.
XPB_API std::vector<std::string> model_presets();

// Writes `preset` with weights of `dtype` (f32, f16, bf16, q8_0, q4_0) from `seed` to `path`
// (atomically: a temporary file renamed at the end). Throws InputError for an unknown preset
// or dtype, std::runtime_error naming the path when it cannot be written.
XPB_API void export_model(const std::string& preset, const std::string& dtype, std::uint64_t seed, const std::string& path);

}  // namespace xpb
