// Numbers and sizes as users write them (suites, --set, command-line options), parsed one way
// everywhere: whole numbers with explicit bounds and no silent wrap, sizes with binary and
// decimal units up to exabytes. Every error is an InputError naming `where` and what was
// expected.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

// The largest size parse_bytes accepts: 2^62 bytes (4 EiB), far beyond any memory and small
// enough that sums of a few sizes cannot overflow 64 bits.
inline constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 62;

// A whole number in [lo, hi]: a JSON integer, a float with no fraction (1e6, but not 1.5 or
// 1e30 beyond hi), or a string of digits ("-1" is -1, and below a lo of 0 it is refused, never
// wrapped). Throws InputError "<where>: expected a whole number in [lo, hi], got ...".
XPB_API std::int64_t parse_whole(const nlohmann::json& v, const std::string& where, std::int64_t lo, std::int64_t hi);
// The same for unsigned values up to `hi` (a seed may use all 64 bits).
XPB_API std::uint64_t parse_unsigned(const nlohmann::json& v, const std::string& where, std::uint64_t hi);

// A size: 4096, "4096", "64MiB", "4 KiB", "1.5GB", "1PiB", "2EiB", "4KB" (K, M, G, T, P, E with
// "iB" for powers of 1024 and "B" for powers of 1000; "B" alone for bytes). At most kMaxBytes.
XPB_API std::uint64_t parse_bytes(const nlohmann::json& v, const std::string& where);

// A value as compact JSON for a message: invalid UTF-8 in strings shown as U+FFFD rather than
// thrown (nlohmann's dump() throws on it, and user input may hold anything).
XPB_API std::string json_text(const nlohmann::json& v);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
XPB_API bool valid_utf8(std::string_view s);

// "128MiB" for sizes that are whole in some binary unit, else "134217729 B".
XPB_API std::string format_bytes(std::uint64_t bytes);

}  // namespace xpb
