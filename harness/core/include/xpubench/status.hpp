// The outcome of a benchmark or a conformance check. An expected outcome is data, not an
// exception (DESIGN.md §11.2).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "xpubench/export.hpp"

namespace xpb {

enum class Status {
  passed,       // measured, and the output was checked and correct
  failed,       // measured or attempted, and the output was wrong or the run broke
  skipped,      // not attempted (e.g. needs more than one NUMA node); the reason says why
  unsupported,  // the device cannot run this (an op, a dtype); the reason names it
  mistrusted,   // ran, but the figure cannot be trusted (e.g. outputs all zero)
  invalid,      // the parameters were invalid
  interrupted,  // stopped by the user (Ctrl-C) before it finished
};

XPB_API std::string_view name(Status s);
XPB_API std::optional<Status> parse_status(std::string_view s);

// A status with the reason a person reads. `reason` is empty only for `passed`.
struct Outcome {
  Status status = Status::passed;
  std::string reason;

  static Outcome ok() { return {}; }
  static Outcome with(Status s, std::string why) { return {s, std::move(why)}; }
  bool passed() const { return status == Status::passed; }
};

}  // namespace xpb
