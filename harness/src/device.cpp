#include "xpubench/device.hpp"

#include <algorithm>
#include <array>

namespace xpb {

std::string_view name(ClockKind c) {
  static constexpr std::array<std::string_view, 3> kNames{"host", "device_events", "simulated"};
  return kNames.at(static_cast<std::size_t>(c));
}

std::string DeviceInfo::id() const {
  return index == 0 ? driver : driver + ":" + std::to_string(index);
}

bool DeviceCaps::supports(Op op) const { return std::find(ops.begin(), ops.end(), op) != ops.end(); }
bool DeviceCaps::supports(DType t) const {
  return std::find(dtypes.begin(), dtypes.end(), t) != dtypes.end();
}

}  // namespace xpb
