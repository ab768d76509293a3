// Opening the built-in devices in tests, and reading tensors back.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "xpubench/registry.hpp"

namespace xpb::test {

// The first device of a registered driver (which the device keeps alive).
inline std::shared_ptr<Device> open_device(const std::string& driver_name, const DeviceOptions& options = {}) {
  std::shared_ptr<Driver> driver = DriverRegistry::instance().create(driver_name);
  EXPECT_NE(driver, nullptr) << driver_name;
  if (!driver) return nullptr;
  auto e = driver->enumerate();
  EXPECT_FALSE(e.devices.empty()) << e.reason;
  if (e.devices.empty()) return nullptr;
  auto r = driver->open(e.devices.front(), options);
  EXPECT_TRUE(r.outcome.passed()) << r.outcome.reason;
  return r.device;
}

template <class T>
std::vector<T> read(const Executable& exe, const Graph& g, TensorId id) {
  std::vector<T> out(g.tensor(id).bytes() / sizeof(T));
  exe.read(id, {reinterpret_cast<std::byte*>(out.data()), out.size() * sizeof(T)});
  return out;
}

template <class T>
void write(Executable& exe, TensorId id, const std::vector<T>& v) {
  exe.write(id, {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T)});
}

}  // namespace xpb::test
