#include "xpubench/parse.hpp"

#include <cmath>
#include <regex>

#include "xpubench/error.hpp"

namespace xpb {
namespace {

// A string of optional sign and digits, as a value: "-1" is -1 (refused below 0 by the caller's
// bound), never 2^64 - 1.
std::optional<long double> digits_value(const std::string& s) {
  static const std::regex re(R"(\s*([-+]?[0-9]{1,30})\s*)");
  std::smatch m;
  // libstdc++'s regex recurses per character: a long string is refused before it is matched.
  if (s.size() > 64 || !std::regex_match(s, m, re)) return std::nullopt;
  return std::strtold(m[1].str().c_str(), nullptr);
}

// The value of a JSON number or string of digits as a long double (exact for every 64-bit
// integer), or nothing when it is not a whole number.
std::optional<long double> whole_value(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<std::int64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d) return std::nullopt;
    return static_cast<long double>(d);
  }
  if (v.is_string()) return digits_value(v.get<std::string>());
  return std::nullopt;
}

std::string text_of(const nlohmann::json& v) { return json_text(v); }

}  // namespace

std::string json_text(const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) len = 1, cp = c;
    else if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::int64_t parse_whole(const nlohmann::json& v, const std::string& where, std::int64_t lo, std::int64_t hi) {
  const auto x = whole_value(v);
  if (!x || *x < static_cast<long double>(lo) || *x > static_cast<long double>(hi))
    throw InputError(where + ": expected a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got " + text_of(v));
  if (v.is_number_unsigned()) return static_cast<std::int64_t>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return static_cast<std::int64_t>(*x);
}

std::uint64_t parse_unsigned(const nlohmann::json& v, const std::string& where, std::uint64_t hi) {
  const auto x = whole_value(v);
  if (!x || *x < 0 || *x > static_cast<long double>(hi))
    throw InputError(where + ": expected a whole number in [0, " + std::to_string(hi) + "], got " + text_of(v));
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  if (v.is_string()) return std::stoull(v.get<std::string>());
  return static_cast<std::uint64_t>(*x);
}

std::uint64_t parse_bytes(const nlohmann::json& v, const std::string& where) {
  auto bad = [&]() -> std::uint64_t {
    throw InputError(where + ": expected a size like 4096, 64MiB, 4 KiB, 1.5GB or 1PiB (at most 4 EiB), got " +
                     text_of(v));
  };
  constexpr long double kMax = static_cast<long double>(kMaxBytes);
  if (v.is_number()) {
    const auto x = whole_value(v);
    if (!x || *x < 0 || *x > kMax) return bad();
    return v.is_number_float() ? static_cast<std::uint64_t>(*x) : v.get<std::uint64_t>();
  }
  if (!v.is_string()) return bad();
  static const std::regex re(R"(\s*([0-9]{1,20}(\.[0-9]{1,20})?)\s*(([KMGTPE])(i?)B|B)?\s*)");
  std::smatch m;
  const std::string s = v.get<std::string>();
  // libstdc++'s regex recurses per character: a long string is refused before it is matched.
  if (s.size() > 64 || !std::regex_match(s, m, re)) return bad();
  const long double number = std::strtold(m[1].str().c_str(), nullptr);
  long double mult = 1;
  if (m[4].matched) {
    const auto power = static_cast<int>(std::string("KMGTPE").find(m[4].str()[0]) + 1);
    mult = std::pow(m[5].length() > 0 ? 1024.0L : 1000.0L, power);
  }
  const long double exact = number * mult;
  const long double bytes = std::round(exact);
  if (bytes > kMax) return bad();
  if (std::fabs(exact - bytes) > 1e-6L)
    throw InputError(where + ": " + text_of(v) + " is not a whole number of bytes");
  return static_cast<std::uint64_t>(bytes);
}

std::string format_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (b >= 1024 && b % 1024 == 0 && u < 6) {
    b /= 1024;
    ++u;
  }
  return std::to_string(b) + (u == 0 ? " B" : units[u]);
}

}  // namespace xpb
