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

// Page-locked host memory (Device::alloc_host): a buffer made with CL_MEM_ALLOC_HOST_PTR and
// mapped for its whole life, so the host reads and writes it directly and the driver moves it
// by DMA when a transfer's host pointer lies inside it (the pinned path of NVIDIA's and AMD's
// OpenCL bandwidth samples, and of clpeak).
class ClHostBuffer final : public Buffer {
 public:
  ClHostBuffer(std::shared_ptr<Context> ctx, cl_mem mem, std::byte* mapped, std::size_t bytes)
      : ctx_(std::move(ctx)), mem_(mem), mapped_(mapped), bytes_(bytes) {}
  ~ClHostBuffer() override;
  std::size_t bytes() const override { return bytes_; }
  std::byte* host_data() const override { return mapped_; }

 private:
  std::shared_ptr<Context> ctx_;
  cl_mem mem_;
  std::byte* mapped_;
  std::size_t bytes_;
};

// Blocking copies between the host and a buffer (the range is the caller's to check).
void write_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, const void* src, std::size_t bytes);
void read_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, void* dst, std::size_t bytes);

}  // namespace xpb::opencl
