// libFuzzer target: a simulated device's description (--device hc1-sim,description=FILE), read
// against hc1-sim's parameters and turned into its timing model. Any text must give a model or
// an InputError naming the place; never a crash, a hang or a model built from a bad value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hc1_model.hpp"
#include "sim_description.hpp"
#include "xpubench/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto d = xpb::sim::parse_description(text, "fuzz.yaml", xpb::hc1::parameter_specs());
    const xpb::hc1::Hc1Model m(d);
    const std::int32_t pos[2] = {0, 5}, seq[2] = {0, 1};
    (void)m.step(pos, seq);
    (void)m.kv_capacity_positions();
    (void)d.to_json().dump();
  } catch (const xpb::InputError&) {
  }
  return 0;
}
