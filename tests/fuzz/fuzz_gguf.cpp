// libFuzzer target: the GGUF reader and the llama model checks on top of it. Any bytes as a
// model file: File::open and open_gguf must return or throw InputError, never read outside
// the file or allocate past the reader's limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "gguf.hpp"
#include "llama_model.hpp"
#include "xpubench/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = xpb::fuzz::write_temp(data, size, ".gguf");
  try {
    const auto model = xpb::llm::open_gguf(path);
    // A model that opens has weights whose specs can be listed and sized.
    (void)xpb::llm::weight_bytes(model.config, model.source);
  } catch (const xpb::InputError&) {
  }
  return 0;
}
