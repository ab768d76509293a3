// libFuzzer target: reports of any bytes as a result file. load_result_view (simdjson, falling
// back to the careful reader) must return a read model or throw InputError, and every renderer
// (console, Markdown, CSV, HTML with its charts, JUnit) must render any read model without
// crashing: a NaN sample, a negative size on a log axis, a cache of zero bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = xpb::fuzz::write_temp(data, size, ".json");
  try {
    const std::vector<xpb::ResultView> views{xpb::load_result_view(path)};
    (void)xpb::render_console_summary(views[0]);
    (void)xpb::render_markdown(views);
    (void)xpb::render_csv(views);
    (void)xpb::render_html(views);
    (void)xpb::render_junit(views);
  } catch (const xpb::InputError&) {
  }
  return 0;
}
