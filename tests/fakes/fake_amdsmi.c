/* A stand-in for AMD SMI (libamd_smi.so) for tests/unit/test_energy_gpu.cpp: the calls
 * harness/core/src/energy_amdsmi.cpp makes, with their documented C signatures (AMD SMI API
 * reference, amdsmi.h of ROCm 6.x), over GPUs described by environment variables. Like the
 * real library (amd_smi.cc), amdsmi_init keeps one flag, not a count: the variables are read
 * when it goes from uninitialised to initialised, so every test that destroys its sensors
 * gets a fresh reading of its own.
 *
 *   FAKE_AMDSMI_GPUS           "0000:c1:00.0=AMD Instinct MI300X;..." (default: one GPU,
 *                              0000:c1:00.0 named "AMD Instinct MI300X"); two per socket
 *   FAKE_AMDSMI_POWER_W        power in watts, the accumulator's rate (default 200)
 *   FAKE_AMDSMI_RESOLUTION_UJ  microjoules per count (default 15.3, the library's constant)
 *   FAKE_AMDSMI_STEP_MS        the accumulator's update step in milliseconds (default 1)
 *   FAKE_AMDSMI_START          the accumulator's value at init, in counts (default 1000)
 *   FAKE_AMDSMI_WIDTH          32 to wrap at 2^32 counts as some firmware does (default 64)
 *   FAKE_AMDSMI_RESET_MS       the accumulator starts again from 0 this long after init
 *   FAKE_AMDSMI_FAIL_INIT      amdsmi_init returns this status (e.g. 34, driver not loaded)
 *   FAKE_AMDSMI_NO_ENERGY      when set, the energy call returns AMDSMI_STATUS_NOT_SUPPORTED
 *   FAKE_AMDSMI_ALL_ONES       when set, the accumulator reads UINT_MAX (kernel: unsupported)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_API __attribute__((visibility("default")))

typedef uint32_t amdsmi_status_t;
enum {
  AMDSMI_STATUS_SUCCESS = 0,
  AMDSMI_STATUS_INVAL = 1,
  AMDSMI_STATUS_NOT_SUPPORTED = 2,
  AMDSMI_STATUS_NOT_INIT = 32,
  AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
};
enum { AMDSMI_INIT_AMD_GPUS = 1 << 1 };

typedef void* amdsmi_socket_handle;
typedef void* amdsmi_processor_handle;

/* amdsmi_bdf_t as the AMD SMI reference documents it: the fake sets the named bit-fields, so
 * the sensor's shift decoding is checked against the compiler's layout. */
typedef union {
  struct {
    uint64_t function_number : 3;
    uint64_t device_number : 5;
    uint64_t bus_number : 8;
    uint64_t domain_number : 48;
  } fields;
  uint64_t as_uint;
} amdsmi_bdf_t;

/* amdsmi_asic_info_t as ROCm 6.3's reference documents it. */
typedef struct {
  char market_name[256];
  uint32_t vendor_id;
  char vendor_name[64];
  uint32_t subvendor_id;
  uint64_t device_id;
  uint32_t rev_id;
  char asic_serial[32];
  uint32_t oam_id;
  uint32_t num_of_compute_units;
  uint64_t target_graphics_version;
  uint32_t reserved[15];
} amdsmi_asic_info_t;

struct fake_gpu {
  unsigned domain, bus, device, function;
  char name[128];
};

#define MAX_GPUS 16
#define PER_SOCKET 2
static struct fake_gpu gpus[MAX_GPUS];
static unsigned gpu_count;
static int initialized;
static double power_w, resolution_uj, step_ms, start_counts, reset_ms;
static int width32, no_energy, all_ones;
static struct timespec t0;

static double env_number(const char* name, double fallback) {
  const char* v = getenv(name);
  return v != NULL && *v != '\0' ? strtod(v, NULL) : fallback;
}

