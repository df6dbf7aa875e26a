// Writes minimal NIfTI-1 files byte by byte, so tests can make inputs that
// Nephron's own writer never produces: scaled integers (scl_slope/scl_inter),
// 2-D or 4-D images, truncated payloads.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace nephron::testing {

struct RawNifti {
  std::vector<int16_t> dims;  // NIfTI dim[1..], e.g. {5, 6, 7}
  std::vector<float> pixdim{1, 1, 1};
  float slope = 0;            // 0 = no scaling
  float inter = 0;
  std::vector<int16_t> data;  // int16 voxels, x fastest
  size_t truncate_payload_to = SIZE_MAX;  // bytes of data actually written
};

inline void WriteRawNifti(const std::string& path, const RawNifti& n) {
  char h[352];
  std::memset(h, 0, sizeof(h));
  auto put_i32 = [&](int off, int32_t v) { std::memcpy(h + off, &v, 4); };
  auto put_i16 = [&](int off, int16_t v) { std::memcpy(h + off, &v, 2); };
  auto put_f32 = [&](int off, float v) { std::memcpy(h + off, &v, 4); };
  put_i32(0, 348);
  put_i16(40, static_cast<int16_t>(n.dims.size()));
  for (size_t i = 0; i < n.dims.size(); ++i) put_i16(42 + 2 * static_cast<int>(i), n.dims[i]);
  put_i16(70, 4);    // DT_INT16
  put_i16(72, 16);   // bitpix
  put_f32(76, 1.0f); // qfac
  for (size_t i = 0; i < n.pixdim.size(); ++i) put_f32(80 + 4 * static_cast<int>(i), n.pixdim[i]);
  put_f32(108, 352.0f);  // vox_offset
  put_f32(112, n.slope);
  put_f32(116, n.inter);
  h[123] = 2;            // xyzt_units: mm
  put_i16(252, 1);       // qform_code: scanner, identity quaternion
  std::memcpy(h + 344, "n+1\0", 4);
  std::ofstream out(path, std::ios::binary);
  out.write(h, sizeof(h));
  const size_t bytes = std::min(n.truncate_payload_to, n.data.size() * 2);
  out.write(reinterpret_cast<const char*>(n.data.data()), static_cast<std::streamsize>(bytes));
}

}  // namespace nephron::testing
