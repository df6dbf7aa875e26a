// NIfTI reading and writing through ITK.
//
// Geometry (origin, spacing, direction) round-trips exactly as ITK reads it;
// scl_slope/scl_inter are applied when reading images. Every ITK exception is
// caught here and turned into a Status that names the file and what is wrong
// (unreadable, truncated, not 3-D, more than one component, non-integer
// labels). Functions are thread-safe for distinct files.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::data {

struct ImageHeader {
  Shape3 shape;  // array order
  Geometry geometry;
  std::string component_type;  // ITK's name, e.g. "short"
  unsigned dimensions = 0;
};

// Reads only the header. Errors for non-3-D or multi-component images.
Result<ImageHeader> ReadHeader(const std::string& path);

// Reads an intensity image (any scalar type) as float, slope/intercept applied.
Result<Volume<float>> ReadImage(const std::string& path);

// Reads a label map. Values must be integers in [0, max_label]; anything else
// is an InvalidArgument naming the file, the value and a voxel where it occurs.
Result<Volume<uint8_t>> ReadLabels(const std::string& path, int max_label);

// Writers: gzip-compressed when the name ends in .gz; written to a temporary
// name and renamed, so a failure never leaves a partial file at `path`.
Status WriteImage(const Volume<int16_t>& v, const std::string& path);
Status WriteImage(const Volume<float>& v, const std::string& path);
Status WriteImage(const Volume<uint8_t>& v, const std::string& path);

}  // namespace nephron::data
