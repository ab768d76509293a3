#include "cpu_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "xpubench/quant.hpp"

namespace xpb::cpu {
namespace {

bool cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }

template <class T>
void fill_range(std::byte* data, std::size_t begin, std::size_t end, double value) {
  std::fill(reinterpret_cast<T*>(data) + begin, reinterpret_cast<T*>(data) + end, static_cast<T>(value));
}

}  // namespace

Share share_of(std::size_t n, std::size_t elem_bytes, int thread, int threads) {
  const std::size_t grain = std::max<std::size_t>(1, 4096 / elem_bytes);
  const std::size_t blocks = (n + grain - 1) / grain;
  const std::size_t per = blocks / static_cast<std::size_t>(threads);
  const std::size_t extra = blocks % static_cast<std::size_t>(threads);
  const auto t = static_cast<std::size_t>(thread);
  const std::size_t first = t * per + std::min(t, extra);
  const std::size_t count = per + (t < extra ? 1 : 0);
  return {std::min(n, first * grain), std::min(n, (first + count) * grain)};
}

CpuBuffer::CpuBuffer(std::size_t bytes, const CompileOptions& opts) : region_(bytes, opts.huge_pages) {
  if (opts.memory_node >= 0) bind_outcome_ = region_.bind_to_node(opts.memory_node);
}

void CpuBuffer::lock() { lock_outcome_ = region_.lock(); }

void initialize_tensor(std::byte* data, const TensorDesc& t, ThreadPool& pool, const std::atomic<bool>* cancel) {
  // Work is done in chunks of about 16 MiB per thread, each chunk after a look at `cancel`,
  // so a Ctrl-C while a large model's weights are made stops within ~10 ms.
  constexpr std::size_t kChunkBytes = std::size_t{16} << 20;
  std::atomic<bool> stop{false};
  auto stopped = [&] {
    if (cancelled(cancel)) stop.store(true, std::memory_order_relaxed);
    return stop.load(std::memory_order_relaxed);
  };
  if (t.init.kind == TensorInit::Kind::random_cycle) {
    fill_random_cycle(reinterpret_cast<std::uint64_t*>(data), static_cast<std::size_t>(t.shape[0]),
                      static_cast<std::size_t>(t.shape[1]), t.init.seed);
    return;
  }
  if (t.init.kind == TensorInit::Kind::synthetic || t.init.kind == TensorInit::Kind::bytes) {
    // Row by row, each thread its share of rows, so pages land where the matmul reads them.
    const std::size_t cols = t.shape.empty() ? 1 : static_cast<std::size_t>(t.shape.back());
    const std::size_t rows = t.elements() / cols;
    const std::size_t row_bytes = storage_bytes(t.dtype, cols);
    const std::size_t chunk_rows = std::max<std::size_t>(1, kChunkBytes / std::max<std::size_t>(1, row_bytes));
    auto work = [&](int thread, int threads) {
      const std::size_t begin = rows * static_cast<std::size_t>(thread) / static_cast<std::size_t>(threads);
      const std::size_t end = rows * static_cast<std::size_t>(thread + 1) / static_cast<std::size_t>(threads);
      std::vector<float> row(t.init.kind == TensorInit::Kind::synthetic ? cols : 0);
      for (std::size_t c0 = begin; c0 < end && !stopped(); c0 += chunk_rows) {
        const std::size_t c1 = std::min(end, c0 + chunk_rows);
        if (t.init.kind == TensorInit::Kind::bytes) {
          std::memcpy(data + c0 * row_bytes, t.init.source + c0 * row_bytes, (c1 - c0) * row_bytes);
          continue;
        }
        for (std::size_t i = c0; i < c1; ++i) {
          for (std::size_t c = 0; c < cols; ++c)
            row[c] = synthetic_value(t.init.seed, i * cols + c, static_cast<float>(t.init.value));
          encode_row(t.dtype, row.data(), data + i * row_bytes, cols);
        }
      }
    };
    if (t.bytes() < kParallelInitBytes) work(0, 1);
    else pool.run(work);
    if (stop.load()) throw InitCancelled{};
    return;
  }
  const std::size_t elem = traits(t.dtype).block_bytes;
  auto init_share = [&](std::size_t begin, std::size_t end) {
    const bool fill = t.init.kind == TensorInit::Kind::fill;
    const std::size_t chunk = std::max<std::size_t>(1, kChunkBytes / elem);
    for (std::size_t c0 = begin; c0 < end && !stopped(); c0 += chunk) {
      const std::size_t c1 = std::min(end, c0 + chunk);
      if (fill && t.dtype == DType::f64) fill_range<double>(data, c0, c1, t.init.value);
      else if (fill && t.dtype == DType::f32) fill_range<float>(data, c0, c1, t.init.value);
      else if (fill && t.dtype == DType::u64) fill_range<std::uint64_t>(data, c0, c1, t.init.value);
      else if (fill && t.dtype == DType::i32) fill_range<std::int32_t>(data, c0, c1, t.init.value);
      else std::memset(data + c0 * elem, 0, (c1 - c0) * elem);
    }
  };
  if (t.bytes() < kParallelInitBytes) {
    init_share(0, t.elements());
  } else {
    pool.run([&](int thread, int threads) {
      const Share share = share_of(t.elements(), elem, thread, threads);
      init_share(share.begin, share.end);
    });
  }
  if (stop.load()) throw InitCancelled{};
}

}  // namespace xpb::cpu
