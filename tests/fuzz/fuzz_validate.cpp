// libFuzzer target: reading a result document or journal, and validating it. Any bytes as a
// result file: load_result must return a document or throw InputError (a number out of range,
// a truncated journal, a file too large for the memory left), and validate_result must return
// problems for any document, never throw or crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = xpb::fuzz::write_temp(data, size, size % 2 == 0 ? ".json" : ".journal");
  try {
    const auto doc = xpb::load_result(path);
    (void)xpb::validate_result(doc);
  } catch (const xpb::InputError&) {
  }
  return 0;
}
