#include "xpubench/fingerprint.hpp"

#include <cstdint>
#include <cstdio>

namespace xpb {

std::string fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // the FNV offset basis and prime for 64 bits
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + buf;
}

}  // namespace xpb
