// Attention of several query rows at once on the CPU (a prompt's rows, a video chunk's tokens),
// dispatched at run time (Highway) to the best instruction set the CPU has. Where attend()
// (llm_kernels.hpp) streams every cached key and value once per query row, a tile of rows
// reads each key and value once for all of them, a block of keys at a time, with the softmax
// taken online (a running maximum and sum per row, rescaled as blocks come: flash attention's
// method, Dao et al. 2022): the scores and the weighted values are small GEMMs on the register
// tile of the packed GEMM (register_tile-inl.h), with the tile's rows along the vectors.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gemm_kernels.hpp"  // kLineFloats

namespace xpb::cpu {

// The most rows one call takes, the keys of a block, the largest head, and the scratch floats a
// call needs for `hd` elements per head. A tile of 192 rows keeps Q^T and its sums (2 x 192 x
// hd floats) in L2 and reads each block of 48 keys (widened to f32 once) for all of them; 48
// keys are whole register tiles of 6 and 12 rows.
constexpr std::size_t kTileRows = 192;
constexpr std::size_t kTileKeys = 48;
constexpr std::size_t kMaxHeadDim = 512;
inline std::size_t attend_tile_scratch(std::size_t hd) {
  return 2 * kTileRows * hd + kTileKeys * kTileRows + 2 * kTileKeys * hd + 4 * kTileRows + kLineFloats;
}
// Rows per tile for `rows` rows of `heads` heads on `threads` threads: as many as a tile takes
// (each key block read for more rows), yet at least 4 (tile, head) items per thread, in whole
// slabs of 32 rows (2 vectors of the widest target: the tile's unit).
inline std::size_t tile_rows(std::size_t rows, std::size_t heads, int threads) {
  const std::size_t fair = rows * heads / (4 * static_cast<std::size_t>(threads > 0 ? threads : 1));
  return fair < 32 ? 32 : fair > kTileRows ? kTileRows : fair / 32 * 32;
}

// `rows` (<= kTileRows) query rows of one head (hd <= kMaxHeadDim), row r at q + r * q_stride (hd floats), each
// attending the cached positions [begin[r], end[r]) of one sequence: position p's key at
// k + (p mod ring) * stride and its value at v + (p mod ring) * stride (f16 elements when
// `f16`, else f32; a cache that is no ring passes ring > every position). A row with no
// position gets zeros. out row r at out + r * out_stride (hd floats) = softmax_p(scale * q_r .
// k_p) weighted sum of v_p. `scratch` holds attend_tile_scratch(hd) floats.
void attend_tile(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                 const std::int64_t* end, const void* k, const void* v, bool f16, std::size_t ring, std::size_t stride,
                 std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride);

}  // namespace xpb::cpu