static void parse_gpus(const char* spec) {
  gpu_count = 0;
  while (spec != NULL && *spec != '\0' && gpu_count < MAX_GPUS) {
    const char* end = strchr(spec, ';');
    size_t len = end != NULL ? (size_t)(end - spec) : strlen(spec);
    char entry[200];
    if (len < sizeof entry) {
      memcpy(entry, spec, len);
      entry[len] = '\0';
      struct fake_gpu* g = &gpus[gpu_count];
      char* eq = strchr(entry, '=');
      if (eq != NULL && sscanf(entry, "%x:%x:%x.%x", &g->domain, &g->bus, &g->device, &g->function) == 4) {
        snprintf(g->name, sizeof g->name, "%s", eq + 1);
        ++gpu_count;
      }
    }
    spec = end != NULL ? end + 1 : NULL;
  }
}

static double elapsed_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) * 1e-6;
}

/* Socket handles point at the first GPU of their socket; processor handles at their GPU. */
static int socket_of(amdsmi_socket_handle h, unsigned* first) {
  for (unsigned i = 0; i < gpu_count; i += PER_SOCKET)
    if (h == (void*)&gpus[i]) {
      *first = i;
      return 1;
    }
  return 0;
}

static struct fake_gpu* gpu_of(amdsmi_processor_handle h) {
  for (unsigned i = 0; i < gpu_count; ++i)
    if (h == (void*)&gpus[i]) return &gpus[i];
  return NULL;
}

