// JSON file helpers over nlohmann::json with Status errors that name the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace nephron {

using Json = nlohmann::json;

Result<Json> ReadJsonFile(const std::string& path);
// Pretty-printed (indent 2), written atomically.
Status WriteJsonFile(const std::string& path, const Json& value);

}  // namespace nephron
