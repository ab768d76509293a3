#include "xpubench/device.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace xpb {

std::string_view name(ClockKind c) {
  switch (c) {
    case ClockKind::host: return "host";
    case ClockKind::device_events: return "device_events";
    case ClockKind::simulated: return "simulated";
  }
  return "unknown";
}

std::string_view name(Source s) {
  switch (s) {
    case Source::measured: return "measured";
    case Source::simulated: return "simulated";
    case Source::modeled: return "modeled";
  }
  return "unknown";
}

std::string_view name(EnergySource s) {
  switch (s) {
    case EnergySource::unavailable: return "unavailable";
    case EnergySource::measured: return "measured";
    case EnergySource::modeled: return "modeled";
  }
  return "unknown";
}

nlohmann::json ClockInfo::to_json() const {
  return {{"kind", name(kind)}, {"resolution_s", resolution_s}, {"deterministic", deterministic}};
}

double measure_host_clock_resolution() {
  static const double resolution = [] {
    using Clock = std::chrono::steady_clock;
    // The smallest nonzero difference between back-to-back reads: the clock's step, or the
    // cost of reading it, whichever is larger (both bound what a sample can resolve).
    auto smallest = Clock::duration::max();
    for (int i = 0; i < 2000; ++i) {
      const auto a = Clock::now();
      auto b = Clock::now();
      while (b == a) b = Clock::now();
      smallest = std::min(smallest, b - a);
    }
    return std::chrono::duration<double>(smallest).count();
  }();
  return resolution;
}

ClockInfo host_clock() { return {ClockKind::host, measure_host_clock_resolution(), false}; }

void accumulate(RunResult& total, const RunResult& part) {
  // Energy is known for the whole only if it is known for every part: the first part decides.
  const bool first = total.seconds == 0 && total.work.flops == 0 && total.work.bytes_read == 0 &&
                     total.energy_source == EnergySource::unavailable && total.energy_joules == 0;
  if (part.energy_source == EnergySource::unavailable || (!first && total.energy_source != part.energy_source)) {
    total.energy_source = EnergySource::unavailable;
    total.energy_joules = 0;
  } else {
    total.energy_source = part.energy_source;
    total.energy_joules += part.energy_joules;
  }
  total.seconds += part.seconds;
  total.work += part.work;
  total.interrupted = total.interrupted || part.interrupted;
  if (total.error.empty()) total.error = part.error;
}

std::optional<std::string> Device::check_bindings(const Graph& g, const Bindings& bound) const {
  for (const auto& [id, buffer] : bound) {
    if (id >= g.tensors().size())
      return "a binding names tensor " + std::to_string(id) + ", which the graph does not have";
    const TensorDesc& t = g.tensor(id);
    if (!buffer) return "tensor '" + t.name + "' is bound to no buffer";
    if (!can_bind(*buffer)) return "tensor '" + t.name + "' is bound to a buffer " + info().driver + " cannot use";
    if (buffer->bytes() != t.bytes())
      return "tensor '" + t.name + "' is " + std::to_string(t.bytes()) + " bytes, bound to a buffer of " +
             std::to_string(buffer->bytes());
  }
  return std::nullopt;
}

std::string DeviceInfo::id() const { return index == 0 ? driver : driver + ":" + std::to_string(index); }

bool DeviceCaps::supports(Op op) const { return std::find(ops.begin(), ops.end(), op) != ops.end(); }
bool DeviceCaps::supports(DType t) const { return std::find(dtypes.begin(), dtypes.end(), t) != dtypes.end(); }
bool DeviceCaps::claims(Op op, DType t) const {
  if (op_dtypes.empty()) return supports(op) && supports(t);
  return std::find(op_dtypes.begin(), op_dtypes.end(), std::make_pair(op, t)) != op_dtypes.end();
}

std::string unknown_options(const std::string& driver, const DeviceOptions& options,
                            const std::vector<std::string>& known) {
  std::string bad;
  for (const auto& [key, value] : options)
    if (std::find(known.begin(), known.end(), key) == known.end()) bad += (bad.empty() ? "'" : ", '") + key + "'";
  if (bad.empty()) return "";
  std::string takes;
  for (const auto& k : known) takes += (takes.empty() ? "" : ", ") + k;
  return "device option " + bad + " is not known to driver " + driver +
         (known.empty() ? " (it takes none)" : " (it takes: " + takes + ")");
}

void check_range(std::size_t bytes, std::size_t offset, std::size_t size) {
  if (offset > bytes || size > bytes - offset)
    throw std::invalid_argument("bytes [" + std::to_string(offset) + ", " + std::to_string(offset + size) +
                                ") lie outside a buffer of " + std::to_string(bytes));
}

namespace {
std::byte* host_memory(const Buffer& b) {
  if (b.host_data() == nullptr) throw std::invalid_argument("the buffer is not host memory");
  return b.host_data();
}
}  // namespace

void host_upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) {
  check_range(dst.bytes(), offset, src.size());
  std::memcpy(host_memory(dst) + offset, src.data(), src.size());
}

void host_download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) {
  check_range(src.bytes(), offset, dst.size());
  std::memcpy(dst.data(), host_memory(src) + offset, dst.size());
}

}  // namespace xpb
