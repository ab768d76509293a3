// Device memory of an OpenCL device: one cl_mem, which keeps its context (and so the queue and
// the programs) alive.
#pragma once
#include <memory>

#include "opencl_context.hpp"
#include "xpubench/device.hpp"

namespace xpb::opencl {

class ClBuffer final : public Buffer {
 public:
  ClBuffer(std::shared_ptr<Context> ctx, cl_mem mem, std::size_t bytes) : ctx_(std::move(ctx)), mem_(mem), bytes_(bytes) {}
  ~ClBuffer() override { clReleaseMemObject(mem_); }
  std::size_t bytes() const override { return bytes_; }
  cl_mem mem() const { return mem_; }
  const Context* context() const { return ctx_.get(); }

 private:
  std::shared_ptr<Context> ctx_;
  cl_mem mem_;
  std::size_t bytes_;
};

// Blocking copies between the host and a buffer (the range is the caller's to check).
void write_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, const void* src, std::size_t bytes);
void read_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, void* dst, std::size_t bytes);

}  // namespace xpb::opencl
