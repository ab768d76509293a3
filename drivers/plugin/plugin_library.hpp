// One loaded plugin: the dlopen handle, the table its entry returned, checked (handshake), and
// the calls through it with their status codes checked. Held by shared_ptr by the driver, each
// device, buffer and executable it made, so the library is unloaded only after all of them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "xpubench_plugin.h"

namespace xpb::plugin {

// The size of the table a plugin of ABI `abi` must have (every field of that version), or 0
// for a version this host does not know.
std::size_t table_size_for(std::uint32_t abi);

// What is wrong with a plugin's table for a host of ABI `host_abi` (which knows table sizes up
// to its own version), or "" when it can be used: a NULL table, abi_version 0 or newer than the
// host (both versions named), struct_size short of its version's, a missing call, a bad name.
std::string check_table(const xpb_plugin* api, std::uint32_t host_abi);

// The name of a status code ("XPB_UNSUPPORTED"), or "unknown status N".
std::string status_name(xpb_status s);

class Library {
 public:
  // Loads `file` (dlopen RTLD_NOW | RTLD_LOCAL), finds the entry, calls it with this host's ABI
  // and checks the table. Throws std::runtime_error with the reason when any step fails.
  explicit Library(const std::string& file);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  const xpb_plugin& api() const { return *api_; }
  const std::string& file() const { return file_; }
  std::string name() const { return api_->name; }

  // The plugin's last_error text, never null.
  std::string last_error() const;
  // "plugin npu_ref: compile: XPB_UNSUPPORTED: <last_error>" for a failed call.
  std::string describe_failure(const char* call, xpb_status s) const;
  // Whether `s` is one of the codes of xpubench_plugin.h.
  static bool known_status(xpb_status s) { return s >= XPB_OK && s <= XPB_INTERRUPTED; }

 private:
  std::string file_;
  void* handle_ = nullptr;
  const xpb_plugin* api_ = nullptr;
};

}  // namespace xpb::plugin
