#include "jobs/data/nifti_io.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkNiftiImageIO.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/fs_util.h"
#include "jobs/data/nifti_integrity.h"

namespace nephron::data {

namespace {

template <typename T>
using ItkImage = itk::Image<T, 3>;

std::string Clean(const std::string& what) {
  // ITK messages carry file/line noise; keep the description.
  auto pos = what.find("Description:");
  std::string s = pos == std::string::npos ? what : what.substr(pos + 12);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == ' ')) s.erase(s.begin());
  return s;
}

Status ReadError(const std::string& path, const std::string& why) {
  if (!FileExists(path)) return NotFound(path + ": file does not exist");
  return DataLoss(path + ": cannot read NIfTI (" + why + ")");
}

itk::NiftiImageIO::Pointer MakeIO() {
  auto io = itk::NiftiImageIO::New();
  return io;
}

template <typename T>
Geometry GeometryOf(const typename ItkImage<T>::Pointer& img) {
  Geometry g;
  for (int i = 0; i < 3; ++i) {
    g.spacing[i] = img->GetSpacing()[i];
    g.origin[i] = img->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) g.direction[i * 3 + j] = img->GetDirection()(i, j);
  }
  return g;
}

template <typename T>
Result<Volume<T>> ReadAs(const std::string& path) {
  auto reader = itk::ImageFileReader<ItkImage<T>>::New();
  reader->SetImageIO(MakeIO());
  reader->SetFileName(path);
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    return ReadError(path, Clean(e.what()));
  }
  typename ItkImage<T>::Pointer img = reader->GetOutput();
  img->DisconnectPipeline();
  reader = nullptr;
  const auto size = img->GetLargestPossibleRegion().GetSize();
  Volume<T> v;
  v.shape = {static_cast<int64_t>(size[2]), static_cast<int64_t>(size[1]), static_cast<int64_t>(size[0])};
  v.geometry = GeometryOf<T>(img);
  const T* buf = img->GetBufferPointer();
  v.data.assign(buf, buf + v.size());
  return v;
}

template <typename T>
Status WriteAs(const Volume<T>& v, const std::string& path) {
  auto img = ItkImage<T>::New();
  typename ItkImage<T>::SizeType size;
  typename ItkImage<T>::SpacingType spacing;
  typename ItkImage<T>::PointType origin;
  typename ItkImage<T>::DirectionType dir;
  for (int i = 0; i < 3; ++i) {
    size[i] = static_cast<itk::SizeValueType>(v.shape[2 - i]);
    spacing[i] = v.geometry.spacing[i];
    origin[i] = v.geometry.origin[i];
    for (int j = 0; j < 3; ++j) dir(i, j) = v.geometry.direction[i * 3 + j];
  }
  typename ItkImage<T>::RegionType region;
  region.SetSize(size);
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  // Borrow the volume's buffer instead of copying it.
  img->GetPixelContainer()->SetImportPointer(const_cast<T*>(v.data.data()), v.data.size(), false);

  // The temporary name must keep the extension so ITK picks the format.
  const std::string ext = path.size() > 7 && path.compare(path.size() - 7, 7, ".nii.gz") == 0 ? ".nii.gz" : ".nii";
  const std::string tmp = TempPathFor(path) + ext;
  auto writer = itk::ImageFileWriter<ItkImage<T>>::New();
  writer->SetImageIO(MakeIO());
  writer->SetFileName(tmp);
  writer->SetInput(img);
  writer->SetUseCompression(ext == ".nii.gz");
  try {
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    std::remove(tmp.c_str());
    return Internal(path + ": cannot write NIfTI (" + Clean(e.what()) + ")");
  }
  return RenameInto(tmp, path);
}

}  // namespace

