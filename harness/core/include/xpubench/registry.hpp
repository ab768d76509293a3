// Registries of drivers and workloads. Each driver or workload registers itself from its own
// source file with XPB_REGISTER_DRIVER / XPB_REGISTER_WORKLOAD. Each registry is a
// function-local static behind an accessor exported from libxpubench, so registration order
// between translation units does not matter and every user of the library (the CLI, tests, a
// program embedding it) sees the same registry.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xpubench/device.hpp"
#include "xpubench/export.hpp"
#include "xpubench/workload.hpp"

namespace xpb {

template <class T>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  // Defined in the library for Driver and Workload (below).
  static Registry& instance();

  // Returns false (and keeps the first) when the name is taken.
  bool add(const std::string& name, Factory f) { return factories_.emplace(name, std::move(f)).second; }
  std::unique_ptr<T> create(const std::string& name) const {
    auto it = factories_.find(name);
    return it == factories_.end() ? nullptr : it->second();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, f] : factories_) out.push_back(n);
    return out;
  }

 private:
  std::map<std::string, Factory> factories_;
};

using DriverRegistry = Registry<Driver>;
using WorkloadRegistry = Registry<Workload>;
template <>
XPB_API DriverRegistry& DriverRegistry::instance();
template <>
XPB_API WorkloadRegistry& WorkloadRegistry::instance();

}  // namespace xpb

#define XPB_REGISTRY_CONCAT2(a, b) a##b
#define XPB_REGISTRY_CONCAT(a, b) XPB_REGISTRY_CONCAT2(a, b)

#define XPB_REGISTER_DRIVER(NAME, TYPE)                                                   \
  static const bool XPB_REGISTRY_CONCAT(xpb_driver_registered_, __LINE__) =               \
      ::xpb::DriverRegistry::instance().add(NAME, [] { return std::make_unique<TYPE>(); })

#define XPB_REGISTER_WORKLOAD(NAME, TYPE)                                                 \
  static const bool XPB_REGISTRY_CONCAT(xpb_workload_registered_, __LINE__) =             \
      ::xpb::WorkloadRegistry::instance().add(NAME, [] { return std::make_unique<TYPE>(); })
