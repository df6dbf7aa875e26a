#include "jobs/preprocess/crop.h"

#include <algorithm>
#include <deque>

namespace nephron::preprocess {

std::vector<uint8_t> NonzeroMask(const data::Volume<float>& image) {
  std::vector<uint8_t> mask(image.data.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = image.data[i] != 0.0f;
  FillHoles(&mask, image.shape);
  return mask;
}

void FillHoles(std::vector<uint8_t>* mask_ptr, const data::Shape3& s) {
  std::vector<uint8_t>& mask = *mask_ptr;
  // Flood the background from the border, marking it 2; what stays 0 is a hole.
  const int64_t n0 = s[0], n1 = s[1], n2 = s[2];
  std::deque<int64_t> queue;
  auto seed = [&](int64_t a, int64_t b, int64_t c) {
    const int64_t i = (a * n1 + b) * n2 + c;
    if (mask[static_cast<size_t>(i)] == 0) {
      mask[static_cast<size_t>(i)] = 2;
      queue.push_back(i);
    }
  };
  for (int64_t a = 0; a < n0; ++a)
    for (int64_t b = 0; b < n1; ++b) {
      if (a == 0 || a == n0 - 1 || b == 0 || b == n1 - 1) {
        for (int64_t c = 0; c < n2; ++c) seed(a, b, c);
      } else {
        seed(a, b, 0);
        seed(a, b, n2 - 1);
      }
    }
  while (!queue.empty()) {
    const int64_t i = queue.front();
    queue.pop_front();
    const int64_t c = i % n2, b = (i / n2) % n1, a = i / (n1 * n2);
    auto visit = [&](int64_t j) {
      if (mask[static_cast<size_t>(j)] == 0) {
        mask[static_cast<size_t>(j)] = 2;
        queue.push_back(j);
      }
    };
    if (a > 0) visit(i - n1 * n2);
    if (a + 1 < n0) visit(i + n1 * n2);
    if (b > 0) visit(i - n2);
    if (b + 1 < n1) visit(i + n2);
    if (c > 0) visit(i - 1);
    if (c + 1 < n2) visit(i + 1);
  }
  for (auto& v : mask) v = v != 2;
}

BBox MaskBoundingBox(const std::vector<uint8_t>& mask, const data::Shape3& s) {
  BBox box;
  box.lo = {s[0], s[1], s[2]};
  box.hi = {0, 0, 0};
  size_t i = 0;
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b) {
      const uint8_t* row = mask.data() + i;
      i += static_cast<size_t>(s[2]);
      int64_t first = -1, last = -1;
      for (int64_t c = 0; c < s[2]; ++c)
        if (row[c]) {
          first = c;
          break;
        }
      if (first < 0) continue;
      for (int64_t c = s[2] - 1; c >= first; --c)
        if (row[c]) {
          last = c;
          break;
        }
      box.lo[0] = std::min(box.lo[0], a);
      box.hi[0] = std::max(box.hi[0], a + 1);
      box.lo[1] = std::min(box.lo[1], b);
      box.hi[1] = std::max(box.hi[1], b + 1);
      box.lo[2] = std::min(box.lo[2], first);
      box.hi[2] = std::max(box.hi[2], last + 1);
    }
  if (box.hi[0] == 0) {
    box.lo = {0, 0, 0};
    box.hi = {s[0], s[1], s[2]};
  }
  return box;
}

}  // namespace nephron::preprocess
