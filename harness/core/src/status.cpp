#include "xpubench/status.hpp"

#include <array>

namespace xpb {
namespace {
constexpr std::array<std::string_view, 7> kNames{"passed",     "failed",  "skipped",    "unsupported",
                                                 "mistrusted", "invalid", "interrupted"};
}

std::string_view name(Status s) { return kNames.at(static_cast<std::size_t>(s)); }

std::optional<Status> parse_status(std::string_view s) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<Status>(i);
  return std::nullopt;
}

}  // namespace xpb
