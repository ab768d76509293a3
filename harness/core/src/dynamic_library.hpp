// A shared library loaded at run time (dlopen), for the vendor libraries that come with a
// driver rather than with the build: NVML, AMD SMI. Loading never throws; what failed is kept
// in words.
#pragma once
#include <dlfcn.h>

#include <string>
#include <utility>

namespace xpb {

class DynamicLibrary {
 public:
  DynamicLibrary() = default;
  // RTLD_LOCAL, as the plugin loader does: the vendor library's own dependencies never bind
  // symbols of ours. RTLD_NOW: a library missing one of its own symbols fails here, with
  // dlerror's text, not at the first call.
  explicit DynamicLibrary(const std::string& file) {
    ::dlerror();  // clear a stale message
    handle_ = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* why = ::dlerror();
      error_ = why != nullptr ? why : "dlopen failed without a message";
    }
  }
  ~DynamicLibrary() { reset(); }
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;
  DynamicLibrary(DynamicLibrary&& o) noexcept
      : handle_(std::exchange(o.handle_, nullptr)), error_(std::move(o.error_)) {}
  DynamicLibrary& operator=(DynamicLibrary&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, nullptr);
      error_ = std::move(o.error_);
    }
    return *this;
  }

  bool loaded() const { return handle_ != nullptr; }
  void* handle() const { return handle_; }
  // dlerror's text when loading failed.
  const std::string& error() const { return error_; }

  // The symbol `name` as a pointer to function type F, or nullptr when the library lacks it.
  // F must be the documented signature: nothing here can check it.
  template <class F>
  F symbol(const char* name) const {
    if (handle_ == nullptr) return nullptr;
    return reinterpret_cast<F>(::dlsym(handle_, name));
  }

  void reset() {
    if (handle_ != nullptr) ::dlclose(handle_);
    handle_ = nullptr;
  }

 private:
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace xpb
