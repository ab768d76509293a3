// What the fuzz targets share: a fixed small machine to plan against, and a temp file per
// process for readers that take a path.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "xpubench/system.hpp"

namespace xpb::fuzz {

inline SystemInfo small_system() {
  SystemInfo s;
  s.topology.pus = 2;
  s.topology.cores = 2;
  s.topology.caches = {{1, "data", 32 << 10, 64, 2, 1}, {3, "unified", 4 << 20, 64, 1, 2}};
  s.topology.numa_nodes = {{0, 1ull << 30, {0, 1}}};
  s.memory.total_bytes = 1ull << 30;
  s.memory.available_bytes = 512ull << 20;
  return s;
}

// Writes the input to one file per process (rewritten each time) and returns its path.
inline std::string write_temp(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/xpb_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f != nullptr) {
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

}  // namespace xpb::fuzz
