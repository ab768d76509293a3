// libFuzzer target: `--set key=value` parsing, and the override applied to a plan of every
// workload (so its value meets every parameter check). Any text must give an override or an
// InputError, and any override a plan or an InputError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/session.hpp"
#include "xpubench/suite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const auto suites = [] {
    std::vector<xpb::Suite> out;
    for (const char* w : {"memory.bandwidth", "memory.sweep", "memory.latency", "memory.capacity", "llm.bench",
                          "llm.serving"})
      out.push_back(xpb::single_workload_suite(w));
    return out;
  }();
  try {
    const auto o = xpb::parse_override(text);
    for (const auto& s : suites) {
      try {
        xpb::make_plan({s}, false, {o}, xpb::fuzz::small_system());
      } catch (const xpb::InputError&) {
      }
    }
  } catch (const xpb::InputError&) {
  }
  return 0;
}
