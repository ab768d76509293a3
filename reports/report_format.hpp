// Text formatting the console renderers share (internal to reports/).
#pragma once
#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "xpubench/parse.hpp"

namespace xpb::report_format {

// Sizes in bytes read better as 128MiB than as 134217728.
inline std::string value_text(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  const bool is_size = key == "size" || key == "bytes" || key.find("_bytes") != std::string::npos;
  if (is_size && v.is_number_unsigned()) {
    auto text = format_bytes(v.get<std::uint64_t>());
    std::erase(text, ' ');
    return text;
  }
  return json_text(v);
}

// "kernel=triad threads=2" from the params, the parts that tell rows of one workload apart.
inline std::string params_text(const nlohmann::json& params) {
  std::string out;
  for (const auto& [k, v] : params.items()) {
    if (!out.empty()) out += ' ';
    out += k + "=" + value_text(k, v);
  }
  return out;
}

inline std::string number(const std::optional<double>& value) {
  if (!value) return "-";
  const double v = *value;
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1000) return fmt::format("{:.0f}", v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

}  // namespace xpb::report_format
