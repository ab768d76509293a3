// A short, stable name for a text: FNV-1a over its bytes, 64 bit, written "fnv1a64:" and 16 hex
// digits. It tells configurations and model shapes apart across runs and machines; it is not
// a security hash (results that must not be edited are signed, DESIGN.md §7).
#pragma once
#include <string>
#include <string_view>

#include "xpubench/export.hpp"

namespace xpb {

XPB_API std::string fnv1a64(std::string_view text);

}  // namespace xpb
