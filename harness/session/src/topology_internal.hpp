// Private to libxpb: topology from a described machine rather than the running one, so tests
// can prove the hwloc walk on shapes this host does not have (two packages, shared L2s, ...).
#pragma once
#include <string>

#include "xpubench/system.hpp"

namespace xpb::detail {

// `synthetic` is an hwloc synthetic description, e.g.
// "pack:2 [numa(memory=1073741824)] l3u:1(size=33554432) core:4 l1d:1(size=49152) pu:2".
// A description hwloc rejects gives source "unavailable: ..." like a failed load would.
Topology read_synthetic_topology(const std::string& synthetic);

}  // namespace xpb::detail
