#include "common/json_util.h"

#include "common/fs_util.h"

namespace nephron {

Result<Json> ReadJsonFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return InvalidArgument(path + ": not valid JSON: " + e.what());
  }
}

Status WriteJsonFile(const std::string& path, const Json& value) {
  return WriteFileAtomic(path, value.dump(2) + "\n");
}

}  // namespace nephron
