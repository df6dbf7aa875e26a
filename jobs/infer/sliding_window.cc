#include "jobs/infer/sliding_window.h"

#include <malloc.h>

#include <algorithm>
#include <limits>
#include <cmath>

namespace nephron::infer {

namespace {

// Python's round(): half to even.
int64_t RoundHalfEven(double x) {
  const double r = std::nearbyint(x);  // default FE_TONEAREST rounds ties to even
  return static_cast<int64_t>(r);
}

// One network input: tile `tile` flipped along `flip` (empty: none).
struct Item {
  size_t tile;
  std::vector<int64_t> flip;
};

// While alive, large blocks come from the heap and up to 2 GiB of free heap is
// kept instead of being returned to the kernel after every layer (measured:
// CPU inference 25-35% faster on 2 cores, far fewer page faults). Restores
// glibc's defaults and trims the heap on exit, so the rest of the process
// (reading, preprocessing, export) keeps its usual footprint.
class LargeTensorAllocatorScope {
 public:
  LargeTensorAllocatorScope() {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  }
  ~LargeTensorAllocatorScope() {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    malloc_trim(0);
  }
};

}  // namespace

std::vector<int64_t> TileStarts(int64_t size, int64_t patch, double step) {
  const double target_step = static_cast<double>(patch) * step;
  const int64_t n = static_cast<int64_t>(std::ceil(static_cast<double>(size - patch) / target_step)) + 1;
  std::vector<int64_t> starts;
  if (n <= 1) return {0};
  const double actual = static_cast<double>(size - patch) / static_cast<double>(n - 1);
  for (int64_t i = 0; i < n; ++i) starts.push_back(RoundHalfEven(actual * static_cast<double>(i)));
  return starts;
}

std::vector<float> GaussianImportance(const std::array<int64_t, 3>& patch, double sigma_scale) {
  std::array<std::vector<double>, 3> axis;
  for (int d = 0; d < 3; ++d) {
    const double sigma = static_cast<double>(patch[d]) * sigma_scale;
    const int64_t radius = static_cast<int64_t>(4.0 * sigma + 0.5);
    const int64_t centre = patch[d] / 2;
    std::vector<double> k(static_cast<size_t>(patch[d]), 0.0);
    double sum = 0;
    for (int64_t x = -radius; x <= radius; ++x) sum += std::exp(-0.5 * static_cast<double>(x * x) / (sigma * sigma));
    for (int64_t i = 0; i < patch[d]; ++i) {
      const int64_t x = i - centre;
      if (std::llabs(x) <= radius) k[static_cast<size_t>(i)] = std::exp(-0.5 * static_cast<double>(x * x) / (sigma * sigma)) / sum;
    }
    axis[static_cast<size_t>(d)] = std::move(k);
  }
  std::vector<float> g(static_cast<size_t>(patch[0] * patch[1] * patch[2]));
  double max = 0;
  size_t o = 0;
  for (int64_t a = 0; a < patch[0]; ++a)
    for (int64_t b = 0; b < patch[1]; ++b)
      for (int64_t c = 0; c < patch[2]; ++c) {
        const double v = axis[0][static_cast<size_t>(a)] * axis[1][static_cast<size_t>(b)] * axis[2][static_cast<size_t>(c)];
        max = std::max(max, v);
        g[o++] = static_cast<float>(v);
      }
  float min_nonzero = 1.0f;
  for (float& v : g) {
    v = static_cast<float>(v / max);
    if (v > 0) min_nonzero = std::min(min_nonzero, v);
  }
  for (float& v : g)
    if (v == 0) v = min_nonzero;
  return g;
}

Result<torch::Tensor> PredictSlidingWindow(const NetworkFn& net, const torch::Tensor& image,
                                           const SlidingWindowOptions& o) {
  if (image.dim() != 4) return InvalidArgument("sliding window: expected a [C, a, b, c] image");
  torch::NoGradGuard no_grad;
  LargeTensorAllocatorScope allocator;
  const auto dev = image.device();
  // Pad to at least the patch size.
  std::array<int64_t, 3> size{}, pad_lo{};
  std::vector<int64_t> pad;  // torch order: last axis first, (lo, hi) pairs
  bool padded = false;
  for (int d = 0; d < 3; ++d) {
    const int64_t n = image.size(d + 1), diff = std::max<int64_t>(0, o.patch[static_cast<size_t>(d)] - n);
    pad_lo[static_cast<size_t>(d)] = diff / 2;
    size[static_cast<size_t>(d)] = n + diff;
    padded = padded || diff > 0;
  }
  for (int d = 2; d >= 0; --d) {
    const int64_t diff = size[static_cast<size_t>(d)] - image.size(d + 1);
    pad.push_back(diff / 2);
    pad.push_back(diff - diff / 2);
  }
  const torch::Tensor input = padded ? torch::constant_pad_nd(image, pad, 0.0) : image;

  std::array<std::vector<int64_t>, 3> starts;
  for (int d = 0; d < 3; ++d)
    starts[static_cast<size_t>(d)] = TileStarts(size[static_cast<size_t>(d)], o.patch[static_cast<size_t>(d)], o.step);
  std::vector<std::array<int64_t, 3>> tiles;
  for (int64_t a : starts[0])
    for (int64_t b : starts[1])
      for (int64_t c : starts[2]) tiles.push_back({a, b, c});

  // Flip combinations over the mirror axes (as tensor dims of a [B, C, ...] batch).
  std::vector<std::vector<int64_t>> flips{{}};
  if (o.mirror)
    for (int ax : o.mirror_axes) {
      const size_t n = flips.size();
      for (size_t i = 0; i < n; ++i) {
        auto f = flips[i];
        f.push_back(ax + 2);
        flips.push_back(f);
      }
    }
  std::vector<Item> items;
  for (size_t t = 0; t < tiles.size(); ++t)
    for (const auto& f : flips) items.push_back({t, f});

  const auto fopts = torch::TensorOptions().dtype(torch::kFloat).device(dev);
  const std::vector<float> g = GaussianImportance(o.patch);
  const torch::Tensor gauss =
      torch::from_blob(const_cast<float*>(g.data()), {o.patch[0], o.patch[1], o.patch[2]}, torch::kFloat).to(dev);
  torch::Tensor acc = torch::zeros({o.num_outputs, size[0], size[1], size[2]}, fopts);
  torch::Tensor weight = torch::zeros({size[0], size[1], size[2]}, fopts);
  const double mirror_weight = 1.0 / static_cast<double>(flips.size());
  auto window = [&](const torch::Tensor& t, const std::array<int64_t, 3>& s, int first_dim) {
    return t.narrow(first_dim, s[0], o.patch[0]).narrow(first_dim + 1, s[1], o.patch[1]).narrow(first_dim + 2, s[2], o.patch[2]);
  };

  const size_t batch = static_cast<size_t>(std::max(1, o.batch));
  for (size_t first = 0; first < items.size(); first += batch) {
    if (o.cancel && o.cancel->Cancelled()) return Status(StatusCode::kCancelled, "prediction cancelled");
    const size_t last = std::min(items.size(), first + batch);
    std::vector<torch::Tensor> inputs;
    for (size_t i = first; i < last; ++i) {
      torch::Tensor x = window(input, tiles[items[i].tile], 1).unsqueeze(0);
      inputs.push_back(items[i].flip.empty() ? x : torch::flip(x, items[i].flip));
    }
    torch::Tensor out = net(torch::cat(inputs, 0)).to(torch::kFloat);
    if (out.dim() != 5 || out.size(1) != o.num_outputs)
      return Internal("sliding window: the network returned a tensor of unexpected shape");
    for (size_t i = first; i < last; ++i) {
      torch::Tensor y = out.narrow(0, static_cast<int64_t>(i - first), 1);
      if (!items[i].flip.empty()) y = torch::flip(y, items[i].flip);
      y = y.squeeze(0);
      if (o.softmax) y = torch::softmax(y, 0);
      window(acc, tiles[items[i].tile], 1).add_(y * gauss, mirror_weight);
      if (items[i].flip.empty()) window(weight, tiles[items[i].tile], 0).add_(gauss);
    }
  }
  acc.div_(weight.unsqueeze(0));
  if (padded)
    acc = acc.narrow(1, pad_lo[0], image.size(1)).narrow(2, pad_lo[1], image.size(2)).narrow(3, pad_lo[2], image.size(3)).contiguous();
  return acc;
}

}  // namespace nephron::infer
