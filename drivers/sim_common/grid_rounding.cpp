#include "grid_rounding.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "xpubench/quant.hpp"

namespace xpb::sim {

void round_to_grid(std::span<float> x, int bits, std::size_t block) {
  const float top = static_cast<float>((1 << (bits - 1)) - 1);
  for (std::size_t b = 0; b < x.size(); b += block) {
    const std::size_t end = std::min(x.size(), b + block);
    float amax = 0;
    for (std::size_t i = b; i < end; ++i) amax = std::max(amax, std::fabs(x[i]));
    if (amax == 0 || !std::isfinite(amax)) continue;
    const float s = amax / top;
    for (std::size_t i = b; i < end; ++i) x[i] = s * std::nearbyint(x[i] / s);
  }
}

double round_rows(DType dtype, std::byte* data, std::size_t rows, std::size_t cols, int bits, std::size_t block) {
  const std::size_t row_bytes = storage_bytes(dtype, cols);
  std::vector<float> row(cols), before(cols);
  double change = 0, total = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    std::byte* at = data + r * row_bytes;
    decode_row(dtype, at, row.data(), cols);
    before = row;
    round_to_grid(row, bits, block);
    encode_row(dtype, row.data(), at, cols);
    decode_row(dtype, at, row.data(), cols);
    for (std::size_t i = 0; i < cols; ++i) {
      const double d = double(row[i]) - before[i];
      change += d * d;
      total += double(before[i]) * before[i];
    }
  }
  return total > 0 ? std::sqrt(change / total) : 0.0;
}

}  // namespace xpb::sim
