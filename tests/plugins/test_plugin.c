/* A minimal plugin in C99, and from it, one macro each, the broken plugins the tests load: the
 * contract of xpubench_plugin.h checked from the host's side. The working one (`minimal`) does
 * write_fill and copy on f32 and f64 with its own buffers and the host's monotonic clock.
 *
 *   BROKEN_ABI       says ABI 99 (newer than any host)     BROKEN_RUN_SEGV   run dereferences NULL
 *   BROKEN_SHORT     struct_size 16                         BROKEN_RUN_ABORT  run calls abort()
 *   BROKEN_NO_ENTRY  exports no xpb_plugin_entry            BROKEN_RUN_EXIT   run calls exit(3)
 *   BROKEN_ENUMERATE enumerate fails                         BROKEN_RUN_HANG   run never returns
 *   BROKEN_GARBAGE   compile returns status 12345            BROKEN_LEAK       release frees nothing
 *   BROKEN_NAN       run says NaN seconds
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xpubench_plugin.h"

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "minimal"
#endif

static __thread char g_error[512];

static xpb_status fail(xpb_status s, const char* what) {
  snprintf(g_error, sizeof g_error, "%s", what);
  return s;
}

struct xpb_device_s {
  int open;
};
struct xpb_buffer_s {
  unsigned char* data;
  uint64_t bytes;
  int owned_by_exe;
};
enum { MAX_TENSORS = 16, MAX_NODES = 16 };
typedef struct {
  uint32_t op;
  uint32_t dtype;
  uint32_t in, out;
  double value;
} step;
struct xpb_executable_s {
  uint32_t tensor_count, node_count, dim_count;
  struct xpb_buffer_s tensors[MAX_TENSORS];
  struct xpb_buffer_s* views[MAX_TENSORS];
  uint64_t elements[MAX_TENSORS];
  step steps[MAX_NODES];
};

static const char* last_error(void) { return g_error; }

static xpb_status enumerate(uint32_t* count) {
#ifdef BROKEN_ENUMERATE
  (void)count;
  return fail(XPB_DEVICE_ERROR, "the NPU firmware is not loaded (/lib/firmware/npu.bin missing)");
#else
  if (count == NULL) return fail(XPB_INVALID_ARGUMENT, "enumerate: count is NULL");
  *count = 1;
  return XPB_OK;
#endif
}

static xpb_status describe_device(uint32_t index, const char** json) {
  if (index != 0 || json == NULL) return fail(XPB_INVALID_ARGUMENT, "describe_device: no such device");
  *json = "{\"name\": \"" PLUGIN_NAME " test device\", \"kind\": \"npu\", \"properties\": {\"language\": \"C99\"}}";
  return XPB_OK;
}

static xpb_status open_device(uint32_t index, uint32_t n, const char* const* keys, const char* const* values, xpb_device* out) {
  (void)values;
  if (out == NULL) return fail(XPB_INVALID_ARGUMENT, "open: out is NULL");
  if (index != 0) return fail(XPB_INVALID_ARGUMENT, "open: no such device");
  if (n > 0) {
    snprintf(g_error, sizeof g_error, "option '%s' is not known to " PLUGIN_NAME " (it takes none)", keys[0]);
    return XPB_INVALID_ARGUMENT;
  }
  *out = calloc(1, sizeof(struct xpb_device_s));
  if (*out == NULL) return fail(XPB_OUT_OF_MEMORY, "open: out of memory");
  return XPB_OK;
}

static xpb_status query(xpb_device d, const char** caps) {
  if (d == NULL || caps == NULL) return fail(XPB_INVALID_ARGUMENT, "query: NULL argument");
  *caps = "{\"ops\": [{\"op\": 1, \"dtypes\": [1, 2]}, {\"op\": 6, \"dtypes\": [1, 2]}], \"memory_bytes\": 0,"
          " \"clock\": {\"kind\": 0, \"resolution_s\": 1e-6, \"deterministic\": false},"
          " \"numeric_profile\": {\"accumulation\": \"none\"}}";
  return XPB_OK;
}

static xpb_status alloc_buffer(xpb_device d, uint64_t bytes, xpb_buffer* out) {
  if (d == NULL || out == NULL || bytes == 0) return fail(XPB_INVALID_ARGUMENT, "alloc: NULL argument or 0 bytes");
  if (bytes > ((uint64_t)1 << 40)) return fail(XPB_OUT_OF_MEMORY, "alloc: more than 1 TiB");
  struct xpb_buffer_s* b = calloc(1, sizeof *b);
  if (b == NULL) return fail(XPB_OUT_OF_MEMORY, "alloc: out of memory");
  b->data = malloc((size_t)bytes);
  if (b->data == NULL) {
    free(b);
    return fail(XPB_OUT_OF_MEMORY, "alloc: out of memory");
  }
  b->bytes = bytes;
  *out = b;
  return XPB_OK;
}

static int in_range(xpb_buffer b, uint64_t offset, uint64_t bytes) {
  return b != NULL && offset <= b->bytes && bytes <= b->bytes - offset;
}

static xpb_status upload(xpb_device d, xpb_buffer b, uint64_t offset, const void* src, uint64_t bytes) {
  if (d == NULL || !in_range(b, offset, bytes) || (src == NULL && bytes > 0))
    return fail(XPB_INVALID_ARGUMENT, "upload: range outside the buffer or NULL argument");
  if (bytes > 0) memcpy(b->data + offset, src, (size_t)bytes);
  return XPB_OK;
}

static xpb_status download(xpb_device d, xpb_buffer b, uint64_t offset, void* dst, uint64_t bytes) {
  if (d == NULL || !in_range(b, offset, bytes) || (dst == NULL && bytes > 0))
    return fail(XPB_INVALID_ARGUMENT, "download: range outside the buffer or NULL argument");
  if (bytes > 0) memcpy(dst, b->data + offset, (size_t)bytes);
  return XPB_OK;
}

static xpb_status release_executable(xpb_executable e);

static xpb_status compile(xpb_device d, const xpb_graph* g, xpb_executable* out) {
  if (d == NULL || g == NULL || out == NULL) return fail(XPB_INVALID_ARGUMENT, "compile: NULL argument");
#ifdef BROKEN_GARBAGE
  return 12345;
#endif
  if (g->tensor_count > MAX_TENSORS || g->node_count > MAX_NODES)
    return fail(XPB_UNSUPPORTED, "compile: more than 16 tensors or nodes");
  for (uint32_t i = 0; i < g->node_count; ++i) {
    const xpb_node* n = &g->nodes[i];
    if (n->op != 1 && n->op != 6) {
      snprintf(g_error, sizeof g_error, "op code %u is not supported by " PLUGIN_NAME " (it does copy and write_fill)",
               (unsigned)n->op);
      return XPB_UNSUPPORTED;
    }
    const uint32_t dt = g->tensors[n->outputs[0]].dtype;
    if (dt != XPB_DTYPE_F32 && dt != XPB_DTYPE_F64) {
      snprintf(g_error, sizeof g_error, "op %u: dtype %u is not supported by " PLUGIN_NAME, (unsigned)n->op, (unsigned)dt);
      return XPB_UNSUPPORTED;
    }
  }
  struct xpb_executable_s* e = calloc(1, sizeof *e);
  if (e == NULL) return fail(XPB_OUT_OF_MEMORY, "compile: out of memory");
  e->tensor_count = g->tensor_count;
  e->node_count = g->node_count;
  e->dim_count = g->dim_count;
  for (uint32_t i = 0; i < g->tensor_count; ++i) {
    const xpb_tensor* t = &g->tensors[i];
    e->elements[i] = t->bytes / (t->dtype == XPB_DTYPE_F64 ? 8 : 4);
    if (g->bindings != NULL && g->bindings[i] != NULL) {
      e->views[i] = g->bindings[i];
      continue;
    }
    e->tensors[i].data = malloc(t->bytes > 0 ? (size_t)t->bytes : 1);
    e->tensors[i].bytes = t->bytes;
    e->tensors[i].owned_by_exe = 1;
    e->views[i] = &e->tensors[i];
    if (e->tensors[i].data == NULL) {
      release_executable(e);
      return fail(XPB_OUT_OF_MEMORY, "compile: out of memory");
    }
    if (t->initial != NULL) memcpy(e->tensors[i].data, t->initial, (size_t)t->bytes);
    else memset(e->tensors[i].data, 0, (size_t)t->bytes);
  }
  for (uint32_t i = 0; i < g->node_count; ++i) {
    const xpb_node* n = &g->nodes[i];
    step* s = &e->steps[i];
    s->op = n->op;
    s->out = n->outputs[0];
    s->in = n->input_count > 0 ? n->inputs[0] : 0;
    s->dtype = g->tensors[s->out].dtype;
    for (uint32_t a = 0; a < n->attr_count; ++a)
      if (strcmp(n->attrs[a].key, "value") == 0) s->value = n->attrs[a].f;
  }
  *out = e;
  return XPB_OK;
}

static xpb_status executable_buffer(xpb_executable e, uint32_t tensor, xpb_buffer* out) {
  if (e == NULL || out == NULL || tensor >= e->tensor_count) return fail(XPB_INVALID_ARGUMENT, "executable_buffer: bad argument");
  *out = e->views[tensor];
  return XPB_OK;
}

static xpb_status tensor_written(xpb_executable e, uint32_t tensor) {
  if (e == NULL || tensor >= e->tensor_count) return fail(XPB_INVALID_ARGUMENT, "tensor_written: bad argument");
  return XPB_OK;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static xpb_status run(xpb_executable e, const xpb_run_args* a, xpb_run_result* out) {
  if (e == NULL || a == NULL || out == NULL || a->iterations == 0) return fail(XPB_INVALID_ARGUMENT, "run: bad argument");
  if (a->dim_count != 0 && a->dim_count != e->dim_count) return fail(XPB_INVALID_ARGUMENT, "run: wrong number of dims");
#ifdef BROKEN_RUN_SEGV
  if (e->node_count > 0) {
    volatile int* nowhere = (volatile int*)(uintptr_t)(a->iterations - a->iterations);
    *nowhere = 1;
  }
#endif
#ifdef BROKEN_RUN_ABORT
  if (e->node_count > 0) abort();
#endif
#ifdef BROKEN_RUN_EXIT
  if (e->node_count > 0) exit(3);
#endif
#ifdef BROKEN_RUN_HANG
  if (e->node_count > 0)
    for (;;) sleep(1);
#endif
  const double t0 = now_seconds();
  uint64_t done = 0;
  for (; done < a->iterations; ++done) {
    if (a->cancelled != NULL && a->cancelled(a->cancel_context)) break;
    for (uint32_t i = 0; i < e->node_count; ++i) {
      const step* s = &e->steps[i];
      const uint64_t n = e->elements[s->out];
      unsigned char* dst = e->views[s->out]->data;
      if (s->op == 1) {
        memcpy(dst, e->views[s->in]->data, (size_t)e->views[s->out]->bytes);
      } else if (s->dtype == XPB_DTYPE_F64) {
        for (uint64_t k = 0; k < n; ++k) ((double*)dst)[k] = s->value;
      } else {
        for (uint64_t k = 0; k < n; ++k) ((float*)dst)[k] = (float)s->value;
      }
    }
  }
  out->clock = XPB_CLOCK_HOST;
  out->seconds = now_seconds() - t0;
#ifdef BROKEN_NAN
  out->seconds = 0.0 / 0.0;
#endif
  out->iterations = done;
  out->energy_source = XPB_ENERGY_UNAVAILABLE;
  return done < a->iterations ? fail(XPB_INTERRUPTED, "run: cancelled") : XPB_OK;
}

static xpb_status release_buffer(xpb_buffer b) {
  if (b == NULL) return fail(XPB_INVALID_ARGUMENT, "release_buffer: NULL");
#ifndef BROKEN_LEAK
  free(b->data);
  free(b);
#endif
  return XPB_OK;
}

static xpb_status release_executable(xpb_executable e) {
  if (e == NULL) return fail(XPB_INVALID_ARGUMENT, "release_executable: NULL");
#ifndef BROKEN_LEAK
  for (uint32_t i = 0; i < e->tensor_count; ++i)
    if (e->tensors[i].owned_by_exe) free(e->tensors[i].data);
  free(e);
#endif
  return XPB_OK;
}

static xpb_status release_device(xpb_device d) {
  if (d == NULL) return fail(XPB_INVALID_ARGUMENT, "release_device: NULL");
  free(d);
  return XPB_OK;
}

static const xpb_plugin table = {
#ifdef BROKEN_ABI
    99,
#else
    XPB_PLUGIN_ABI_VERSION,
#endif
#ifdef BROKEN_SHORT
    16,
#else
    sizeof(xpb_plugin),
#endif
    PLUGIN_NAME, "0.1", "a test plugin in C99 (" PLUGIN_NAME ")", last_error, enumerate, describe_device, open_device,
    query, alloc_buffer, upload, download, compile, executable_buffer, tensor_written, run, release_buffer,
    release_executable, release_device};

#ifdef BROKEN_NO_ENTRY
XPB_PLUGIN_EXPORT const xpb_plugin* xpb_plugin_entry_misspelt(uint32_t host_abi);
XPB_PLUGIN_EXPORT const xpb_plugin* xpb_plugin_entry_misspelt(uint32_t host_abi) {
#else
XPB_PLUGIN_EXPORT const xpb_plugin* xpb_plugin_entry(uint32_t host_abi);
XPB_PLUGIN_EXPORT const xpb_plugin* xpb_plugin_entry(uint32_t host_abi) {
#endif
  return host_abi == 0 ? NULL : &table;
}
