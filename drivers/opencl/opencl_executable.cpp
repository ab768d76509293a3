#include "opencl_executable.hpp"

#include <algorithm>
#include <cmath>

namespace xpb::opencl {

void write_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  check(clEnqueueWriteBuffer(ctx.queue, b.mem(), CL_TRUE, offset, bytes, src, 0, nullptr, nullptr), "clEnqueueWriteBuffer");
}

void read_buffer(Context& ctx, const ClBuffer& b, std::size_t offset, void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  check(clEnqueueReadBuffer(ctx.queue, b.mem(), CL_TRUE, offset, bytes, dst, 0, nullptr, nullptr), "clEnqueueReadBuffer");
}

ClHostBuffer::~ClHostBuffer() {
  // Unmapped before release, as the specification asks; a failure here has no one to tell.
  cl_event done = nullptr;
  if (clEnqueueUnmapMemObject(ctx_->queue, mem_, mapped_, 0, nullptr, &done) == CL_SUCCESS) {
    clWaitForEvents(1, &done);
    clReleaseEvent(done);
  }
  clReleaseMemObject(mem_);
}

namespace {

template <class V>
void set_arg(cl_kernel k, cl_uint index, const V& v) {
  check(clSetKernelArg(k, index, sizeof v, &v), "clSetKernelArg");
}

void set_scalar(cl_kernel k, cl_uint index, double v, bool fp64) {
  if (fp64) set_arg(k, index, v);
  else set_arg(k, index, static_cast<float>(v));
}

cl_ulong event_time(cl_event e, cl_profiling_info what) {
  cl_ulong t = 0;
  check(clGetEventProfilingInfo(e, what, sizeof t, &t, nullptr), "clGetEventProfilingInfo");
  return t;
}

// Iterations enqueued between two looks at the cancel flag: enough to keep the queue full,
// few enough that a stop is seen within a fraction of a second on any device.
constexpr std::uint64_t kIterationsPerBatch = 256;
// Vectors each work-item of read_sum's first pass adds (ITEM_VECTORS in memory.cl; clpeak's
// FETCH_PER_WI is the same 16). More per item, tried on PoCL (64, 256 / width), read slower.
constexpr std::size_t kReadSumPerItem = 16;
// ATTEND_ROWS_MAX_HEAD_DIM in transformer.cl: the largest head attend_rows keeps in an item.
constexpr std::uint32_t kAttendRowsMaxHeadDim = 256;

}  // namespace

