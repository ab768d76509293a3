/* xpubench_plugin.h — the stable C ABI between xpubench and a vendor's device driver.
 *
 * A plugin is a shared library exporting one symbol:
 *
 *     const xpb_plugin* xpb_plugin_entry(uint32_t host_abi);
 *
 * xpubench dlopen()s it (RTLD_NOW | RTLD_LOCAL), calls the entry with its own ABI version and
 * reads the table it gets back. Nothing but C types crosses: opaque handles, flat arrays,
 * status codes and UTF-8 text. C99; no libxpubench is needed to build a plugin, only this file
 * (drivers/npu_ref is a complete plugin to copy; docs/PLUGINS.md walks through it).
 *
 * VERSIONING (learned from PJRT's C API, hwloc's component ABI and the OpenCL ICD loader):
 * - xpb_plugin begins with abi_version and struct_size, and fields are only ever appended. A
 *   new ABI version appends fields (and may append fields to the argument structs, which also
 *   begin with struct_size); nothing is removed, reordered or changes meaning.
 * - Handshake both ways. The host passes its version to the entry; a plugin that cannot serve a
 *   host that old returns NULL. The plugin answers with its own version in abi_version:
 *     plugin older than the host: accepted; the host uses only the fields that plugin's version
 *       has (struct_size says how far the table goes; later fields read as absent);
 *     plugin newer than the host: refused, naming both versions;
 *     struct_size shorter than the plugin's version requires: refused ("struct too short").
 * - Op and dtype codes are xpubench's frozen codes (`xpubench list ops`; graph.hpp, dtype.hpp).
 *   New ops and dtypes get new codes; a plugin refuses codes it does not know.
 *
 * OWNERSHIP
 * - Text returned by the plugin (name, description, describe_device, query, last_error) is
 *   owned by the plugin; see each call for how long it stays valid. The host copies it.
 * - Everything the host passes in (graph arrays, option strings, source bytes of upload, the
 *   initial bytes of tensors) is owned by the host and valid only during the call: a plugin
 *   that needs it later copies it.
 * - Handles (xpb_device, xpb_buffer, xpb_executable) are created by the plugin and released by
 *   the host, exactly once each, with the matching release call. The host releases every
 *   buffer and executable of a device before the device, keeps a buffer unreleased while any
 *   executable compiled with it bound lives, and releases every device before it unloads the
 *   library. Buffers got from executable_buffer() belong to their executable: the host never
 *   releases them, and uses them only while the executable lives.
 *
 * THREADING
 * - enumerate, describe_device and open may be called from any thread, never concurrently.
 * - Calls on one device and on objects made from it come from one thread at a time. Different
 *   devices may be used from different threads at once.
 * - last_error() reports the last failure of the calling thread (keep it thread-local).
 * - The host may fork() after open and go on using the device in the child (isolation: each
 *   benchmark in a child process). A plugin that keeps threads of its own must make them again
 *   in the child (pthread_atfork) or start them lazily per run.
 *
 * ERRORS
 * - Every call returns an xpb_status. On anything but XPB_OK the plugin sets the text that
 *   last_error() returns (what failed and why, naming the op, dtype, tensor or size) and leaves
 *   the out-parameters untouched. A status outside the list below is treated by the host as a
 *   broken plugin.
 * - A plugin never lets a C++ exception, a longjmp or a signal out of a call. A crash or hang
 *   inside it is caught by the host only under isolation (`xpubench run --isolate`, the default
 *   for `xpubench conform`): the benchmark is recorded failed with the signal or the timeout.
 */
#ifndef XPUBENCH_PLUGIN_H
#define XPUBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. 1: the first ABI. */
#define XPB_PLUGIN_ABI_VERSION 1u
#define XPB_PLUGIN_ENTRY_SYMBOL "xpb_plugin_entry"

