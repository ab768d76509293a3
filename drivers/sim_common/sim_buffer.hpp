// Memory of a simulated device. In functional mode a cpu buffer holds the bytes (hc1-sim's
// weights as its ROM holds them, rounded to its bits), which ref may bind: a check runs ref on
// the very weights the simulator computes with. In timing-only mode only the small inputs and
// outputs hold bytes, and weights, KV cache and activations are sizes without contents (an 8B
// model simulates without 16 GB of memory); host_data() is then null.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "xpubench/device.hpp"

namespace xpb::sim {

class SimBuffer final : public Buffer {
 public:
  // Backed by a cpu buffer (functional mode).
  explicit SimBuffer(std::shared_ptr<Buffer> inner) : bytes_(inner->bytes()), inner_(std::move(inner)) {}
  // Its own bytes (`hold`: timing-only inputs and outputs) or none.
  SimBuffer(std::size_t bytes, bool hold) : bytes_(bytes), own_(hold ? bytes : 0) {}
  // None yet: made when a compile knows the mode (photonic-sim's auto mode runs a small model
  // functional and a large one timing-only), from `t`, whose init says what to fill it with.
  explicit SimBuffer(const TensorDesc& t) : bytes_(t.bytes()), pending_(t) {}

  // The tensor a deferred buffer will hold (none once made, or when never deferred).
  const std::optional<TensorDesc>& pending() const { return pending_; }
  // Makes a deferred buffer: `inner` holds its bytes from now on.
  void materialize(std::shared_ptr<Buffer> inner) {
    inner_ = std::move(inner);
    pending_.reset();
  }

  std::size_t bytes() const override { return bytes_; }
  std::byte* host_data() const override { return inner_ ? inner_->host_data() : nullptr; }
  // The bytes, or null for a timing-only tensor without contents.
  std::byte* data() const {
    if (inner_) return inner_->host_data();
    return own_.empty() ? nullptr : const_cast<std::byte*>(own_.data());
  }
  const std::shared_ptr<Buffer>& inner() const { return inner_; }

 private:
  std::size_t bytes_;
  std::shared_ptr<Buffer> inner_;
  std::vector<std::byte> own_;
  std::optional<TensorDesc> pending_;
};

}  // namespace xpb::sim
