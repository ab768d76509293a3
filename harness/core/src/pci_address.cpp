#include "pci_address.hpp"

#include <cstdio>

namespace xpb {

std::string PciAddress::to_string() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", static_cast<unsigned>(domain), static_cast<unsigned>(bus),
                static_cast<unsigned>(device), static_cast<unsigned>(function));
  return buf;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads between `min` and `max` hex digits from the front of `s`; false when there are fewer
// than `min`, or more than `max` before the next non-digit.
bool take_hex(std::string_view& s, std::size_t min, std::size_t max, std::uint32_t& value) {
  std::size_t n = 0;
  std::uint32_t v = 0;
  while (n < s.size() && hex_digit(s[n]) >= 0) {
    if (n == max) return false;
    v = v * 16 + static_cast<std::uint32_t>(hex_digit(s[n]));
    ++n;
  }
  if (n < min) return false;
  value = v;
  s.remove_prefix(n);
  return true;
}

bool take_char(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<PciAddress> parse_pci_address(std::string_view text) {
  PciAddress a;
  std::string_view s = text;
  if (!take_hex(s, 4, 8, a.domain) || !take_char(s, ':') || !take_hex(s, 2, 2, a.bus) || !take_char(s, ':') ||
      !take_hex(s, 2, 2, a.device) || !take_char(s, '.') || !take_hex(s, 1, 1, a.function) || !s.empty())
    return std::nullopt;
  if (a.device > 0x1f || a.function > 7) return std::nullopt;
  return a;
}

}  // namespace xpb
