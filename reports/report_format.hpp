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

// Text for an XML attribute or element: the five special characters escaped, and what XML 1.0
// cannot carry at all (control characters; U+FFFE and U+FFFF, EF BF BE/BF in UTF-8) replaced.
inline std::string xml(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\xEF' && i + 2 < s.size() && s[i + 1] == '\xBF' && (s[i + 2] == '\xBE' || s[i + 2] == '\xBF')) {
      out += '?';
      i += 2;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += '?';
        else out += c;
    }
  }
  return out;
}

}  // namespace xpb::report_format