ClExecutable::ClExecutable(std::shared_ptr<Context> ctx, const Graph& g, std::vector<std::shared_ptr<ClBuffer>> buffers)
    : ctx_(std::move(ctx)), graph_(g), buffers_(std::move(buffers)) {
  local_ = std::min<std::size_t>(256, ctx_->max_work_group);
  while (finish_local_ * 2 <= local_) finish_local_ *= 2;  // a power of two, for read_sum's tree
  try {
    for (const Node& n : graph_.nodes()) {
      Step s;
      s.op = n.op;
      s.out = n.outputs[0];
      if (n.op == Op::fma_loop) {
        steps_.push_back(std::move(s));
        plan_compute(n, steps_.back());
        continue;
      }
      if (op_def(n.op).family != OpFamily::memory) {
        steps_.push_back(std::move(s));
        plan_transformer(n, steps_.back());
        continue;
      }
      const bool on_words = n.op == Op::chase || n.op == Op::fill_pattern || n.op == Op::verify_pattern;
      // read_bytes is read_sum's two passes over the tensor's 64-bit words (ulong sums wrap
      // modulo 2^64), the finish adding the last bytes past the whole words (patterns.cl).
      const bool bytes = n.op == Op::read_bytes;
      const bool reduce = n.op == Op::read_sum || bytes;
      const DType t = n.op == Op::read_sum ? graph_.tensor(n.inputs[0]).dtype : graph_.tensor(s.out).dtype;
      const bool f64 = t == DType::f64;
      s.elem_bytes = f64 || on_words || bytes ? 8 : 4;
      const std::string suffix = bytes ? "u64" : f64 ? "f64" : "f32";
      if (!on_words)
        s.width = static_cast<std::size_t>(n.attrs.get_int("vector_width", f64 || bytes ? ctx_->preferred_width_f64 : ctx_->preferred_width_f32));
      if (s.width == 0) s.width = 1;  // a device without fp64 may prefer no double vectors
      s.per_item = kReadSumPerItem;
      const std::string element = bytes ? "-DT=ulong -DSUFFIX=u64" : f64 ? "-DT=double -DSUFFIX=f64 -DXPB_FP64" : "-DT=float -DSUFFIX=f32";
      cl_program p = on_words ? ctx_->program("patterns", "")
                              : ctx_->program("memory", element + " -DW=" + std::to_string(s.width) +
                                                            " -DITEM_VECTORS=" + std::to_string(s.per_item));
      const std::string kernel = reduce                       ? (ctx_->cpu_kernels ? "read_sum_items_" : "read_sum_partial_") + suffix
                                 : n.op == Op::verify_pattern ? std::string("verify_count")
                                 : on_words                   ? std::string(name(n.op))
                                                              : std::string(name(n.op)) + "_" + suffix;
      cl_int err = CL_SUCCESS;
      s.kernel = clCreateKernel(p, kernel.c_str(), &err);
      check(err, "clCreateKernel");
      steps_.push_back(s);  // owned from here: released by the destructor whatever follows
      Step& st = steps_.back();
      auto mem = [&](TensorId id) { return buffers_[id]->mem(); };
      switch (n.op) {
        case Op::copy:
          set_arg(st.kernel, 0, mem(n.inputs[0]));
          set_arg(st.kernel, 1, mem(st.out));
          st.n_arg = 2;
          break;
        case Op::scale:
          set_arg(st.kernel, 0, mem(n.inputs[0]));
          set_arg(st.kernel, 1, mem(st.out));
          st.n_arg = 2;
          set_scalar(st.kernel, 3, n.attrs.get_double("scalar", 3.0), f64);
          break;
        case Op::add:
        case Op::triad:
          set_arg(st.kernel, 0, mem(n.inputs[0]));
          set_arg(st.kernel, 1, mem(n.inputs[1]));
          set_arg(st.kernel, 2, mem(st.out));
          st.n_arg = 3;
          if (n.op == Op::triad) set_scalar(st.kernel, 4, n.attrs.get_double("scalar", 3.0), f64);
          break;
        case Op::write_fill:
          set_arg(st.kernel, 0, mem(st.out));
          st.n_arg = 1;
          set_scalar(st.kernel, 2, n.attrs.get_double("value", 0.0), f64);
          break;
        case Op::read_sum:
        case Op::read_bytes: {
          // The first pass: on a GPU one work-group per block of local x per_item vectors, the
          // last one partly past the end (read_sum_partial: a partial per group, from a tree); on
          // a CPU device whole blocks only (read_sum_items: no bounds and one barrier, memory.cl
          // says why; a partial per group too), the finish adding the elements past them.
          const std::size_t elements = bytes ? graph_.tensor(n.inputs[0]).bytes() / 8 : graph_.tensor(n.inputs[0]).elements();
          const std::size_t block = local_ * st.per_item;  // vectors
          std::size_t from = elements;                     // elements the finish adds from here
          if (ctx_->cpu_kernels) {
            const std::size_t blocks = elements / st.width / block;
            st.first_pass_items = blocks * local_;
            st.groups = blocks;
            from = blocks * block * st.width;
          } else {
            st.groups = std::max<std::size_t>(1, ((elements + st.width - 1) / st.width + block - 1) / block);
            st.first_pass_items = st.groups * local_;
          }
          st.partials = clCreateBuffer(ctx_->context, CL_MEM_READ_WRITE, std::max<std::size_t>(1, st.groups) * st.elem_bytes,
                                       nullptr, &err);
          check(err, "clCreateBuffer (read_sum partials)");
          set_arg(st.kernel, 0, mem(n.inputs[0]));
          st.n_arg = 1;
          set_arg(st.kernel, 2, st.partials);
          check(clSetKernelArg(st.kernel, 3, local_ * st.elem_bytes, nullptr), "clSetKernelArg (local scratch)");
          st.finish = bytes ? clCreateKernel(ctx_->program("patterns", ""), "read_bytes_finish", &err)
                            : clCreateKernel(ctx_->program("reduce", ""), ("read_sum_finish_" + suffix).c_str(), &err);
          check(err, "clCreateKernel");
          set_arg(st.finish, 0, st.partials);
          set_arg(st.finish, 1, static_cast<cl_uint>(st.groups));
          set_arg(st.finish, 2, mem(st.out));
          st.finish_local = finish_local_;
          check(clSetKernelArg(st.finish, 3, st.finish_local * sizeof(double), nullptr), "clSetKernelArg (local scratch)");
          set_arg(st.finish, 4, mem(n.inputs[0]));
          set_arg(st.finish, 5, static_cast<cl_ulong>(from));
          set_arg(st.finish, 6, static_cast<cl_ulong>(elements));
          if (bytes) set_arg(st.finish, 7, static_cast<cl_ulong>(graph_.tensor(n.inputs[0]).bytes()));
          break;
        }
        case Op::chase: {
          const auto& ring = graph_.tensor(n.inputs[0]);
          st.counted = false;
          set_arg(st.kernel, 0, mem(n.inputs[0]));
          set_arg(st.kernel, 1, static_cast<cl_ulong>(ring.shape[0]));
          set_arg(st.kernel, 2, static_cast<cl_ulong>(ring.shape[1]));
          set_arg(st.kernel, 3, mem(st.out));
          set_arg(st.kernel, 4, static_cast<cl_ulong>(n.attrs.get_int("steps", 0)));
          set_arg(st.kernel, 5, static_cast<cl_uint>(n.attrs.get_int("chains", 1)));
          break;
        }
        case Op::fill_pattern:
        case Op::verify_pattern: {
          const bool fill = n.op == Op::fill_pattern;
          const auto pattern = static_cast<cl_uint>(*parse_pattern(n.attrs.get_string("pattern", "")));
          const auto seed = static_cast<cl_ulong>(n.attrs.get_int("seed", 0));
          const auto invert = static_cast<cl_uint>(n.attrs.get_bool("invert", false) ? 1 : 0);
          const TensorId words = fill ? st.out : n.inputs[0];
          set_arg(st.kernel, 0, mem(words));
          st.n_arg = 1;
          set_arg(st.kernel, 2, pattern);
          set_arg(st.kernel, 3, seed);
          set_arg(st.kernel, 4, invert);
          if (fill) break;
          const std::size_t n_words = graph_.tensor(words).elements();
          st.groups = std::max<std::size_t>(1, (n_words + local_ - 1) / local_);
          st.partials = clCreateBuffer(ctx_->context, CL_MEM_READ_WRITE, st.groups * 8, nullptr, &err);
          check(err, "clCreateBuffer (verify_pattern counts)");
          set_arg(st.kernel, 5, st.partials);
          check(clSetKernelArg(st.kernel, 6, local_ * sizeof(cl_uint), nullptr), "clSetKernelArg (local scratch)");
          st.finish = clCreateKernel(p, "verify_list", &err);
          check(err, "clCreateKernel");
          set_arg(st.finish, 0, mem(words));
          set_arg(st.finish, 1, static_cast<cl_ulong>(n_words));
          set_arg(st.finish, 2, pattern);
          set_arg(st.finish, 3, seed);
          set_arg(st.finish, 4, invert);
          set_arg(st.finish, 5, st.partials);
          set_arg(st.finish, 6, static_cast<cl_ulong>(st.groups));
          set_arg(st.finish, 7, static_cast<cl_ulong>(local_));
          set_arg(st.finish, 8, static_cast<cl_ulong>(n.attrs.get_int("max_errors", 0)));
          set_arg(st.finish, 9, mem(n.outputs[0]));
          set_arg(st.finish, 10, mem(n.outputs[1]));
          break;
        }
        default: throw std::logic_error("ClExecutable: op " + std::string(name(n.op)) + " passed the device's check");
      }
    }
    for (const Node& n : graph_.nodes())
      if (n.op == Op::chase) reset_chase(n.inputs[0]);
  } catch (...) {
    if (error_ != nullptr) clReleaseMemObject(error_);
    for (auto& s : steps_) {
      for (cl_kernel k : s.kernels) clReleaseKernel(k);
      if (s.kernel != nullptr) clReleaseKernel(s.kernel);
      if (s.finish != nullptr) clReleaseKernel(s.finish);
      if (s.partials != nullptr) clReleaseMemObject(s.partials);
    }
    throw;
  }
}

