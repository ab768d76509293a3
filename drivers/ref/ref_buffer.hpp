// Memory of the `ref` device: plain host memory, 8-byte aligned for the typed views of
// ref_ops.cpp. Any host-memory device can bind it, and ref binds theirs.
#pragma once
#include <cstdint>
#include <vector>

#include "xpubench/device.hpp"

namespace xpb::ref {

class RefBuffer final : public Buffer {
 public:
  explicit RefBuffer(std::size_t bytes) : words_((bytes + 7) / 8), bytes_(bytes) {}
  std::size_t bytes() const override { return bytes_; }
  std::byte* host_data() const override { return reinterpret_cast<std::byte*>(const_cast<std::uint64_t*>(words_.data())); }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t bytes_;
};

}  // namespace xpb::ref
