#include "common/device_plugin.h"

#include <dlfcn.h>

namespace nephron {
namespace {
std::string& Loaded() {
  static std::string path;
  return path;
}
}  // namespace

Status LoadDevicePlugin(const std::string& path) {
  if (path.empty() || path == Loaded()) return Status::Ok();
  if (!Loaded().empty())
    return InvalidArgument("--device-plugin " + path + ": another plugin (" + Loaded() + ") is already loaded");
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    return InvalidArgument("--device-plugin " + path + ": cannot load it: " + (why ? why : "unknown reason"));
  }
  Loaded() = path;
  return Status::Ok();
}

const std::string& LoadedDevicePlugin() { return Loaded(); }

bool IsBuiltinDevice(const std::string& device) {
  if (device == "cpu" || device == "cuda") return true;
  return device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
         device.find_first_not_of("0123456789", 5) == std::string::npos;
}

}  // namespace nephron
