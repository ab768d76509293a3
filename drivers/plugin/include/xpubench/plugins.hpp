// Vendor drivers as shared libraries (DESIGN.md §4): finding and loading plugins built against
// drivers/plugin/xpubench_plugin.h, and the ABI test kit that `xpubench conform` runs on them.
//
// Each plugin becomes a driver named `plugin:NAME`, whose devices are `plugin:NAME` (one) or
// `plugin:NAME:N`, listed by inventory() and opened by open_devices() like any other. A file
// that cannot be loaded (not a shared library, no entry symbol, a newer ABI, a short table) is
// listed as a driver `plugin:STEM` with the reason and no devices: it never stops `list` or `run`.
#pragma once
#include <string>
#include <vector>

#include "xpubench/export.hpp"

namespace xpb {

struct PluginLoad {
  std::string file;    // as found
  std::string driver;  // "plugin:NAME" (or "plugin:STEM" when it could not be loaded)
  std::string error;   // why it was not loaded; empty when it was
};

// Loads `files` (--plugin FILE), then every *.so in the folders (or files) of XPB_PLUGIN_PATH
// (colon-separated), then the plugins installed with xpubench (lib/xpubench/plugins, or the
// build tree's), and registers each as a driver. A file loaded before is not loaded again;
// a plugin whose name is taken by one found earlier is listed with that reason (among the
// installed plugins, the first found wins silently). Thread-safe; call it before inventory().
XPB_API std::vector<PluginLoad> load_plugins(const std::vector<std::string>& files);

// One check of the ABI test kit: its name, whether it passed, and what was seen.
struct AbiCheck {
  std::string name;
  bool passed = false;
  std::string detail;
};

// Checks the plugin behind driver `driver` ("plugin:NAME") against the ABI contract of
// xpubench_plugin.h: the table (version, size, every call present, name), enumerate and
// describe, open with bad arguments, caps, alloc/upload/download round trips and bad ranges,
// compile of an unknown op and of an empty graph, run with bad arguments and of the empty
// graph, status codes in range, errors reported through last_error, and that releasing every
// handle gives the memory back (resident memory after 64 x 4 MiB alloc/release cycles).
// Runs in the calling process: call it in a child (isolation) when the plugin may crash.
// Throws std::invalid_argument for a driver that is not a loaded plugin.
XPB_API std::vector<AbiCheck> check_plugin_abi(const std::string& driver);

}  // namespace xpb