#if defined(_WIN32)
#define XPB_PLUGIN_EXPORT __declspec(dllexport)
#else
#define XPB_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status codes ---------------------------------------------------------------------------- */
typedef int32_t xpb_status;
enum {
  XPB_OK = 0,
  /* The device cannot do this: an op, dtype, shape, model or size it does not support. An
   * expected outcome (recorded `unsupported` with last_error's text), not a fault. */
  XPB_UNSUPPORTED = 1,
  /* The host broke the contract: a NULL out-pointer, an index past the end, a range outside a
   * buffer, a handle of another device, an unknown option. */
  XPB_INVALID_ARGUMENT = 2,
  /* The device has no memory left for this. */
  XPB_OUT_OF_MEMORY = 3,
  /* The device failed: a hardware or driver fault, or bad data met while running (a token id
   * outside the embedding table). */
  XPB_DEVICE_ERROR = 4,
  /* run() saw the cancel callback return nonzero and stopped early (out->iterations says how
   * many iterations completed). */
  XPB_INTERRUPTED = 5
};

/* ---- opaque handles -------------------------------------------------------------------------- */
typedef struct xpb_device_s* xpb_device;
typedef struct xpb_buffer_s* xpb_buffer;
typedef struct xpb_executable_s* xpb_executable;

/* ---- codes shared with xpubench ----------------------------------------------------------------
 * Clock kinds (where run()'s seconds come from; a simulated time is never shown as measured). */
enum { XPB_CLOCK_HOST = 0, XPB_CLOCK_DEVICE_EVENTS = 1, XPB_CLOCK_SIMULATED = 2 };
/* Where run()'s joules come from. */
enum { XPB_ENERGY_UNAVAILABLE = 0, XPB_ENERGY_MEASURED = 1, XPB_ENERGY_MODELED = 2 };
/* Tensor roles (graph.hpp TensorRole). */
enum { XPB_ROLE_WEIGHT = 1, XPB_ROLE_ACTIVATION = 2, XPB_ROLE_STATE = 3, XPB_ROLE_INPUT = 4, XPB_ROLE_OUTPUT = 5 };
/* Attribute value types. */
enum { XPB_ATTR_INT = 0, XPB_ATTR_REAL = 1, XPB_ATTR_BOOL = 2, XPB_ATTR_STRING = 3 };
/* Dtype codes (dtype.hpp), for convenience; the list of ops with their codes, inputs,
 * attributes and exact semantics is `xpubench list ops` and graph.hpp. */
enum {
  XPB_DTYPE_F64 = 1, XPB_DTYPE_F32 = 2, XPB_DTYPE_F16 = 3, XPB_DTYPE_BF16 = 4, XPB_DTYPE_I8 = 5,
  XPB_DTYPE_U8 = 6, XPB_DTYPE_I32 = 7, XPB_DTYPE_U32 = 8, XPB_DTYPE_U64 = 9,
  XPB_DTYPE_Q8_0 = 10, /* GGUF block: f16 scale + 32 int8, 34 bytes per 32 values */
  XPB_DTYPE_Q4_0 = 11, /* GGUF block: f16 scale + 16 bytes of 4-bit values, 18 bytes per 32 */
  /* The other GGUF block formats, ggml's layouts byte for byte (xpubench/gguf_blocks.hpp has
   * the structs and where each value lives); bytes per block of 32 or 256 values: */
  XPB_DTYPE_Q4_1 = 12,   /* 20 per 32 */
  XPB_DTYPE_Q5_0 = 13,   /* 22 per 32 */
  XPB_DTYPE_Q5_1 = 14,   /* 24 per 32 */
  XPB_DTYPE_Q2_K = 15,   /* 84 per 256 */
  XPB_DTYPE_Q3_K = 16,   /* 110 per 256 */
  XPB_DTYPE_Q4_K = 17,   /* 144 per 256 */
  XPB_DTYPE_Q5_K = 18,   /* 176 per 256 */
  XPB_DTYPE_Q6_K = 19,   /* 210 per 256 */
  XPB_DTYPE_IQ4_NL = 20, /* 18 per 32 */
  XPB_DTYPE_IQ4_XS = 21  /* 136 per 256 */
};

/* ---- the graph, as flat arrays ------------------------------------------------------------- */

/* One attribute of a node: `key` and the value in the member `type` names. */
typedef struct xpb_attr {
  const char* key;
  uint32_t type; /* XPB_ATTR_* */
  uint32_t reserved;
  int64_t i;     /* XPB_ATTR_INT; XPB_ATTR_BOOL: 0 or 1 */
  double f;      /* XPB_ATTR_REAL */
  const char* s; /* XPB_ATTR_STRING (UTF-8, NUL-terminated) */
} xpb_attr;