ClExecutable::~ClExecutable() {
  clFinish(ctx_->queue);
  if (error_ != nullptr) clReleaseMemObject(error_);
  for (auto& s : steps_) {
    for (cl_kernel k : s.kernels) clReleaseKernel(k);
    if (s.kernel != nullptr) clReleaseKernel(s.kernel);
    if (s.finish != nullptr) clReleaseKernel(s.finish);
    if (s.partials != nullptr) clReleaseMemObject(s.partials);
  }
}

void ClExecutable::enqueue(const std::vector<cl_ulong>& counts, std::span<const std::int64_t> dims, cl_event* first,
                           cl_event* last) {
  // The launches of one iteration in order; `first` gets the event of the first, `last` that of
  // the last (the same event, retained twice, when there is one launch).
  std::vector<Launch>& launches = launches_;  // kept between calls: no allocation per iteration
  launches.clear();
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    if (s.plan) {
      s.plan(dims, launches);
      continue;
    }
    if (s.op == Op::chase) {  // one work-item walks every chain (patterns.cl)
      launches.push_back({s.kernel, 1, {1, 1, 1}, {1, 1, 1}, true});
      continue;
    }
    // One work-item per vector of `width` elements (the patterns: per word), in whole
    // work-groups; read_sum as planned at compile (its first pass may have no whole block).
    const bool reduce = s.op == Op::read_sum || s.op == Op::read_bytes;
    const std::size_t items = reduce ? s.first_pass_items : (counts[i] + s.width - 1) / s.width;
    const std::size_t rounded = (items + local_ - 1) / local_ * local_;
    if (!reduce || rounded > 0)
      launches.push_back({s.kernel, 1, {std::max(rounded, local_), 1, 1}, {local_, 1, 1}, true});
    if (s.finish != nullptr) launches.push_back({s.finish, 1, {s.finish_local, 1, 1}, {s.finish_local, 1, 1}, true});
  }
  for (std::size_t c = 0; c < launches.size(); ++c) {
    const Launch& l = launches[c];
    cl_event* ev = c == 0 && first != nullptr ? first : c + 1 == launches.size() ? last : nullptr;
    check(clEnqueueNDRangeKernel(ctx_->queue, l.kernel, l.dims, nullptr, l.global, l.local_set ? l.local : nullptr, 0,
                                 nullptr, ev),
          "clEnqueueNDRangeKernel");
  }
  if (launches.size() == 1 && first != nullptr && last != nullptr) {
    check(clRetainEvent(*first), "clRetainEvent");
    *last = *first;
  }
}

