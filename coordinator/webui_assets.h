// The web UI's files (webui/ and the charting library from webui/node_modules),
// compiled into the coordinator by cmake/embed_assets.cmake.
#pragma once

#include <cstddef>
#include <string>

namespace nephron::coord {

struct WebAsset {
  const char* path;          // relative to /assets/, e.g. "app.js", "uPlot.iife.min.js"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

// nullptr for an unknown path.
const WebAsset* FindWebAsset(const std::string& path);

}  // namespace nephron::coord