typedef struct xpb_tensor {
  const char* name;
  uint32_t dtype;       /* XPB_DTYPE_* code */
  uint32_t role;        /* XPB_ROLE_* */
  uint32_t rank;        /* entries in shape */
  /* A dynamic leading dimension: the index (into xpb_graph.dim_max and xpb_run_args.dims) of
   * the dim giving how many rows of shape[0] are live in each run, or -1 for none. */
  int32_t rows_dim;
  const int64_t* shape; /* row-major, outermost first */
  uint64_t bytes;       /* the storage of the whole tensor (block formats included) */
  /* The tensor's contents before the first run, `bytes` long, made by the host (synthetic
   * weights, a model file's tensor, a pointer-chase ring), or NULL when the graph writes it
   * before reading it (the plugin may leave it undefined) and for bound tensors. */
  const void* initial;
} xpb_tensor;

typedef struct xpb_node {
  uint32_t op; /* frozen op code */
  uint32_t input_count;
  const uint32_t* inputs; /* tensor indices */
  uint32_t output_count;
  const uint32_t* outputs;
  uint32_t attr_count;
  const xpb_attr* attrs;
} xpb_node;

typedef struct xpb_graph {
  uint32_t struct_size; /* sizeof(xpb_graph) as the host knows it */
  uint32_t tensor_count;
  const char* name;
  /* What model the graph computes ("" when it is not a model): a device hardwired to one model
   * accepts or refuses a graph by this. */
  const char* model_architecture;
  const char* model_shape;
  const char* model_weight_format;
  const char* model_fingerprint;
  const xpb_tensor* tensors; /* tensor_count */
  uint32_t node_count;
  uint32_t dim_count;
  const xpb_node* nodes;   /* node_count, in execution order */
  const int64_t* dim_max;  /* dim_count: the largest value each dynamic dim may take */
  /* tensor_count entries: a buffer of this device to use for that tensor (weights shared by
   * several executables, a KV cache shared by two graphs), or NULL: the executable allocates
   * its own. A bound buffer holds exactly the tensor's bytes. */
  const xpb_buffer* bindings;
} xpb_graph;

/* ---- running -------------------------------------------------------------------------------- */

typedef struct xpb_run_args {
  uint32_t struct_size;
  uint32_t dim_count;   /* 0: every dynamic dim at its max; else the graph's dim_count */
  uint64_t iterations;  /* run the whole graph this many times back to back, >= 1 */
  const int64_t* dims;  /* dim_count values, each in 0..dim_max */
  /* Nonzero when the user asked to stop. May be NULL. A long run polls it (every ~100 ms where
   * it can), stops and returns XPB_INTERRUPTED with the iterations completed. */
  int (*cancelled)(void* context);
  void* cancel_context;
} xpb_run_args;

typedef struct xpb_run_result {
  /* Set by the host to sizeof(xpb_run_result) as it knows it: a plugin writes only fields that
   * lie within it. */
  uint32_t struct_size;
  uint32_t clock;          /* XPB_CLOCK_*: the clock `seconds` was read from */
  double seconds;          /* all iterations that ran, on that clock, finite and >= 0 */
  uint64_t iterations;     /* completed: as asked, or fewer with XPB_INTERRUPTED */
  uint32_t energy_source;  /* XPB_ENERGY_*: UNAVAILABLE unless the device knows */
  uint32_t reserved;
  double energy_joules;    /* of all iterations that ran, when energy_source says so */
} xpb_run_result;

/* ---- the table ------------------------------------------------------------------------------- */

