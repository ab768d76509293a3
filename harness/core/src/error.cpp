#include "xpubench/error.hpp"

#include <sstream>

namespace xpb {
namespace {
std::string place(const std::string& file, int line, int column) {
  std::ostringstream out;
  out << file;
  if (line > 0) out << ':' << line;
  if (line > 0 && column > 0) out << ':' << column;
  return out.str();
}
}  // namespace

InputError::InputError(const std::string& file, int line, int column, const std::string& message)
    : std::runtime_error(place(file, line, column) + ": " + message) {}

}  // namespace xpb
