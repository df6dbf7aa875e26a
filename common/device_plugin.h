// Out-of-tree LibTorch device backends (e.g. Huawei Ascend's `npu` through its
// PyTorch adapter library): the library is loaded with dlopen before any
// device string is parsed, so that its static initialisers can register the
// device type with LibTorch. `nephron --device-plugin PATH <command>` and
// `nephron-worker --device-plugin PATH` (which passes it to every task).
#pragma once

#include <string>

#include "common/status.h"

namespace nephron {

// dlopen(RTLD_NOW | RTLD_GLOBAL); InvalidArgument naming the file and the
// loader's reason when it fails. Loading the same path twice is a no-op.
Status LoadDevicePlugin(const std::string& path);
// The plugin loaded by this process ("" when none).
const std::string& LoadedDevicePlugin();
// cpu, cuda, cuda:N: the devices that need no plugin.
bool IsBuiltinDevice(const std::string& device);

}  // namespace nephron
