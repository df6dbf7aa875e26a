// A minimal PNG encoder: 8-bit RGB, one IDAT chunk, no interlacing, filter 0
// on every row. Enough for preview images; no third-party image library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::evaluate {

// The PNG file bytes for a width x height image; `rgb` holds rows top to
// bottom, 3 bytes per pixel. InvalidArgument when the sizes do not agree.
Result<std::string> EncodePngRgb(int width, int height, const std::vector<uint8_t>& rgb);

// EncodePngRgb written atomically to `path` (the folder must exist).
Status WritePngRgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace nephron::evaluate
