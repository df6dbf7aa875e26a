#include "jobs/evaluate/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/fs_util.h"

namespace nephron::evaluate {

double Dice(const uint8_t* pred, const uint8_t* gt, size_t n, int lo, int hi) {
  int64_t inter = 0, np = 0, ng = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool p = pred[i] >= lo && pred[i] <= hi;
    const bool g = gt[i] >= lo && gt[i] <= hi;
    np += p;
    ng += g;
    inter += p && g;
  }
  if (np + ng == 0) return 1.0;
  return 2.0 * static_cast<double>(inter) / static_cast<double>(np + ng);
}

CaseMetrics KitsMetrics(const std::string& id, const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt) {
  CaseMetrics m;
  m.id = id;
  const size_t n = std::min(pred.size(), gt.size());
  m.kidney_dice = Dice(pred.data(), gt.data(), n, 1, 255);
  m.tumor_dice = Dice(pred.data(), gt.data(), n, 2, 2);
  m.composite = 0.5 * (m.kidney_dice + m.tumor_dice);
  for (size_t i = 0; i < n; ++i) {
    m.kidney_voxels_gt += gt[i] > 0;
    m.tumor_voxels_gt += gt[i] == 2;
    m.kidney_voxels_pred += pred[i] > 0;
    m.tumor_voxels_pred += pred[i] == 2;
  }
  return m;
}

std::vector<double> PerLabelDice(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt, int num_classes) {
  std::vector<double> out;
  const size_t n = std::min(pred.size(), gt.size());
  for (int c = 1; c < num_classes; ++c) out.push_back(Dice(pred.data(), gt.data(), n, c, c));
  return out;
}

Summary Summarize(std::vector<CaseMetrics> cases) {
  Summary s;
  s.cases = std::move(cases);
  if (s.cases.empty()) return s;
  for (const auto& c : s.cases) {
    s.kidney_dice += c.kidney_dice;
    s.tumor_dice += c.tumor_dice;
    s.composite += c.composite;
  }
  const double n = static_cast<double>(s.cases.size());
  s.kidney_dice /= n;
  s.tumor_dice /= n;
  s.composite /= n;
  return s;
}

Json SummaryToJson(const Summary& s) {
  Json cases = Json::array();
  for (const auto& c : s.cases) {
    cases.push_back({{"id", c.id},
                     {"kidney_dice", c.kidney_dice},
                     {"tumor_dice", c.tumor_dice},
                     {"composite", c.composite},
                     {"kidney_voxels_gt", c.kidney_voxels_gt},
                     {"tumor_voxels_gt", c.tumor_voxels_gt},
                     {"kidney_voxels_pred", c.kidney_voxels_pred},
                     {"tumor_voxels_pred", c.tumor_voxels_pred}});
  }
  Json j;
  j["cases"] = std::move(cases);
  j["mean"] = {{"kidney_dice", s.kidney_dice}, {"tumor_dice", s.tumor_dice}, {"composite", s.composite}};
  j["kidney_dice"] = s.kidney_dice;
  j["tumor_dice"] = s.tumor_dice;
  j["composite"] = s.composite;
  j["num_cases"] = s.cases.size();
  return j;
}

namespace {

std::string CsvRow(const std::string& name, double k, double t, double c) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), ",%.6f,%.6f,%.6f\n", k, t, c);
  return name + buf;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Vec(const data::Vec3& v) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "[%.6g, %.6g, %.6g]", v[0], v[1], v[2]);
  return buf;
}

std::string Dir(const std::array<double, 9>& d) {
  std::string s = "[";
  for (int i = 0; i < 9; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s%.6g", i ? ", " : "", d[static_cast<size_t>(i)]);
    s += buf;
  }
  return s + "]";
}

bool Close(double a, double b, double rel) {
  return std::fabs(a - b) <= rel * std::max({1.0, std::fabs(a), std::fabs(b)});
}

}  // namespace

std::string SummaryToCsv(const Summary& s) {
  std::string out = "case,kidney_dice,tumor_dice,composite\n";
  for (const auto& c : s.cases) out += CsvRow(c.id, c.kidney_dice, c.tumor_dice, c.composite);
  out += CsvRow("mean", s.kidney_dice, s.tumor_dice, s.composite);
  return out;
}

Status WriteSummary(const Summary& s, const std::string& path) {
  std::string stem;
  if (EndsWith(path, ".json") || EndsWith(path, ".csv")) {
    stem = path.substr(0, path.rfind('.'));
  } else {
    return InvalidArgument(path + ": summary path must end in .json or .csv");
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent.string()));
  RETURN_IF_ERROR(WriteFileAtomic(stem + ".json", SummaryToJson(s).dump(2) + "\n"));
  return WriteFileAtomic(stem + ".csv", SummaryToCsv(s));
}

Status CheckSameGeometry(const data::Geometry& a, const data::Shape3& sa, const data::Geometry& b,
                         const data::Shape3& sb, const std::string& pred_path, const std::string& gt_path) {
  auto fail = [&](const std::string& field, const std::string& va, const std::string& vb) {
    return FailedPrecondition("prediction " + pred_path + " and ground truth " + gt_path + " differ in " + field +
                              ": " + va + " vs " + vb);
  };
  if (sa != sb) {
    const data::Vec3 fa{double(sa[0]), double(sa[1]), double(sa[2])}, fb{double(sb[0]), double(sb[1]), double(sb[2])};
    return fail("shape", Vec(fa), Vec(fb));
  }
  for (int i = 0; i < 3; ++i)
    if (!Close(a.spacing[static_cast<size_t>(i)], b.spacing[static_cast<size_t>(i)], 1e-4))
      return fail("spacing", Vec(a.spacing), Vec(b.spacing));
  for (int i = 0; i < 3; ++i)
    if (!Close(a.origin[static_cast<size_t>(i)], b.origin[static_cast<size_t>(i)], 1e-4))
      return fail("origin", Vec(a.origin), Vec(b.origin));
  for (size_t i = 0; i < 9; ++i)
    if (std::fabs(a.direction[i] - b.direction[i]) > 1e-4) return fail("direction", Dir(a.direction), Dir(b.direction));
  return Status::Ok();
}

}  // namespace nephron::evaluate