FAKE_API amdsmi_status_t amdsmi_init(uint64_t init_flags) {
  const char* fail = getenv("FAKE_AMDSMI_FAIL_INIT");
  if (fail != NULL && *fail != '\0') return (amdsmi_status_t)strtoul(fail, NULL, 10);
  if ((init_flags & AMDSMI_INIT_AMD_GPUS) == 0) return AMDSMI_STATUS_INVAL;
  if (initialized) return AMDSMI_STATUS_SUCCESS;
  const char* spec = getenv("FAKE_AMDSMI_GPUS");
  parse_gpus(spec != NULL ? spec : "0000:c1:00.0=AMD Instinct MI300X");
  power_w = env_number("FAKE_AMDSMI_POWER_W", 200);
  resolution_uj = env_number("FAKE_AMDSMI_RESOLUTION_UJ", 15.3);
  step_ms = env_number("FAKE_AMDSMI_STEP_MS", 1);
  if (step_ms <= 0) step_ms = 1;
  start_counts = env_number("FAKE_AMDSMI_START", 1000);
  reset_ms = env_number("FAKE_AMDSMI_RESET_MS", -1);
  width32 = env_number("FAKE_AMDSMI_WIDTH", 64) == 32;
  no_energy = getenv("FAKE_AMDSMI_NO_ENERGY") != NULL;
  all_ones = getenv("FAKE_AMDSMI_ALL_ONES") != NULL;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  initialized = 1;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_shut_down(void) {
  initialized = 0;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_status_code_to_string(amdsmi_status_t status, const char** status_string) {
  if (status_string == NULL) return AMDSMI_STATUS_INVAL;
  switch (status) {
    case AMDSMI_STATUS_SUCCESS: *status_string = "AMDSMI_STATUS_SUCCESS: Call succeeded"; break;
    case AMDSMI_STATUS_INVAL: *status_string = "AMDSMI_STATUS_INVAL: Invalid parameters"; break;
    case AMDSMI_STATUS_NOT_SUPPORTED: *status_string = "AMDSMI_STATUS_NOT_SUPPORTED: Command not supported"; break;
    case AMDSMI_STATUS_NOT_INIT: *status_string = "AMDSMI_STATUS_NOT_INIT: Device not initialized"; break;
    case AMDSMI_STATUS_DRIVER_NOT_LOADED: *status_string = "fake AMD SMI: processor driver not loaded"; break;
    default: *status_string = "fake AMD SMI: unknown error"; break;
  }
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_get_socket_handles(uint32_t* socket_count, amdsmi_socket_handle* socket_handles) {
  if (!initialized) return AMDSMI_STATUS_NOT_INIT;
  if (socket_count == NULL) return AMDSMI_STATUS_INVAL;
  const uint32_t n = (gpu_count + PER_SOCKET - 1) / PER_SOCKET;
  if (socket_handles != NULL)
    for (uint32_t i = 0; i < n && i < *socket_count; ++i) socket_handles[i] = &gpus[i * PER_SOCKET];
  *socket_count = socket_handles != NULL && *socket_count < n ? *socket_count : n;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_get_processor_handles(amdsmi_socket_handle socket_handle, uint32_t* processor_count,
                                                      amdsmi_processor_handle* processor_handles) {
  unsigned first = 0;
  if (!initialized) return AMDSMI_STATUS_NOT_INIT;
  if (processor_count == NULL || !socket_of(socket_handle, &first)) return AMDSMI_STATUS_INVAL;
  uint32_t n = gpu_count - first < PER_SOCKET ? gpu_count - first : PER_SOCKET;
  if (processor_handles != NULL)
    for (uint32_t i = 0; i < n && i < *processor_count; ++i) processor_handles[i] = &gpus[first + i];
  *processor_count = processor_handles != NULL && *processor_count < n ? *processor_count : n;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_get_gpu_device_bdf(amdsmi_processor_handle processor_handle, amdsmi_bdf_t* bdf) {
  struct fake_gpu* g = gpu_of(processor_handle);
  if (!initialized) return AMDSMI_STATUS_NOT_INIT;
  if (g == NULL || bdf == NULL) return AMDSMI_STATUS_INVAL;
  bdf->as_uint = 0;
  bdf->fields.function_number = g->function;
  bdf->fields.device_number = g->device;
  bdf->fields.bus_number = g->bus;
  bdf->fields.domain_number = g->domain;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_get_gpu_asic_info(amdsmi_processor_handle processor_handle, amdsmi_asic_info_t* info) {
  struct fake_gpu* g = gpu_of(processor_handle);
  if (!initialized) return AMDSMI_STATUS_NOT_INIT;
  if (g == NULL || info == NULL) return AMDSMI_STATUS_INVAL;
  memset(info, 0, sizeof *info);
  snprintf(info->market_name, sizeof info->market_name, "%s", g->name);
  info->vendor_id = 0x1002;
  snprintf(info->vendor_name, sizeof info->vendor_name, "Advanced Micro Devices Inc. [AMD/ATI]");
  info->device_id = 0x74a1;
  info->oam_id = 0xFFFFFFFFu;
  return AMDSMI_STATUS_SUCCESS;
}

FAKE_API amdsmi_status_t amdsmi_get_energy_count(amdsmi_processor_handle processor_handle, uint64_t* energy_accumulator,
                                                 float* counter_resolution, uint64_t* timestamp) {
  struct fake_gpu* g = gpu_of(processor_handle);
  if (!initialized) return AMDSMI_STATUS_NOT_INIT;
  if (g == NULL) return AMDSMI_STATUS_INVAL;
  if (no_energy) return AMDSMI_STATUS_NOT_SUPPORTED;
  if (energy_accumulator == NULL || timestamp == NULL) return AMDSMI_STATUS_INVAL;
  double ms = elapsed_ms();
  double base = start_counts;
  if (reset_ms >= 0 && ms >= reset_ms) {
    ms -= reset_ms;
    base = 0;
  }
  const double quantized_ms = (double)(long long)(ms / step_ms) * step_ms;
  const double uj = power_w * quantized_ms * 1e3; /* W x ms = mJ = 1000 uJ */
  uint64_t counts = (uint64_t)base + (uint64_t)(uj / resolution_uj);
  if (width32) counts &= 0xFFFFFFFFull;
  *energy_accumulator = all_ones ? 0xFFFFFFFFull : counts;
  if (counter_resolution != NULL) *counter_resolution = (float)resolution_uj;
  *timestamp = (uint64_t)(ms * 1e6);
  return AMDSMI_STATUS_SUCCESS;
}
