#include "coordinator/client/spec_text.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs_util.h"
#include "common/json_util.h"

namespace nephron::client {
namespace {

// End (one past) of the scalar that starts at `pos` and reads `value`, if it
// sits on one line; npos otherwise.
size_t ScalarEnd(const std::string& text, size_t pos, const std::string& value) {
  if (pos >= text.size()) return std::string::npos;
  const char q = text[pos];
  if (q == '\'' || q == '"') {
    for (size_t i = pos + 1; i < text.size() && text[i] != '\n'; ++i) {
      if (q == '"' && text[i] == '\\') {
        ++i;
      } else if (text[i] == q) {
        if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          ++i;  // '' is an escaped quote
          continue;
        }
        return i + 1;
      }
    }
    return std::string::npos;
  }
  if (text.compare(pos, value.size(), value) == 0) return pos + value.size();
  return std::string::npos;
}

}  // namespace

std::string ResolveDatasetRoot(const std::string& yaml_text, const std::string& base_dir) {
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception&) {
    return yaml_text;
  }
  if (!doc.IsMap() || !doc["dataset"] || !doc["dataset"].IsMap()) return yaml_text;
  YAML::Node root = doc["dataset"]["root"];
  if (!root || !root.IsScalar() || root.Scalar().empty()) return yaml_text;
  std::string value = root.Scalar();
  if (value == "~" || value.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    value = std::string(home ? home : "") + value.substr(1);
  }
  std::filesystem::path p(value);
  if (p.is_absolute() && value == root.Scalar()) return yaml_text;
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  const std::string resolved = p.lexically_normal().string();

  const size_t pos = root.Mark().pos;
  const size_t end = ScalarEnd(yaml_text, pos, root.Scalar());
  if (end != std::string::npos) {
    // A JSON string is a valid YAML double-quoted scalar.
    return yaml_text.substr(0, pos) + Json(resolved).dump() + yaml_text.substr(end);
  }
  doc["dataset"]["root"] = resolved;
  YAML::Emitter out;
  out << doc;
  return std::string(out.c_str()) + "\n";
}

Result<std::string> ReadSpecForSubmit(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return NotFound("job spec " + path + " cannot be read");
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return ResolveDatasetRoot(*text, dir);
}

}  // namespace nephron::client