Result<ImageHeader> ReadHeader(const std::string& path) {
  auto io = MakeIO();
  try {
    if (!io->CanReadFile(path.c_str())) return ReadError(path, "not a NIfTI file");
    io->SetFileName(path);
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    return ReadError(path, Clean(e.what()));
  }
  // ITK reads a truncated payload without complaint (it fills what it got);
  // check the file's length against its header first.
  RETURN_IF_ERROR(CheckNiftiIntegrity(path));
  ImageHeader h;
  h.dimensions = io->GetNumberOfDimensions();
  if (h.dimensions != 3) {
    // A trailing singleton dimension (x,y,z,1) is still not a 3-D image to us.
    return InvalidArgument(path + ": expected a 3-D image, file has " + std::to_string(h.dimensions) +
                           " dimensions");
  }
  if (io->GetNumberOfComponents() != 1)
    return InvalidArgument(path + ": expected one component per voxel, file has " +
                           std::to_string(io->GetNumberOfComponents()));
  h.shape = {static_cast<int64_t>(io->GetDimensions(2)), static_cast<int64_t>(io->GetDimensions(1)),
             static_cast<int64_t>(io->GetDimensions(0))};
  for (int i = 0; i < 3; ++i) {
    h.geometry.spacing[i] = io->GetSpacing(i);
    h.geometry.origin[i] = io->GetOrigin(i);
    const auto d = io->GetDirection(i);  // direction of index axis i
    for (int r = 0; r < 3; ++r) h.geometry.direction[r * 3 + i] = d[r];
  }
  h.component_type = itk::ImageIOBase::GetComponentTypeAsString(io->GetComponentType());
  return h;
}

Result<Volume<float>> ReadImage(const std::string& path) {
  ASSIGN_OR_RETURN(ImageHeader h, ReadHeader(path));
  (void)h;
  return ReadAs<float>(path);
}

Result<Volume<uint8_t>> ReadLabels(const std::string& path, int max_label) {
  ASSIGN_OR_RETURN(ImageHeader h, ReadHeader(path));
  const bool integral = h.component_type != "float" && h.component_type != "double";
  Volume<uint8_t> out;
  auto check = [&](double value, size_t i, const Shape3& shape) -> Status {
    if (value == std::floor(value) && value >= 0 && value <= max_label) return Status::Ok();
    const int64_t c = static_cast<int64_t>(i) % shape[2];
    const int64_t b = (static_cast<int64_t>(i) / shape[2]) % shape[1];
    const int64_t a = static_cast<int64_t>(i) / (shape[1] * shape[2]);
    std::ostringstream ss;
    ss << path << ": label value " << value << " at voxel (" << c << ", " << b << ", " << a
       << ") is outside the class set {0.." << max_label << "}";
    return InvalidArgument(ss.str());
  };
  if (h.component_type == "unsigned_char") {
    // The common case (KiTS19 ships uint8): read straight into the output.
    ASSIGN_OR_RETURN(out, ReadAs<uint8_t>(path));
    for (size_t i = 0; i < out.data.size(); ++i)
      if (out.data[i] > max_label) RETURN_IF_ERROR(check(out.data[i], i, out.shape));
  } else if (integral) {
    ASSIGN_OR_RETURN(Volume<int32_t> v, ReadAs<int32_t>(path));
    out.shape = v.shape;
    out.geometry = v.geometry;
    out.data.resize(v.data.size());
    for (size_t i = 0; i < v.data.size(); ++i) {
      if (v.data[i] < 0 || v.data[i] > max_label) RETURN_IF_ERROR(check(v.data[i], i, v.shape));
      out.data[i] = static_cast<uint8_t>(v.data[i]);
    }
  } else {
    ASSIGN_OR_RETURN(Volume<float> v, ReadAs<float>(path));
    out.shape = v.shape;
    out.geometry = v.geometry;
    out.data.resize(v.data.size());
    for (size_t i = 0; i < v.data.size(); ++i) {
      RETURN_IF_ERROR(check(v.data[i], i, v.shape));
      out.data[i] = static_cast<uint8_t>(v.data[i]);
    }
  }
  return out;
}

Status WriteImage(const Volume<int16_t>& v, const std::string& path) { return WriteAs(v, path); }
Status WriteImage(const Volume<float>& v, const std::string& path) { return WriteAs(v, path); }
Status WriteImage(const Volume<uint8_t>& v, const std::string& path) { return WriteAs(v, path); }

}  // namespace nephron::data
