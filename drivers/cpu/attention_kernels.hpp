// Attention of several query rows at once on the CPU (a prompt's rows, a video chunk's tokens),
// dispatched at run time (Highway) to the best instruction set the CPU has. Where attend()
// (llm_kernels.hpp) streams every cached key and value once per query row, a tile of rows
// reads each key and value once for all of them, in blocks of 2 vectors of keys, with the
// softmax taken online (a running maximum and sum per row, rescaled as blocks come: flash attention's
// method, Dao et al. 2022): the arithmetic of a small GEMM, not a stream per row.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xpb::cpu {

// The most rows one call takes, the most keys of a block (two vectors of the widest target),
// the largest head, and the scratch floats a call needs for `hd` elements per head. A tile
// of 192 rows keeps its sums (192 x hd floats) in L2 and transposes each key block once for all.
constexpr std::size_t kTileRows = 192;
constexpr std::size_t kTileKeys = 32;
constexpr std::size_t kMaxHeadDim = 512;
inline std::size_t attend_tile_scratch(std::size_t hd) { return kTileRows * (hd + kTileKeys + 2) + hd * kTileKeys; }
// Rows per tile for `rows` rows of `heads` heads on `threads` threads: as many as a tile takes
// (each key block transposed for more rows), yet at least 4 (tile, head) items per thread, in
// whole register tiles of 6 rows.
inline std::size_t tile_rows(std::size_t rows, std::size_t heads, int threads) {
  const std::size_t fair = rows * heads / (4 * static_cast<std::size_t>(threads > 0 ? threads : 1));
  return fair < 6 ? 6 : fair > kTileRows ? kTileRows : fair / 6 * 6;
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