RunResult ClExecutable::run(const RunArgs& args) {
  if (auto err = graph_.check_dims(args.dims)) throw std::invalid_argument(*err);
  RunResult r;
  r.clock = ClockKind::device_events;
  std::vector<cl_ulong> counts;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Node& n = graph_.nodes()[i];
    if (steps_[i].plan) {  // sets its own arguments when planned
      counts.push_back(0);
      continue;
    }
    if (n.op == Op::chase) {
      counts.push_back(static_cast<cl_ulong>(n.attrs.get_int("chains", 1)));
      continue;
    }
    // Whole tensors for the reductions and the patterns (as ref); live rows for the streams.
    const bool whole = n.op == Op::read_sum || n.op == Op::read_bytes || n.op == Op::verify_pattern || n.op == Op::fill_pattern;
    const TensorId of = n.op == Op::read_sum || n.op == Op::read_bytes || n.op == Op::verify_pattern ? n.inputs[0] : steps_[i].out;
    const TensorDesc& t = graph_.tensor(of);
    std::size_t elements = n.op == Op::read_bytes ? t.bytes() / 8 : t.elements();  // read_bytes: whole words
    if (!whole && t.rows_dim && t.shape[0] > 0)
      elements = elements / static_cast<std::size_t>(t.shape[0]) * graph_.live_rows(of, args.dims);
    counts.push_back(elements);
    check(clSetKernelArg(steps_[i].kernel, steps_[i].n_arg, sizeof(cl_ulong), &counts.back()), "clSetKernelArg (n)");
  }
  try {
    if (steps_.empty()) {
      r.iterations = args.iterations;
      return r;
    }
    std::uint64_t done = 0;
    while (done < args.iterations) {
      if (args.cancel != nullptr && args.cancel->load()) {
        r.interrupted = true;
        break;
      }
      const std::uint64_t batch = std::min(kIterationsPerBatch, args.iterations - done);
      cl_event first = nullptr, last = nullptr;
      for (std::uint64_t it = 0; it < batch; ++it)
        enqueue(counts, args.dims, it == 0 ? &first : nullptr, it + 1 == batch ? &last : nullptr);
      check(clWaitForEvents(1, &last), "clWaitForEvents");
      // The batch on the device's timer: from the first kernel's start to the last one's end.
      const cl_ulong start = event_time(first, CL_PROFILING_COMMAND_START);
      const cl_ulong end = event_time(last, CL_PROFILING_COMMAND_END);
      clReleaseEvent(first);
      clReleaseEvent(last);
      r.seconds += end > start ? static_cast<double>(end - start) * 1e-9 : 0.0;
      done += batch;
      if (error_ != nullptr) {
        cl_int err[3] = {0, 0, 0};
        check(clEnqueueReadBuffer(ctx_->queue, error_, CL_TRUE, 0, sizeof err, err, 0, nullptr, nullptr), "clEnqueueReadBuffer");
        if (err[0] != 0) {
          const auto& table = graph_.tensor(embedding_table_);
          r.error = "embedding: token id " + std::to_string(err[2]) + " at row " + std::to_string(err[1]) +
                    " is outside the table's " + std::to_string(table.shape[0]) + " rows";
          const cl_int zero[3] = {0, 0, 0};
          check(clEnqueueWriteBuffer(ctx_->queue, error_, CL_TRUE, 0, sizeof zero, zero, 0, nullptr, nullptr),
                "clEnqueueWriteBuffer");
          break;
        }
      }
    }
    r.iterations = done;
  } catch (const ClError& e) {
    r.error = e.what();
  }
  r.work = graph_work(graph_, args.dims) * static_cast<double>(r.iterations);
  return r;
}

