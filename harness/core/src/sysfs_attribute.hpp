// A sysfs attribute (an energy counter, a power input) held open for repeated reads.
//
// The kernel renders an attribute afresh each time it is read from offset 0, so a sensor opens
// its counters once, when it finds them, and reads each with one pread(2) per reading: the open
// and close a read would otherwise cost were most of a reading's time (bench/bench_energy.cpp,
// docs/PERFORMANCE.md). pread leaves the file offset alone, so a process forked for an isolated
// benchmark reads the same descriptors safely. Not copyable; movable. read() is const and may be
// called from several threads at once (pread shares no state).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace xpb {

class SysfsAttribute {
 public:
  // Opens `path` read-only; open_error() then says whether it worked.
  explicit SysfsAttribute(std::filesystem::path path);
  ~SysfsAttribute();
  SysfsAttribute(SysfsAttribute&& other) noexcept;
  SysfsAttribute& operator=(SysfsAttribute&& other) noexcept;
  SysfsAttribute(const SysfsAttribute&) = delete;
  SysfsAttribute& operator=(const SysfsAttribute&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The errno of the open (EACCES for a root-only counter, ENOENT, ...), or 0.
  int open_error() const { return open_errno_; }
  // The attribute's whole text (an attribute is at most a page; sysfs hands it over in one
  // read). Returns 0, or the errno of the open or the read.
  int read(std::string& text) const;
  // Its text as an unsigned decimal with surrounding whitespace; 0, EINVAL for other content
  // (`text` then holds it, trimmed), or the errno of the read.
  int read_unsigned(std::uint64_t& value, std::string& text) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  int open_errno_ = 0;
};

}  // namespace xpb
