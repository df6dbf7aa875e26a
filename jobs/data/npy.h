// .npy files (NumPy format version 1.0): how Nephron stores preprocessed
// arrays so that `numpy.load` reads them directly. C order, little endian.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::data {

struct NpyArray {
  std::string dtype;            // numpy descr: "<f4", "|i1", "<i4", "|u1", "<i2"
  std::vector<int64_t> shape;
  std::vector<char> bytes;      // raw little-endian payload

  int64_t NumElements() const;
  template <typename T>
  const T* As() const { return reinterpret_cast<const T*>(bytes.data()); }
};

template <typename T> const char* NpyDtype();
template <> inline const char* NpyDtype<float>() { return "<f4"; }
template <> inline const char* NpyDtype<int8_t>() { return "|i1"; }
template <> inline const char* NpyDtype<uint8_t>() { return "|u1"; }
template <> inline const char* NpyDtype<int16_t>() { return "<i2"; }
template <> inline const char* NpyDtype<int32_t>() { return "<i4"; }

// Writes atomically (temporary name + rename).
Status WriteNpyRaw(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
                   const void* data, size_t num_bytes);

template <typename T>
Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape, const T* data) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return WriteNpyRaw(path, NpyDtype<T>(), shape, data, static_cast<size_t>(n) * sizeof(T));
}

// A parsed .npy header: where the payload starts in the file and what it is.
struct NpyHeader {
  std::string dtype;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
  size_t item_size = 0;
  int64_t NumElements() const;
};

// Parses the header at the start of a .npy file's bytes `p` (`size` bytes of
// the file available) and checks that the whole payload fits in `size`.
// `path` only names the file in errors. C order only.
Result<NpyHeader> ParseNpyHeader(const char* p, size_t size, const std::string& path);

// Reads a v1/v2 .npy with a C-order array; DataLoss on a truncated payload.
Result<NpyArray> ReadNpy(const std::string& path);

}  // namespace nephron::data
