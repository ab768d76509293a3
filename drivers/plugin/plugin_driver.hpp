// What the plugin module's files share: the libraries loaded so far, by driver name.
#pragma once
#include <memory>
#include <string>

#include "plugin_library.hpp"

namespace xpb::plugin {

// The library behind driver `driver` ("plugin:NAME"), or null when no such plugin is loaded.
std::shared_ptr<Library> loaded_library(const std::string& driver);

}  // namespace xpb::plugin
