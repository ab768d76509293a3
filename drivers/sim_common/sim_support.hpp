// What every simulated device does the same way: enumerate itself, read its options (mode,
// description, parameters), open the cpu device that computes its functional outputs, copy
// bytes in and out of its buffers, and scale each run's time by a seeded jitter when its
// description asks for one.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <string>

#include <optional>

#include "sim_buffer.hpp"
#include "sim_description.hpp"
#include "xpubench/device.hpp"

namespace xpb::sim {

// A simulator's built-in description: its YAML text and the name errors give it.
struct BuiltinDescription {
  const std::string& text;
  std::string name;  // "built in: hc1_sim/hc1.yaml"
};

// The one device a simulator driver has: kind "simulator", simulated, named by its built-in
// description (or none, with the reason, when that does not load).
Enumeration enumerate_simulator(const std::string& driver, const BuiltinDescription& builtin,
                                const std::vector<ParameterSpec>& specs);

// What a simulator's open() makes of its options: `mode` (auto, functional or timing-only;
// default auto) and the description — the built-in one or `description=FILE` — with its number
// parameters set by options of their names. `outcome` is invalid, with the reason, for an
// unknown option, a bad mode or a description or value that is wrong.
struct SimOptions {
  Outcome outcome;
  std::string mode;
  std::optional<SimDescription> description;
};
SimOptions read_options(const std::string& driver, const DeviceOptions& options, const BuiltinDescription& builtin,
                        const std::vector<ParameterSpec>& specs);

// The host's cpu device, through the driver registry (simulators see no other driver's code):
// passed with the device, or the reason functional mode cannot run.
OpenResult open_cpu_device();

// Device::upload / download on a simulator's buffer: a checked copy into or out of its bytes.
// An upload to a buffer without contents (timing-only) is dropped; a download from one throws
// std::invalid_argument naming `device`, as does a buffer that is not a SimBuffer.
void upload(const std::string& device, Buffer& dst, std::span<const std::byte> src, std::size_t offset);
void download(const std::string& device, const Buffer& src, std::span<std::byte> dst, std::size_t offset);

// A factor of mean 1 for each run's time and energy: lognormal with coefficient of variation
// `cv` (0: always exactly 1, a deterministic clock), from a generator seeded with `seed`, so a
// run of the same benchmark gives the same spread.
class ClockJitter {
 public:
  ClockJitter(double cv, std::uint64_t seed);
  double next();

 private:
  double sigma_;
  std::mt19937_64 rng_;
};

}  // namespace xpb::sim
