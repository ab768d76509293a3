// libFuzzer target: the suite loader and the planner. Any bytes as a suite file: parse_suite
// must return a suite or throw InputError (never crash, hang or exhaust memory: aliases are
// bounded), and a suite that parses must plan or throw InputError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/session.hpp"
#include "xpubench/suite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto suite = xpb::parse_suite(text, "fuzz.yaml");
    xpb::make_plan({suite}, size % 2 == 1, {}, xpb::fuzz::small_system());
  } catch (const xpb::InputError&) {
  }
  return 0;
}
