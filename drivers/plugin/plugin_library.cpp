#include "plugin_library.hpp"

#include <dlfcn.h>

#include <cstddef>
#include <stdexcept>

namespace xpb::plugin {

std::size_t table_size_for(std::uint32_t abi) {
  // One entry per ABI version, each the offset just past that version's last field; a new
  // version appends its line here when it appends its fields to xpb_plugin.
  switch (abi) {
    case 1: return offsetof(xpb_plugin, release_device) + sizeof(xpb_plugin::release_device);
    default: return 0;
  }
}

std::string check_table(const xpb_plugin* api, std::uint32_t host_abi) {
  if (api == nullptr) return "its entry returned no table (it cannot serve a host of ABI " + std::to_string(host_abi) + ")";
  if (api->abi_version == 0) return "its table says ABI version 0, which no host has";
  if (api->abi_version > host_abi)
    return "it was built for plugin ABI " + std::to_string(api->abi_version) + ", newer than this xpubench's ABI " +
           std::to_string(host_abi) + ": use an xpubench as new as the plugin, or rebuild the plugin for ABI " +
           std::to_string(host_abi);
  const std::size_t need = table_size_for(api->abi_version);
  if (api->struct_size < need)
    return "its table is too short: struct_size " + std::to_string(api->struct_size) + " bytes, ABI " +
           std::to_string(api->abi_version) + " needs " + std::to_string(need);
  const struct {
    const char* name;
    bool present;
  } calls[] = {{"last_error", api->last_error != nullptr},
               {"enumerate", api->enumerate != nullptr},
               {"describe_device", api->describe_device != nullptr},
               {"open", api->open != nullptr},
               {"query", api->query != nullptr},
               {"alloc", api->alloc != nullptr},
               {"upload", api->upload != nullptr},
               {"download", api->download != nullptr},
               {"compile", api->compile != nullptr},
               {"executable_buffer", api->executable_buffer != nullptr},
               {"tensor_written", api->tensor_written != nullptr},
               {"run", api->run != nullptr},
               {"release_buffer", api->release_buffer != nullptr},
               {"release_executable", api->release_executable != nullptr},
               {"release_device", api->release_device != nullptr}};
  for (const auto& c : calls)
    if (!c.present) return std::string("its table lacks the call '") + c.name + "'";
  const std::string name = api->name == nullptr ? "" : api->name;
  if (name.empty() || name.size() > 64) return "its name is empty or longer than 64 characters";
  for (char ch : name)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
      return "its name '" + name + "' has characters outside [a-z0-9_]";
  return "";
}

std::string status_name(xpb_status s) {
  switch (s) {
    case XPB_OK: return "XPB_OK";
    case XPB_UNSUPPORTED: return "XPB_UNSUPPORTED";
    case XPB_INVALID_ARGUMENT: return "XPB_INVALID_ARGUMENT";
    case XPB_OUT_OF_MEMORY: return "XPB_OUT_OF_MEMORY";
    case XPB_DEVICE_ERROR: return "XPB_DEVICE_ERROR";
    case XPB_INTERRUPTED: return "XPB_INTERRUPTED";
    default: return "unknown status " + std::to_string(s);
  }
}

Library::Library(const std::string& file) : file_(file) {
  // RTLD_LOCAL: the plugin's symbols (its own copy of a library we also use) never bind ours.
  handle_ = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error(std::string("cannot load it: ") + (why != nullptr ? why : "dlopen failed"));
  }
  void* entry = ::dlsym(handle_, XPB_PLUGIN_ENTRY_SYMBOL);
  if (entry == nullptr) {
    ::dlclose(handle_);
    throw std::runtime_error(std::string("it has no symbol ") + XPB_PLUGIN_ENTRY_SYMBOL +
                             " (not an xpubench plugin, or the symbol is not exported)");
  }
  auto fn = reinterpret_cast<xpb_plugin_entry_fn>(entry);
  api_ = fn(XPB_PLUGIN_ABI_VERSION);
  if (auto why = check_table(api_, XPB_PLUGIN_ABI_VERSION); !why.empty()) {
    ::dlclose(handle_);
    throw std::runtime_error(why);
  }
}

Library::~Library() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

std::string Library::last_error() const {
  const char* e = api_->last_error();
  return e == nullptr ? "" : std::string(e);
}

std::string Library::describe_failure(const char* call, xpb_status s) const {
  std::string why = last_error();
  if (why.empty()) why = "(the plugin gave no reason: last_error is empty)";
  return "plugin " + name() + ": " + call + ": " + status_name(s) + ": " + why;
}

}  // namespace xpb::plugin
