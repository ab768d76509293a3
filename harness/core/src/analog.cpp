#include "xpubench/analog.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "xpubench/quant.hpp"

namespace xpb::analog {
float round_block(float* x, std::size_t n, int bits) {
  float amax = 0;
  for (std::size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0 || !std::isfinite(amax)) return amax;
  const float s = amax / top_level(bits);
  for (std::size_t i = 0; i < n; ++i) x[i] = s * std::nearbyint(x[i] / s);
  return amax;
}

double standard_normal(std::uint64_t seed, std::uint64_t step, std::uint64_t index) {
  const std::uint64_t h1 = splitmix64(seed ^ splitmix64(step ^ splitmix64(index)));
  const std::uint64_t h2 = splitmix64(h1);
  const double u1 = static_cast<double>((h1 >> 11) + 1) * 0x1.0p-53;  // (0, 1]: log is finite
  const double u2 = static_cast<double>(h2 >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

float readout(float y, float scale, double z, float noise, float bound, int bits) {
  if (scale == 0) return 0.0f;
  float v = static_cast<float>(static_cast<double>(y / scale) + static_cast<double>(noise) * z);
  v = std::clamp(v, -bound, bound);
  const float step = bound / top_level(bits);
  return scale * (step * std::nearbyint(v / step));
}

}  // namespace xpb::analog