void ClExecutable::read(TensorId id, std::span<std::byte> dst) const {
  const auto& b = *buffers_.at(id);
  if (dst.size() != graph_.tensor(id).bytes()) throw std::invalid_argument("read: size does not match the tensor");
  read_buffer(*ctx_, b, 0, dst.data(), dst.size());
}

void ClExecutable::write(TensorId id, std::span<const std::byte> src) {
  const auto& b = *buffers_.at(id);
  if (src.size() != graph_.tensor(id).bytes()) throw std::invalid_argument("write: size does not match the tensor");
  write_buffer(*ctx_, b, 0, src.data(), src.size());
  reset_chase(id);
}

void ClExecutable::reset_chase(TensorId ring) {
  for (const Node& n : graph_.nodes()) {
    if (n.op != Op::chase || n.inputs[0] != ring) continue;
    const auto& desc = graph_.tensor(ring);
    std::vector<std::uint64_t> words(desc.elements());
    read_buffer(*ctx_, *buffers_[ring], 0, words.data(), words.size() * 8);
    const auto starts = chase_start_lines(words.data(), static_cast<std::size_t>(desc.shape[0]),
                                          static_cast<std::size_t>(desc.shape[1]),
                                          static_cast<std::size_t>(n.attrs.get_int("chains", 1)));
    write_buffer(*ctx_, *buffers_[n.outputs[0]], 0, starts.data(), starts.size() * 8);
  }
}

nlohmann::json ClExecutable::describe() const {
  nlohmann::json j = {{"work_group_size", local_}, {"timing", "OpenCL event profiling (device timer)"}};
  for (const Step& s : steps_)
    if (op_def(s.op).family == OpFamily::memory && s.op != Op::chase && s.op != Op::fill_pattern &&
        s.op != Op::verify_pattern) {
      // The width a memory op ran at: the node's, or the device's preferred one.
      j["vector_width"] = s.width;
      j["work_items"] = s.width == 1 ? "one per element" : "one per vector of " + std::to_string(s.width) + " elements";
    }
  for (const Step& s : steps_)
    if (s.op == Op::fma_loop) j["vector_width"] = s.width;  // the node's, or the device's preferred
  return j;
}

