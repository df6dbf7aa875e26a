#include "jobs/infer/postprocess.h"

#include <algorithm>
#include <numeric>

#include "jobs/evaluate/metrics.h"

namespace nephron::infer {

namespace {

int32_t Find(std::vector<int32_t>& parent, int32_t x) {
  while (parent[static_cast<size_t>(x)] != x) {
    parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    x = parent[static_cast<size_t>(x)];
  }
  return x;
}

// Joins the sets of a and b under the smaller root; returns that root.
int32_t Union(std::vector<int32_t>& parent, int32_t a, int32_t b) {
  a = Find(parent, a);
  b = Find(parent, b);
  if (a == b) return a;
  if (b < a) std::swap(a, b);
  parent[static_cast<size_t>(b)] = a;
  return a;
}

std::vector<int> ForegroundClasses() {
  std::vector<int> all(255);
  std::iota(all.begin(), all.end(), 1);
  return all;
}

std::vector<double> Means(const std::vector<double>& sums, int64_t n) {
  std::vector<double> out(sums.size(), 0.0);
  if (n > 0)
    for (size_t i = 0; i < sums.size(); ++i) out[i] = sums[i] / static_cast<double>(n);
  return out;
}

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace

std::vector<int32_t> LabelComponents(const std::vector<uint8_t>& mask, const data::Shape3& shape,
                                     int* num_components) {
  const int64_t n1 = shape[1], n2 = shape[2], slice = n1 * n2;
  std::vector<int32_t> labels(mask.size(), 0);
  std::vector<int32_t> parent{0};  // provisional label -> parent; 0 unused
  // Pass 1: each foreground voxel joins its already-visited face neighbours
  // (previous column, row and slice).
  size_t i = 0;
  for (int64_t a = 0; a < shape[0]; ++a)
    for (int64_t b = 0; b < n1; ++b)
      for (int64_t c = 0; c < n2; ++c, ++i) {
        if (!mask[i]) continue;
        int32_t l = 0;
        const int32_t nb[3] = {c > 0 ? labels[i - 1] : 0, b > 0 ? labels[i - static_cast<size_t>(n2)] : 0,
                               a > 0 ? labels[i - static_cast<size_t>(slice)] : 0};
        for (int32_t x : nb) {
          if (x == 0) continue;
          l = l == 0 ? Find(parent, x) : Union(parent, l, x);
        }
        if (l == 0) {
          l = static_cast<int32_t>(parent.size());
          parent.push_back(l);
        }
        labels[i] = l;
      }
  // Pass 2: roots are the smallest provisional label of a component, i.e. the
  // one created at its first voxel in raster order, so numbering roots in
  // increasing order numbers components by first appearance.
  std::vector<int32_t> final_id(parent.size(), 0);
  int32_t count = 0;
  for (size_t p = 1; p < parent.size(); ++p) {
    const int32_t r = Find(parent, static_cast<int32_t>(p));
    final_id[p] = r == static_cast<int32_t>(p) ? ++count : final_id[static_cast<size_t>(r)];
  }
  for (auto& l : labels)
    if (l) l = final_id[static_cast<size_t>(l)];
  if (num_components) *num_components = count;
  return labels;
}

void KeepLargestComponent(std::vector<uint8_t>* labels, const data::Shape3& shape, const std::vector<int>& classes) {
  bool in_class[256] = {false};
  for (int c : classes)
    if (c >= 0 && c < 256) in_class[c] = true;
  std::vector<uint8_t> mask(labels->size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = in_class[(*labels)[i]];
  int n = 0;
  const std::vector<int32_t> comp = LabelComponents(mask, shape, &n);
  if (n <= 1) return;
  std::vector<int64_t> size(static_cast<size_t>(n) + 1, 0);
  for (int32_t l : comp) ++size[static_cast<size_t>(l)];
  size[0] = 0;
  const int32_t keep = static_cast<int32_t>(std::max_element(size.begin(), size.end()) - size.begin());
  for (size_t i = 0; i < comp.size(); ++i)
    if (comp[i] != 0 && comp[i] != keep) (*labels)[i] = 0;
}

void ApplyPostprocessing(const PostprocessingDecision& d, std::vector<uint8_t>* labels, const data::Shape3& shape) {
  if (d.largest_foreground) KeepLargestComponent(labels, shape, ForegroundClasses());
  for (int c : d.largest_per_class) KeepLargestComponent(labels, shape, {c});
}

PostprocessingDecider::PostprocessingDecider(int num_classes)
    : num_classes_(num_classes),
      raw_(static_cast<size_t>(std::max(0, num_classes - 1)), 0.0),
      fg_(raw_),
      raw_then_class_(raw_),
      fg_then_class_(raw_) {}

void PostprocessingDecider::AddCase(const std::string& /*id*/, const std::vector<uint8_t>& pred,
                                    const std::vector<uint8_t>& gt, const data::Shape3& shape) {
  const std::vector<double> raw = evaluate::PerLabelDice(pred, gt, num_classes_);
  std::vector<uint8_t> fg_pred = pred;
  KeepLargestComponent(&fg_pred, shape, ForegroundClasses());
  const std::vector<double> fg = evaluate::PerLabelDice(fg_pred, gt, num_classes_);
  // The class-c step changes only class-c voxels (to background), so only
  // class c's Dice can change.
  std::vector<double> raw_c(raw.size()), fg_c(raw.size());
  std::vector<uint8_t> work;
  for (int c = 1; c < num_classes_; ++c) {
    work = pred;
    KeepLargestComponent(&work, shape, {c});
    raw_c[static_cast<size_t>(c - 1)] = evaluate::Dice(work.data(), gt.data(), work.size(), c, c);
    work = fg_pred;
    KeepLargestComponent(&work, shape, {c});
    fg_c[static_cast<size_t>(c - 1)] = evaluate::Dice(work.data(), gt.data(), work.size(), c, c);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++num_cases_;
  for (size_t k = 0; k < raw.size(); ++k) {
    raw_[k] += raw[k];
    fg_[k] += fg[k];
    raw_then_class_[k] += raw_c[k];
    fg_then_class_[k] += fg_c[k];
  }
}

PostprocessingDecision PostprocessingDecider::Decide() const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<double> raw = Means(raw_, num_cases_), fg = Means(fg_, num_cases_);
  const std::vector<double> raw_c = Means(raw_then_class_, num_cases_), fg_c = Means(fg_then_class_, num_cases_);
  PostprocessingDecision d;
  bool none_worse = true;
  for (size_t k = 0; k < raw.size(); ++k) none_worse = none_worse && fg[k] >= raw[k];
  d.largest_foreground = num_cases_ > 0 && none_worse && Mean(fg) > Mean(raw);
  const std::vector<double>& base = d.largest_foreground ? fg : raw;
  const std::vector<double>& base_c = d.largest_foreground ? fg_c : raw_c;
  Json per_class = Json::object();
  for (size_t k = 0; k < base.size(); ++k) {
    const int c = static_cast<int>(k) + 1;
    const bool accept = num_cases_ > 0 && base_c[k] > base[k];
    if (accept) d.largest_per_class.push_back(c);
    per_class[std::to_string(c)] = {{"on_raw", raw_c[k]}, {"on_largest_foreground", fg_c[k]},
                                    {"base", base[k]}, {"accepted", accept}};
  }
  d.report = {{"num_cases", num_cases_},
              {"num_classes", num_classes_},
              {"mean_dice_raw", raw},
              {"mean_dice_largest_foreground", fg},
              {"largest_foreground_accepted", d.largest_foreground},
              {"largest_per_class", per_class}};
  return d;
}

Json DecisionToJson(const PostprocessingDecision& d) {
  return {{"largest_foreground", d.largest_foreground},
          {"largest_per_class", d.largest_per_class},
          {"report", d.report}};
}

Result<PostprocessingDecision> DecisionFromJson(const Json& j, const std::string& source) {
  if (!j.is_object()) return InvalidArgument(source + ": postprocessing decision must be a JSON object");
  PostprocessingDecision d;
  if (!j.contains("largest_foreground") || !j["largest_foreground"].is_boolean())
    return InvalidArgument(source + ": field largest_foreground must be true or false");
  d.largest_foreground = j["largest_foreground"].get<bool>();
  if (!j.contains("largest_per_class") || !j["largest_per_class"].is_array())
    return InvalidArgument(source + ": field largest_per_class must be an array of class numbers");
  for (const auto& c : j["largest_per_class"]) {
    if (!c.is_number_integer() || c.get<int64_t>() < 1 || c.get<int64_t>() > 255)
      return InvalidArgument(source + ": field largest_per_class holds " + c.dump() +
                             "; expected class numbers 1..255");
    d.largest_per_class.push_back(c.get<int>());
  }
  if (j.contains("report")) {
    if (!j["report"].is_object()) return InvalidArgument(source + ": field report must be an object");
    d.report = j["report"];
  }
  return d;
}

}  // namespace nephron::infer
