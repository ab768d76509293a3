#include "xpubench/model_export.hpp"

#include "llama_model.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"

namespace xpb {

std::vector<std::string> model_presets() { return llm::preset_names(); }

void export_model(const std::string& preset_name, const std::string& dtype, std::uint64_t seed, const std::string& path) {
  auto c = llm::preset(preset_name);
  if (!c) {
    std::string names;
    for (const auto& n : model_presets()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("unknown preset '" + preset_name + "'; expected one of " + names);
  }
  const auto t = parse_dtype(dtype);
  if (!t || !is_weight_dtype(*t)) throw InputError("unknown dtype '" + dtype + "'; expected " + weight_dtype_list());
  if (auto why = c->problem(*t); !why.empty()) throw InputError(preset_name + " at " + dtype + ": " + why);
  llm::export_gguf(*c, *t, seed, path);
}

}  // namespace xpb
