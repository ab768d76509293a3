// Errors in what a user gave us: a suite file, a --set, a result file. The message names
// the place (file:line:column where there is one) and what was expected; the CLI prints it
// and exits with code 2.
#pragma once
#include <stdexcept>
#include <string>

#include "xpubench/export.hpp"

namespace xpb {

class XPB_API InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
  // "file:line:column: message" (line and column 1-based; omitted when 0).
  InputError(const std::string& file, int line, int column, const std::string& message);
};

}  // namespace xpb