void ClExecutable::plan_transformer(const Node& n, Step& s) {
  const Graph& g = graph_;
  auto mem = [this](TensorId id) { return buffers_[id]->mem(); };
  auto cols = [&g](TensorId id) { return static_cast<cl_ulong>(g.tensor(id).shape.back()); };
  auto live = [&g](TensorId id, std::span<const std::int64_t> dims) { return static_cast<cl_uint>(g.live_rows(id, dims)); };
  // A power-of-two work-group size for the row-wise reductions.
  std::size_t reduce_local = 1;
  while (reduce_local * 2 <= std::min<std::size_t>(256, ctx_->max_work_group)) reduce_local *= 2;
  auto make = [&](const std::string& options, const char* kernel) {
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(ctx_->program("transformer", options), kernel, &err);
    check(err, "clCreateKernel");
    s.kernels.push_back(k);
    return k;
  };
  const std::string plain = "-DWTYPE=2";
  // rms_norm and argmax: one reduce_local-item work-group per live row of x; `rows_arg` gets the
  // count each run.
  auto one_group_per_row = [&](cl_kernel k, cl_uint rows_arg, TensorId x) {
    s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
      const cl_uint rows = live(x, dims);
      set_arg(k, rows_arg, rows);
      if (rows > 0) l.push_back({k, 1, {reduce_local * rows, 1, 1}, {reduce_local, 1, 1}, true});
    };
  };
  switch (n.op) {
    case Op::embedding: {
      const TensorId table = n.inputs[0], ids = n.inputs[1], out = n.outputs[0];
      cl_kernel k = make("-DWTYPE=" + std::to_string(static_cast<int>(g.tensor(table).dtype)), "embedding");
      if (error_ == nullptr) {
        cl_int err = CL_SUCCESS;
        const cl_int zero[3] = {0, 0, 0};
        error_ = clCreateBuffer(ctx_->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zero,
                                const_cast<cl_int*>(zero), &err);
        check(err, "clCreateBuffer (embedding error flag)");
      }
      embedding_table_ = table;
      const cl_ulong dim = cols(table);
      set_arg(k, 0, mem(table));
      set_arg(k, 1, static_cast<cl_ulong>(g.tensor(table).shape[0]));
      set_arg(k, 2, dim);
      set_arg(k, 3, mem(ids));
      set_arg(k, 4, mem(out));
      set_arg(k, 6, error_);
      s.plan = [=, &g](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = std::min(live(ids, dims), live(out, dims));
        set_arg(k, 5, rows);
        if (rows > 0) l.push_back({k, 2, {dim, rows, 1}, {1, 1, 1}, false});
      };
      break;
    }
    case Op::rms_norm: {
      cl_kernel k = make(plain, "rms_norm");
      const TensorId x = n.inputs[0];
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(n.outputs[0]));
      set_arg(k, 3, cols(x));
      set_arg(k, 4, static_cast<float>(n.attrs.get_double("eps", 1e-5)));
      check(clSetKernelArg(k, 6, reduce_local * sizeof(float), nullptr), "clSetKernelArg (local scratch)");
      one_group_per_row(k, 5, x);
      break;
    }
    case Op::matmul: {
      const TensorId x = n.inputs[0], w = n.inputs[1];
      const cl_ulong n_out = static_cast<cl_ulong>(g.tensor(w).shape[0]);
      if (ctx_->cpu_kernels) {  // an item per output, a whole row each, no barrier
        cl_kernel k = make("-DWTYPE=" + std::to_string(static_cast<int>(g.tensor(w).dtype)), "matmul_rows");
        set_arg(k, 0, mem(x));
        set_arg(k, 1, mem(w));
        set_arg(k, 2, mem(n.outputs[0]));
        set_arg(k, 3, cols(x));
        set_arg(k, 4, n_out);
        const std::size_t local = std::min<std::size_t>(64, reduce_local);
        const std::size_t global = (n_out + local - 1) / local * local;
        s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
          const cl_uint rows = live(x, dims);
          set_arg(k, 5, rows);
          if (rows > 0) l.push_back({k, 2, {global, rows, 1}, {local, 1, 1}, true});
        };
        break;
      }
      cl_kernel k = make("-DWTYPE=" + std::to_string(static_cast<int>(g.tensor(w).dtype)), "matmul");
      // One item per block of 32 weights, up to 64 (a power of two, for the tree).
      const std::size_t blocks = (static_cast<std::size_t>(cols(x)) + 31) / 32;
      std::size_t local = 1;
      while (local < blocks && local < std::min<std::size_t>(64, reduce_local)) local *= 2;
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(w));
      set_arg(k, 2, mem(n.outputs[0]));
      set_arg(k, 3, cols(x));
      set_arg(k, 4, n_out);
      check(clSetKernelArg(k, 6, local * sizeof(float), nullptr), "clSetKernelArg (local scratch)");
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(x, dims);
        set_arg(k, 5, rows);
        if (rows > 0) l.push_back({k, 2, {local * n_out, rows, 1}, {local, 1, 1}, true});
      };
      break;
    }
    case Op::rope: {
      cl_kernel k = make(plain, "rope");
      const TensorId x = n.inputs[0];
      const auto hd = static_cast<cl_uint>(n.attrs.get_int("head_dim", 0));
      const cl_ulong width = cols(x);
      const bool has_factor = n.inputs.size() > 2;
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(has_factor ? n.inputs[2] : x));  // unread without factors
      set_arg(k, 3, static_cast<cl_uint>(has_factor ? 1 : 0));
      set_arg(k, 4, mem(n.outputs[0]));
      set_arg(k, 5, hd);
      set_arg(k, 6, static_cast<float>(n.attrs.get_double("theta", 10000.0)));
      set_arg(k, 7, width);
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(x, dims);
        set_arg(k, 8, rows);
        if (rows > 0 && hd >= 2) l.push_back({k, 3, {hd / 2, width / hd, rows}, {1, 1, 1}, false});
      };
      break;
    }
    case Op::attention: {
      const TensorId q = n.inputs[0], kc = n.inputs[5];
      const auto& cache = g.tensor(kc);
      const std::string options = plain + (cache.dtype == DType::f16 ? " -DCACHE_HALF" : "");
      cl_kernel store = make(options, "kv_store");
      const auto heads = static_cast<cl_uint>(n.attrs.get_int("heads", 1));
      const auto kv_heads = static_cast<cl_uint>(n.attrs.get_int("kv_heads", 1));
      const auto hd = static_cast<cl_uint>(n.attrs.get_int("head_dim", 1));
      // CPU devices: an item per (head, row), no barrier (attend_rows, up to its head size).
      const bool per_head = ctx_->cpu_kernels && hd <= kAttendRowsMaxHeadDim;
      cl_kernel attend = make(options, per_head ? "attend_rows" : "attend");
      const std::size_t group = hd;  // attend: one item per element of a head
      if (!per_head && group > ctx_->max_work_group)
        throw std::runtime_error("opencl attention: head_dim " + std::to_string(hd) + " needs work-groups of " +
                                 std::to_string(group) + " items; the device allows " + std::to_string(ctx_->max_work_group));
      const auto slots = static_cast<cl_uint>(cache.shape[0]), context = static_cast<cl_uint>(cache.shape[1]);
      const cl_ulong kv_width = static_cast<cl_ulong>(kv_heads) * hd;
      const float scale = static_cast<float>(n.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd))));
      set_arg(store, 0, mem(n.inputs[1]));
      set_arg(store, 1, mem(n.inputs[2]));
      set_arg(store, 2, mem(n.inputs[3]));
      set_arg(store, 3, mem(n.inputs[4]));
      set_arg(store, 4, mem(kc));
      set_arg(store, 5, mem(n.inputs[6]));
      set_arg(store, 6, slots);
      set_arg(store, 7, context);
      set_arg(store, 8, kv_width);
      set_arg(attend, 0, mem(q));
      set_arg(attend, 1, mem(n.inputs[3]));
      set_arg(attend, 2, mem(n.inputs[4]));
      set_arg(attend, 3, mem(kc));
      set_arg(attend, 4, mem(n.inputs[6]));
      set_arg(attend, 5, mem(n.outputs[0]));
      set_arg(attend, 6, heads);
      set_arg(attend, 7, kv_heads);
      set_arg(attend, 8, hd);
      set_arg(attend, 9, scale);
      set_arg(attend, 10, slots);
      set_arg(attend, 11, context);
      if (!per_head) check(clSetKernelArg(attend, 13, group * sizeof(float), nullptr), "clSetKernelArg (local scratch)");
      const auto chunk = static_cast<cl_uint>(n.attrs.get_int("chunk", 1));
      const cl_uint ring = n.attrs.get_bool("ring", false) ? 1 : 0;
      set_arg(store, 10, ring);
      set_arg(attend, per_head ? 13 : 14, chunk);
      set_arg(attend, per_head ? 14 : 15, ring);
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(q, dims);
        set_arg(store, 9, rows);
        set_arg(attend, 12, rows);
        if (rows == 0) return;
        l.push_back({store, 2, {kv_width, rows, 1}, {1, 1, 1}, false});
        if (per_head)
          l.push_back({attend, 2, {heads, rows, 1}, {1, 1, 1}, false});
        else
          l.push_back({attend, 2, {static_cast<std::size_t>(heads) * group, rows, 1}, {group, 1, 1}, true});
      };
      break;
    }
    case Op::silu_mul: {
      cl_kernel k = make(plain, "silu_mul");
      const TensorId a = n.inputs[0];
      set_arg(k, 0, mem(a));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(n.outputs[0]));
      const std::size_t local = local_;
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_ulong count = cols(a) * live(a, dims);
        set_arg(k, 3, count);
        if (count > 0) l.push_back({k, 1, {(count + local - 1) / local * local, 1, 1}, {local, 1, 1}, true});
      };
      break;
    }
    case Op::add_bias: {
      cl_kernel k = make(plain, "add_bias");
      const TensorId x = n.inputs[0];
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(n.outputs[0]));
      set_arg(k, 3, cols(x));
      const std::size_t local = local_;
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_ulong count = cols(x) * live(x, dims);
        set_arg(k, 4, count);
        if (count > 0) l.push_back({k, 1, {(count + local - 1) / local * local, 1, 1}, {local, 1, 1}, true});
      };
      break;
    }
    case Op::layer_norm: {
      cl_kernel k = make(plain, "layer_norm");
      const TensorId x = n.inputs[0];
      const bool affine = n.inputs.size() == 3;
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(affine ? n.inputs[1] : x));  // unread without an affine
      set_arg(k, 2, mem(affine ? n.inputs[2] : x));
      set_arg(k, 3, mem(n.outputs[0]));
      set_arg(k, 4, cols(x));
      set_arg(k, 5, static_cast<float>(n.attrs.get_double("eps", 1e-5)));
      set_arg(k, 7, static_cast<cl_uint>(affine ? 1 : 0));
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(x, dims);
        set_arg(k, 6, rows);
        if (rows > 0) l.push_back({k, 1, {rows, 1, 1}, {1, 1, 1}, false});
      };
      break;
    }
    case Op::modulate:
    case Op::gated_add:
    case Op::gelu:
    case Op::silu:
    case Op::flow_step: {
      // Elementwise over the live rows of in0: its inputs, then (per op) columns or attributes,
      // then the count each run.
      cl_kernel k = make(plain, std::string(name(n.op)).c_str());
      const TensorId x = n.inputs[0];
      cl_uint arg = 0;
      for (TensorId in : n.inputs) set_arg(k, arg++, mem(in));
      set_arg(k, arg++, mem(n.outputs[0]));
      if (n.op == Op::modulate || n.op == Op::gated_add) set_arg(k, arg++, cols(x));
      if (n.op == Op::flow_step) {
        set_arg(k, arg++, static_cast<float>(n.attrs.get_double("sigma", 0)));
        set_arg(k, arg++, static_cast<float>(n.attrs.get_double("sigma_next", 0)));
      }
      const std::size_t local = local_;
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_ulong count = cols(x) * live(x, dims);
        set_arg(k, arg, count);
        if (count > 0) l.push_back({k, 1, {(count + local - 1) / local * local, 1, 1}, {local, 1, 1}, true});
      };
      break;
    }
    case Op::cross_attention: {
      const auto heads = static_cast<cl_uint>(n.attrs.get_int("heads", 1));
      const auto hd = static_cast<cl_uint>(n.attrs.get_int("head_dim", 1));
      if (hd > kAttendRowsMaxHeadDim)
        throw std::runtime_error("opencl cross_attention: head_dim " + std::to_string(hd) + " is above the " +
                                 std::to_string(kAttendRowsMaxHeadDim) + " its kernel holds");
      cl_kernel k = make(plain, "cross_attend_rows");
      const TensorId q = n.inputs[0];
      set_arg(k, 0, mem(q));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(n.inputs[2]));
      set_arg(k, 3, mem(n.outputs[0]));
      set_arg(k, 4, heads);
      set_arg(k, 5, hd);
      set_arg(k, 6, static_cast<float>(n.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd)))));
      set_arg(k, 7, static_cast<cl_uint>(g.tensor(n.inputs[1]).shape[0]));
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(q, dims);
        set_arg(k, 8, rows);
        if (rows > 0) l.push_back({k, 2, {heads, rows, 1}, {1, 1, 1}, false});
      };
      break;
    }
    case Op::unpatchify: {
      cl_kernel k = make(plain, "unpatchify");
      set_arg(k, 0, mem(n.inputs[0]));
      set_arg(k, 1, mem(n.outputs[0]));
      cl_uint arg = 2;
      for (const char* a : {"frames", "height", "width", "channels", "patch_h", "patch_w"})
        set_arg(k, arg++, static_cast<cl_uint>(n.attrs.get_int(a, 1)));
      const std::size_t count = g.tensor(n.outputs[0]).elements(), local = local_;
      s.plan = [=](std::span<const std::int64_t>, std::vector<Launch>& l) {
        l.push_back({k, 1, {(count + local - 1) / local * local, 1, 1}, {local, 1, 1}, true});
      };
      break;
    }
    case Op::argmax: {
      cl_kernel k = make(plain, "argmax");
      const TensorId x = n.inputs[0];
      set_arg(k, 0, mem(x));
      set_arg(k, 1, mem(n.outputs[0]));
      set_arg(k, 2, cols(x));
      check(clSetKernelArg(k, 4, reduce_local * sizeof(float), nullptr), "clSetKernelArg (local scratch)");
      check(clSetKernelArg(k, 5, reduce_local * sizeof(cl_uint), nullptr), "clSetKernelArg (local scratch)");
      one_group_per_row(k, 3, x);
      break;
    }
    case Op::gather_rows: {
      cl_kernel k = make(plain, "gather_rows");
      const TensorId in = n.inputs[0], out = n.outputs[0];
      const cl_ulong width = cols(in);
      set_arg(k, 0, mem(in));
      set_arg(k, 1, mem(n.inputs[1]));
      set_arg(k, 2, mem(out));
      set_arg(k, 3, width);
      s.plan = [=](std::span<const std::int64_t> dims, std::vector<Launch>& l) {
        const cl_uint rows = live(out, dims);
        set_arg(k, 4, live(in, dims));
        set_arg(k, 5, rows);
        if (rows > 0) l.push_back({k, 2, {width, rows, 1}, {1, 1, 1}, false});
      };
      break;
    }
    default: throw std::logic_error("ClExecutable: op " + std::string(name(n.op)) + " passed the device's check");
  }
}

}  // namespace xpb::opencl