typedef struct xpb_plugin {
  /* --- ABI version 1 --- */
  uint32_t abi_version; /* XPB_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(xpb_plugin) the plugin was built with */
  /* The plugin's name: [a-z0-9_]+, e.g. "npu_ref". Its devices are `plugin:NAME` (one device)
   * or `plugin:NAME:N`. Static text. */
  const char* name;
  const char* version;     /* the plugin's own version, free text. Static. */
  const char* description; /* one line. Static. */

  /* The text of the calling thread's last failed call; "" when none. Valid until that thread's
   * next call into the plugin. */
  const char* (*last_error)(void);

  /* How many devices the plugin sees now (0 is fine; then last_error may say why: "no NPU
   * found: /dev/accel0 missing"). A status other than XPB_OK lists the plugin with its
   * last_error and no devices. */
  xpb_status (*enumerate)(uint32_t* count);
  /* A JSON object describing device `index`: {"name": "...", "kind": "npu", "properties":
   * {"key": "string value", ...}}. The text stays valid until the library is unloaded. */
  xpb_status (*describe_device)(uint32_t index, const char** json);
  /* Opens device `index` with the user's options (`--device plugin:NAME,key=value,...`), given
   * as option_count key/value strings. An option the plugin does not take is
   * XPB_INVALID_ARGUMENT naming it. */
  xpb_status (*open)(uint32_t index, uint32_t option_count, const char* const* keys, const char* const* values,
                     xpb_device* out);
  /* What the device can do, as a JSON object; the text stays valid until the device is released:
   *   {"ops": [{"op": 12, "dtypes": [2, 3, 10]}, ...],   (op code; the dtypes it takes: of the
   *                                                        weights for matmul/embedding, else of
   *                                                        the data)
   *    "memory_bytes": 1073741824,                        (0: unknown)
   *    "shares_host_memory": false,                       (optional: true when the device
   *                                                        computes on host DRAM, so upload and
   *                                                        download are copies within it)
   *    "clock": {"kind": 0, "resolution_s": 1e-9, "deterministic": false},
   *    "numeric_profile": {"accumulation": "f32", ...}}   (free text, for readers and tolerances)
   */
  xpb_status (*query)(xpb_device device, const char** caps_json);

  /* Device memory of `bytes` bytes (> 0), contents undefined. */
  xpb_status (*alloc)(xpb_device device, uint64_t bytes, xpb_buffer* out);
  /* Host -> device and device -> host copies of `bytes` bytes at `offset` in the buffer; a range
   * outside it is XPB_INVALID_ARGUMENT. Synchronous: done when the call returns. */
  xpb_status (*upload)(xpb_device device, xpb_buffer buffer, uint64_t offset, const void* src, uint64_t bytes);
  xpb_status (*download)(xpb_device device, xpb_buffer buffer, uint64_t offset, void* dst, uint64_t bytes);

  /* Compiles a graph. The host has checked it against xpubench's op catalogue (arity, shapes,
   * dtypes, attributes). The plugin may fuse, reorder or refuse: an op, dtype or attribute it
   * does not do is XPB_UNSUPPORTED with last_error naming it ("matmul: weights q4_0 are not
   * supported"). Tensors with `initial` bytes start with them; bound tensors use the buffer. */
  xpb_status (*compile)(xpb_device device, const xpb_graph* graph, xpb_executable* out);
  /* The buffer holding tensor `tensor` of an executable (to read results, write inputs, or bind
   * into another executable). Owned by the executable. */
  xpb_status (*executable_buffer)(xpb_executable exe, uint32_t tensor, xpb_buffer* out);
  /* The host wrote into tensor `tensor` of this executable (through its buffer): whatever the
   * executable derived from that tensor at compile (the start lines of a pointer chase) must
   * follow the new contents. */
  xpb_status (*tensor_written)(xpb_executable exe, uint32_t tensor);
  /* Runs the graph args->iterations times back to back and says how long that took on the
   * device's clock. Bad data met while running is XPB_DEVICE_ERROR with the reason. */
  xpb_status (*run)(xpb_executable exe, const xpb_run_args* args, xpb_run_result* out);

  xpb_status (*release_buffer)(xpb_buffer buffer);
  xpb_status (*release_executable)(xpb_executable exe);
  xpb_status (*release_device)(xpb_device device);
  /* --- fields added by later ABI versions go here, and only here --- */
} xpb_plugin;

/* The one symbol a plugin exports. Returns the plugin's table (static, valid until unload), or
 * NULL when it cannot serve a host of ABI `host_abi`. */
typedef const xpb_plugin* (*xpb_plugin_entry_fn)(uint32_t host_abi);

#ifdef __cplusplus
}
#endif

#endif /* XPUBENCH_PLUGIN_H */
