// Detects truncated NIfTI files, which ITK reads without an error (it keeps
// whatever part of the payload arrived). Plain .nii: the file must be at least
// vox_offset + voxels * bytes long. .nii.gz: the gzip trailer's ISIZE must
// match that length; only when it does not (a cut file, or an unusual
// multi-member gzip) is the stream decompressed to count its bytes.
#pragma once

#include <string>

#include "common/status.h"

namespace nephron::data {

Status CheckNiftiIntegrity(const std::string& path);

}  // namespace nephron::data
