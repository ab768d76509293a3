#include "xpubench/registry.hpp"

namespace xpb {

template <>
DriverRegistry& DriverRegistry::instance() {
  static DriverRegistry r;
  return r;
}

template <>
WorkloadRegistry& WorkloadRegistry::instance() {
  static WorkloadRegistry r;
  return r;
}

}  // namespace xpb
