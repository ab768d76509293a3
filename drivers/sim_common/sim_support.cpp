#include "sim_support.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::sim {
namespace {

SimBuffer& mine(const std::string& device, const Buffer& b) {
  auto* s = dynamic_cast<const SimBuffer*>(&b);
  if (s == nullptr) throw std::invalid_argument("not a buffer of " + device);
  return const_cast<SimBuffer&>(*s);
}

}  // namespace

Enumeration enumerate_simulator(const std::string& driver, const BuiltinDescription& builtin,
                                const std::vector<ParameterSpec>& specs) {
  DeviceInfo d;
  d.driver = driver;
  d.kind = "simulator";
  d.simulated = true;
  try {
    d.name = parse_description(builtin.text, builtin.name, specs).name;
  } catch (const std::exception& e) {
    return {{}, std::string("its built-in description does not load: ") + e.what()};
  }
  return {{d}, ""};
}

SimOptions read_options(const std::string& driver, const DeviceOptions& options, const BuiltinDescription& builtin,
                        const std::vector<ParameterSpec>& specs) {
  SimOptions o;
  auto known = option_names(specs);
  known.insert(known.end(), {"mode", "description"});
  if (auto why = unknown_options(driver, options, known); !why.empty()) {
    o.outcome = Outcome::with(Status::invalid, why);
    return o;
  }
  o.mode = options.count("mode") ? options.at("mode") : "auto";
  if (o.mode != "auto" && o.mode != "functional" && o.mode != "timing-only") {
    o.outcome = Outcome::with(Status::invalid, driver + " option mode expects auto, functional or timing-only, got '" + o.mode + "'");
    return o;
  }
  try {
    o.description = options.count("description") ? load_description(options.at("description"), specs)
                                                 : parse_description(builtin.text, builtin.name, specs);
    apply_options(*o.description, options, specs);
  } catch (const InputError& e) {
    o.outcome = Outcome::with(Status::invalid, e.what());
    o.description.reset();
  }
  return o;
}

OpenResult open_cpu_device() {
  std::shared_ptr<Driver> driver = DriverRegistry::instance().create("cpu");
  if (!driver) return {Outcome::with(Status::unsupported, "functional mode needs the cpu driver, which is not built in"), nullptr};
  auto e = driver->enumerate();
  if (e.devices.empty()) return {Outcome::with(Status::unsupported, "functional mode needs the cpu device: " + e.reason), nullptr};
  return driver->open(e.devices[0], {});
}

void upload(const std::string& device, Buffer& dst, std::span<const std::byte> src, std::size_t offset) {
  auto& b = mine(device, dst);
  check_range(b.bytes(), offset, src.size());
  if (b.data() != nullptr && !src.empty()) std::memcpy(b.data() + offset, src.data(), src.size());
}

void download(const std::string& device, const Buffer& src, std::span<std::byte> dst, std::size_t offset) {
  const auto& b = mine(device, src);
  check_range(b.bytes(), offset, dst.size());
  if (b.data() == nullptr) throw std::invalid_argument(device + " in timing-only mode holds no contents to download");
  if (!dst.empty()) std::memcpy(dst.data(), b.data() + offset, dst.size());
}

ClockJitter::ClockJitter(double cv, std::uint64_t seed) : sigma_(std::sqrt(std::log1p(cv * cv))), rng_(seed) {}

double ClockJitter::next() {
  if (sigma_ == 0) return 1.0;
  std::normal_distribution<double> z(0.0, 1.0);
  return std::exp(sigma_ * z(rng_) - sigma_ * sigma_ / 2);  // E[exp(N(mu, s^2))] = 1 for mu = -s^2/2
}

}  // namespace xpb::sim
