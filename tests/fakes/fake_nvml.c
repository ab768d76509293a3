/* A stand-in for NVML (libnvidia-ml.so.1) for tests/unit/test_energy_gpu.cpp: the calls
 * harness/core/src/energy_nvml.cpp makes, with their documented C signatures (NVML API
 * Reference Guide), over GPUs described by environment variables. They are read when the
 * library is initialised from zero (nvmlInit_v2 with no initialisation outstanding), not
 * when it is loaded: dlopen of a loaded path returns the loaded copy, so every test that
 * destroys its sensors gets a fresh reading of its own variables.
 *
 *   FAKE_NVML_GPUS       "0000:17:00.0=NVIDIA H200;0000:65:00.0=NVIDIA H200" (default: one
 *                        GPU, 0000:17:00.0 named "NVIDIA H200")
 *   FAKE_NVML_POWER_MW   the board's power in milliwatts: the counter gains that many mJ a
 *                        second of wall time (default 100000)
 *   FAKE_NVML_STEP_MS    the counter's update step in milliseconds (default 10)
 *   FAKE_NVML_START_MJ   the counter's value at init (default 5000000)
 *   FAKE_NVML_RESET_MS   the counter starts again from 0 this long after init (a driver
 *                        reload; default never)
 *   FAKE_NVML_FAIL_INIT  nvmlInit_v2 returns this code (e.g. 9, driver not loaded)
 *   FAKE_NVML_NO_ENERGY  when set, the energy call returns NVML_ERROR_NOT_SUPPORTED (3)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_API __attribute__((visibility("default")))

typedef int nvmlReturn_t;
enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9
};

struct fake_gpu {
  unsigned domain, bus, device, function;
  char name[96];
};
typedef struct fake_gpu* nvmlDevice_t;

/* nvmlPciInfo_t as the NVML API Reference documents it. */
typedef struct {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

#define MAX_GPUS 16
static struct fake_gpu gpus[MAX_GPUS];
static unsigned gpu_count;
static int init_count;
static double power_mw, step_ms, start_mj, reset_ms;
static int no_energy;
static struct timespec t0;

static double env_number(const char* name, double fallback) {
  const char* v = getenv(name);
  return v != NULL && *v != '\0' ? strtod(v, NULL) : fallback;
}

/* "DDDD:BB:DD.F=name;..." into gpus[]; malformed entries are skipped. */
static void parse_gpus(const char* spec) {
  gpu_count = 0;
  while (spec != NULL && *spec != '\0' && gpu_count < MAX_GPUS) {
    const char* end = strchr(spec, ';');
    size_t len = end != NULL ? (size_t)(end - spec) : strlen(spec);
    char entry[160];
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

FAKE_API nvmlReturn_t nvmlInit_v2(void) {
  const char* fail = getenv("FAKE_NVML_FAIL_INIT");
  if (fail != NULL && *fail != '\0') return atoi(fail);
  if (init_count++ > 0) return NVML_SUCCESS;
  const char* spec = getenv("FAKE_NVML_GPUS");
  parse_gpus(spec != NULL ? spec : "0000:17:00.0=NVIDIA H200");
  power_mw = env_number("FAKE_NVML_POWER_MW", 100000);
  step_ms = env_number("FAKE_NVML_STEP_MS", 10);
  if (step_ms <= 0) step_ms = 1;
  start_mj = env_number("FAKE_NVML_START_MJ", 5000000);
  reset_ms = env_number("FAKE_NVML_RESET_MS", -1);
  no_energy = getenv("FAKE_NVML_NO_ENERGY") != NULL;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlShutdown(void) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  --init_count;
  return NVML_SUCCESS;
}

FAKE_API const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "fake NVML: driver not loaded";
    default: return "fake NVML: unknown error";
  }
}

FAKE_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (deviceCount == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  *deviceCount = gpu_count;
  return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || index >= gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &gpus[index];
  return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || name == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(device->name) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(name, device->name, strlen(device->name) + 1);
  return NVML_SUCCESS;
}

/* busId as NVML writes it (8-digit domain, upper case), busIdLegacy with 4 digits. */
FAKE_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || pci == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  memset(pci, 0, sizeof *pci);
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", device->domain & 0xffffu, device->bus,
           device->device, device->function);
  snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", device->domain, device->bus, device->device,
           device->function);
  pci->domain = device->domain;
  pci->bus = device->bus;
  pci->device = device->device;
  pci->pciDeviceId = 0x233510deu;
  return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || energy == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (no_energy) return NVML_ERROR_NOT_SUPPORTED;
  double ms = elapsed_ms();
  double base = start_mj;
  if (reset_ms >= 0 && ms >= reset_ms) {
    ms -= reset_ms;
    base = 0;
  }
  const double steps = (double)(long long)(ms / step_ms);
  *energy = (unsigned long long)(base + steps * step_ms * power_mw * 1e-3); /* mW x ms = uJ */
  return NVML_SUCCESS;
}
