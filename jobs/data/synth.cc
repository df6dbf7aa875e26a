#include "jobs/data/synth.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "common/fs_util.h"
#include "jobs/data/nifti_io.h"

namespace nephron::data {

namespace {

// Patient frame is LPS in mm: +x left, +y posterior, +z superior.
using Mat3 = std::array<double, 9>;  // row-major

constexpr double kPi = 3.14159265358979323846;
constexpr double kAirHu = -1000.0;
// Beyond this many blur widths a smooth step is treated as exactly 0 or 1;
// tanh(5) is within 5e-5 of 1, i.e. < 0.1 HU even at the air/body edge.
constexpr double kFarWidths = 5.0;
// Case 0 always has a tumour and case 1 never does, so that even a two-case
// data set contains both situations; later cases draw with this probability.
constexpr double kTumourCaseProbability = 0.6;
constexpr double kSecondTumourProbability = 0.2;
constexpr double kObliqueProbability = 0.35;

enum class TumourPolicy { kRandom, kAlways, kNever };

// ---- deterministic randomness ---------------------------------------------
// Only raw 64-bit draws are used (never std::*_distribution, whose output is
// implementation-defined), so files are identical across standard libraries.

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b + 0x632BE59BD9B4E019ull)); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform01(); }
  int UniformInt(int lo, int hi) { return lo + static_cast<int>(engine_() % static_cast<uint64_t>(hi - lo + 1)); }
  bool Bernoulli(double p) { return Uniform01() < p; }
  double Sign() { return Bernoulli(0.5) ? 1.0 : -1.0; }
  Vec3 UnitVector() {
    const double z = Uniform(-1, 1), phi = Uniform(0, 2 * kPi), r = std::sqrt(1 - z * z);
    return {r * std::cos(phi), r * std::sin(phi), z};
  }

 private:
  std::mt19937_64 engine_;
};

// Fast per-slice Gaussian source: a SplitMix64 stream feeding Marsaglia's polar
// method (no trigonometry; the noise dominates the cost of a KiTS-sized case).
class NoiseSource {
 public:
  explicit NoiseSource(uint64_t seed) : state_(seed) {}
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = Next() * 2 - 1;
      v = Next() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double f = std::sqrt(-2 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

 private:
  double Next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return static_cast<double>(SplitMix64(state_) >> 11) * 0x1.0p-53;
  }
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// ---- small linear algebra ---------------------------------------------------

Mat3 Identity() { return {1, 0, 0, 0, 1, 0, 0, 0, 1}; }

Mat3 Mul(const Mat3& a, const Mat3& b) {
  Mat3 m{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) m[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return m;
}

Vec3 Apply(const Mat3& m, const Vec3& v) {
  return {m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
          m[6] * v[0] + m[7] * v[1] + m[8] * v[2]};
}

Vec3 ApplyTransposed(const Mat3& m, const Vec3& v) {
  return {m[0] * v[0] + m[3] * v[1] + m[6] * v[2], m[1] * v[0] + m[4] * v[1] + m[7] * v[2],
          m[2] * v[0] + m[5] * v[1] + m[8] * v[2]};
}

// Rotation by `angle` (radians) about patient axis `axis` (0 x, 1 y, 2 z).
Mat3 Rotation(int axis, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  const int i = (axis + 1) % 3, j = (axis + 2) % 3;
  Mat3 m = Identity();
  m[i * 3 + i] = c;
  m[i * 3 + j] = -s;
  m[j * 3 + i] = s;
  m[j * 3 + j] = c;
  return m;
}

// ---- anatomy ----------------------------------------------------------------

// An ellipsoid whose local axes are the columns of `rotation`.
struct Ellipsoid {
  Vec3 centre{};
  Mat3 rotation = Identity();
  Vec3 semi{1, 1, 1};

  double Reach() const { return std::max({semi[0], semi[1], semi[2]}); }
  // Half-extent along the unit vector u.
  double HalfExtentAlong(const Vec3& u) const {
    const Vec3 local = ApplyTransposed(rotation, u);
    double s = 0;
    for (int j = 0; j < 3; ++j) s += (local[j] * semi[j]) * (local[j] * semi[j]);
    return std::sqrt(s);
  }
  // First-order signed distance (positive inside): (1 - r) / |grad r| with r
  // the scaled radius. Exact along the semi-axes and near the surface, which
  // is all the partial-volume step needs. Points further than `margin` outside
  // the bounding sphere return a cheap value below -margin.
  double SignedDistance(const Vec3& p, double margin) const {
    const Vec3 d{p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
    const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    const double reach = Reach();
    if (r2 > (reach + margin) * (reach + margin)) return reach - std::sqrt(r2);
    const Vec3 q = ApplyTransposed(rotation, d);
    double r = 0, g = 0;
    for (int i = 0; i < 3; ++i) {
      const double u = q[i] / semi[i];
      r += u * u;
      g += (u / semi[i]) * (u / semi[i]);
    }
    if (g < 1e-24) return std::min({semi[0], semi[1], semi[2]});
    r = std::sqrt(r);
    return (1 - r) * r / std::sqrt(g);
  }
};

// Same first-order distance for an ellipse in the x-y plane (extruded in z).
double EllipseDistance(double x, double y, double ax, double ay) {
  const double ux = x / ax, uy = y / ay;
  const double g = std::sqrt((ux / ax) * (ux / ax) + (uy / ay) * (uy / ay));
  if (g < 1e-12) return std::min(ax, ay);
  const double r = std::sqrt(ux * ux + uy * uy);
  return (1 - r) * r / g;
}

struct Wave {
  Vec3 k{};  // rad/mm
  double amplitude = 0, phase = 0;
};

struct Kidney {
  Ellipsoid outer, inner;  // inner = medulla / renal sinus
  double cortex_hu = 0, medulla_hu = 0;
};

struct Tumour {
  int kidney = 0;
  Vec3 direction{};      // kidney-local unit vector to the surface point
  double offset = 0;     // centre shift along `direction`, in radii
  double radius = 0;
  Vec3 axis_scale{1, 1, 1};
  double hu = 0;
  std::array<Wave, 3> waves{};
  double necrosis_hu = 0;  // drop in the core; 0 = no necrotic core
  double necrosis_fraction = 0;
  Ellipsoid shape;  // set by PlaceTumours
};

struct Anatomy {
  double body_cx = 0, body_cy = 0, body_ax = 0, body_ay = 0, fat = 0;
  double fat_hu = 0, soft_hu = 0;
  double spine_cx = 0, spine_cy = 0, spine_r = 0, spine_rim = 0, cortical_hu = 0, cancellous_hu = 0;
  std::array<Kidney, 2> kidneys;
  std::vector<Tumour> tumours;
  double noise_sigma = 0;
  Vec3 centre{};  // where the grid centre should land
};

// Kidney on `side` (0: patient left, +x; 1: right) beside the spine.
Kidney DrawKidney(Rng& rng, const Anatomy& a, int side, double kidney_z) {
  const double sign = side == 0 ? 1.0 : -1.0;
  Kidney k;
  Ellipsoid& e = k.outer;
  e.centre = {a.body_cx + sign * a.body_ax * rng.Uniform(0.38, 0.45), a.spine_cy - rng.Uniform(5, 15),
              kidney_z - (side == 1 ? rng.Uniform(0, 12) : 0.0)};  // the right kidney sits lower
  e.semi = {rng.Uniform(25, 30), rng.Uniform(20, 25), rng.Uniform(50, 58)};
  // Upper pole tilted medially (about y) and posteriorly (about x).
  e.rotation = Mul(Rotation(1, -sign * rng.Uniform(5, 15) * kPi / 180), Rotation(0, -rng.Uniform(0, 10) * kPi / 180));
  k.inner = e;
  const double f = rng.Uniform(0.45, 0.55);
  k.inner.semi = {e.semi[0] * f, e.semi[1] * f, e.semi[2] * f};
  // The sinus opens medially (the hilum).
  const Vec3 shift = Apply(e.rotation, {-sign * 0.15 * e.semi[0], 0, 0});
  for (int i = 0; i < 3; ++i) k.inner.centre[i] += shift[i];
  k.cortex_hu = rng.Uniform(150, 200);
  k.medulla_hu = rng.Uniform(100, 120);
  return k;
}

Tumour DrawTumour(Rng& rng, int kidney) {
  Tumour t;
  t.kidney = kidney;
  t.direction = rng.UnitVector();
  // Tumours grow from the cortex outward, rarely toward the spine.
  const double lateral = kidney == 0 ? 1.0 : -1.0;
  if (t.direction[0] * lateral < -0.3) t.direction[0] = -t.direction[0];
  t.offset = rng.Uniform(-0.5, 0.3);
  t.radius = rng.Uniform(8, 30);
  t.axis_scale = {rng.Uniform(0.85, 1.15), rng.Uniform(0.85, 1.15), rng.Uniform(0.85, 1.15)};
  t.hu = rng.Uniform(20, 60);
  for (Wave& w : t.waves) {
    const Vec3 dir = rng.UnitVector();
    const double k = 2 * kPi / rng.Uniform(10, 40);
    w.k = {dir[0] * k, dir[1] * k, dir[2] * k};
    w.amplitude = rng.Uniform(4, 10);
    w.phase = rng.Uniform(0, 2 * kPi);
  }
  if (rng.Bernoulli(0.5)) {
    t.necrosis_hu = rng.Uniform(15, 35);
    t.necrosis_fraction = rng.Uniform(0.3, 0.6);
  }
  return t;
}

Anatomy DrawAnatomy(Rng& rng, TumourPolicy policy) {
  Anatomy a;
  a.body_cx = rng.Uniform(-15, 15);
  a.body_cy = rng.Uniform(-20, 20);
  a.body_ax = rng.Uniform(150, 190);
  a.body_ay = rng.Uniform(110, 130);
  a.fat = rng.Uniform(10, 25);
  a.fat_hu = rng.Uniform(-115, -85);
  a.soft_hu = rng.Uniform(32, 48);
  a.spine_r = rng.Uniform(17.5, 22.5);
  a.spine_cx = a.body_cx;
  a.spine_cy = a.body_cy + 0.45 * a.body_ay;
  a.spine_rim = rng.Uniform(2.5, 4);
  a.cortical_hu = rng.Uniform(650, 750);
  a.cancellous_hu = rng.Uniform(200, 300);
  const double kidney_z = rng.Uniform(-400, 200);  // table position varies
  for (int side = 0; side < 2; ++side) a.kidneys[side] = DrawKidney(rng, a, side, kidney_z);
  bool has_tumour = policy == TumourPolicy::kAlways;
  if (policy == TumourPolicy::kRandom) has_tumour = rng.Bernoulli(kTumourCaseProbability);
  if (has_tumour) {
    const int first = rng.UniformInt(0, 1);
    a.tumours.push_back(DrawTumour(rng, first));
    if (rng.Bernoulli(kSecondTumourProbability)) a.tumours.push_back(DrawTumour(rng, 1 - first));
  }
  a.noise_sigma = rng.Uniform(8, 20);
  const double kidney_y = 0.5 * (a.kidneys[0].outer.centre[1] + a.kidneys[1].outer.centre[1]);
  a.centre = {a.body_cx, 0.5 * (a.body_cy + kidney_y),
              0.5 * (a.kidneys[0].outer.centre[2] + a.kidneys[1].outer.centre[2])};
  return a;
}

// Turns each tumour's draws into an ellipsoid; `min_radius` keeps tumours at
// least ~2 voxels across on coarse grids.
void PlaceTumours(Anatomy* a, double min_radius) {
  for (Tumour& t : a->tumours) {
    const Ellipsoid& k = a->kidneys[t.kidney].outer;
    t.radius = std::max(t.radius, min_radius);
    const Vec3& u = t.direction;
    const double scaled = std::sqrt(std::pow(u[0] / k.semi[0], 2) + std::pow(u[1] / k.semi[1], 2) +
                                    std::pow(u[2] / k.semi[2], 2));
    Vec3 local;
    for (int i = 0; i < 3; ++i) local[i] = u[i] / scaled + u[i] * t.offset * t.radius;
    const Vec3 world = Apply(k.rotation, local);
    t.shape.rotation = k.rotation;
    for (int i = 0; i < 3; ++i) {
      t.shape.centre[i] = k.centre[i] + world[i];
      t.shape.semi[i] = t.radius * t.axis_scale[i];
    }
  }
}

// Shrinks the anatomy about its centre so that it fits a fixed field of view;
// tumours must be placed again afterwards.
void ScaleAnatomy(Anatomy* a, double s_xy, double s_z) {
  const Vec3 c = a->centre;
  auto scale_point = [&](double* x, double* y, double* z) {
    *x = c[0] + (*x - c[0]) * s_xy;
    *y = c[1] + (*y - c[1]) * s_xy;
    if (z) *z = c[2] + (*z - c[2]) * s_z;
  };
  scale_point(&a->body_cx, &a->body_cy, nullptr);
  scale_point(&a->spine_cx, &a->spine_cy, nullptr);
  a->body_ax *= s_xy;
  a->body_ay *= s_xy;
  a->fat *= s_xy;
  a->spine_r *= s_xy;
  for (Kidney& k : a->kidneys) {
    for (Ellipsoid* e : {&k.outer, &k.inner}) {
      scale_point(&e->centre[0], &e->centre[1], &e->centre[2]);
      e->semi = {e->semi[0] * s_xy, e->semi[1] * s_xy, e->semi[2] * s_z};
    }
  }
  for (Tumour& t : a->tumours) t.radius *= std::min(s_xy, s_z);
}

// Intensity (before noise) and label at patient point p; `w` is the
// partial-volume blur width in mm.
class Scene {
 public:
  Scene(const Anatomy& a, double w) : a_(a), w_(w), far_(kFarWidths * w) {}

  uint8_t Sample(const Vec3& p, double* hu) const {
    double v = kAirHu;
    const double x = p[0] - a_.body_cx, y = p[1] - a_.body_cy;
    const double d_body = EllipseDistance(x, y, a_.body_ax, a_.body_ay);
    Blend(d_body, a_.fat_hu, &v);
    if (d_body > -far_)
      Blend(EllipseDistance(x, y, a_.body_ax - a_.fat, a_.body_ay - a_.fat), a_.soft_hu, &v);
    const double d_spine = a_.spine_r - std::hypot(p[0] - a_.spine_cx, p[1] - a_.spine_cy);
    if (d_spine > -far_) {
      Blend(d_spine, a_.cortical_hu, &v);
      Blend(d_spine - a_.spine_rim, a_.cancellous_hu, &v);
    }
    uint8_t label = 0;
    for (const Kidney& k : a_.kidneys) {
      const double d = k.outer.SignedDistance(p, far_);
      if (d <= -far_) continue;
      if (d >= 0) label = 1;
      Blend(d, k.cortex_hu, &v);
      Blend(k.inner.SignedDistance(p, far_), k.medulla_hu, &v);
    }
    for (const Tumour& t : a_.tumours) {
      const double d = t.shape.SignedDistance(p, far_);
      if (d <= -far_) continue;
      if (d >= 0) label = 2;
      Blend(d, TumourHu(t, p, d), &v);
    }
    *hu = v;
    return label;
  }

 private:
  double Step(double d) const {
    if (d >= far_) return 1;
    if (d <= -far_) return 0;
    return 0.5 * (1 + std::tanh(d / w_));
  }
  void Blend(double d, double value, double* v) const {
    const double s = Step(d);
    if (s > 0) *v += (value - *v) * s;
  }
  double TumourHu(const Tumour& t, const Vec3& p, double d) const {
    double hu = t.hu;
    for (const Wave& w : t.waves)
      hu += w.amplitude * std::sin(w.k[0] * p[0] + w.k[1] * p[1] + w.k[2] * p[2] + w.phase);
    if (t.necrosis_hu > 0) hu -= t.necrosis_hu * Step(d - (1 - t.necrosis_fraction) * t.radius);
    return hu;
  }

  const Anatomy& a_;
  double w_, far_;
};

// ---- grids and orientation ----------------------------------------------------

// The canonical (axis-aligned, x/y/z) grid before orientation is applied.
struct Grid {
  std::array<int64_t, 3> n{};  // voxels along patient x, y, z
  Vec3 spacing{};              // mm along patient x, y, z
};

double Float32(double v) { return static_cast<double>(static_cast<float>(v)); }

// Range of the labelled organs (kidneys and placed tumours) projected on unit
// vector u, relative to `origin`.
std::array<double, 2> OrganRange(const Anatomy& a, const Vec3& u, const Vec3& origin) {
  std::array<double, 2> r{1e30, -1e30};
  auto add = [&](const Ellipsoid& e) {
    double c = 0;
    for (int i = 0; i < 3; ++i) c += (e.centre[i] - origin[i]) * u[i];
    r[0] = std::min(r[0], c - e.HalfExtentAlong(u));
    r[1] = std::max(r[1], c + e.HalfExtentAlong(u));
  };
  for (const Kidney& k : a.kidneys) add(k.outer);
  for (const Tumour& t : a.tumours) add(t.shape);
  return r;
}

// Twice the largest distance from the grid centre to a labelled voxel along
// grid axis `axis`, plus a margin: the field of view that keeps every organ
// whole. The grid centre is anatomy.centre + (0, 0, z_jitter).
double NeededFov(const Anatomy& a, const Mat3& oblique, int axis, double z_jitter) {
  Vec3 u{0, 0, 0};
  u[axis] = 1;
  u = Apply(oblique, u);
  const auto r = OrganRange(a, u, a.centre);
  return 2 * (std::max(std::abs(r[0]), std::abs(r[1])) + std::abs(z_jitter)) + 10;
}

// Draws the grid for `size`, widening spacings where needed so that kidneys
// and tumours are fully in view once the grid is tilted by `oblique`.
Grid DrawGrid(Rng& rng, SynthSize size, const Anatomy& a, const Mat3& oblique, double z_jitter) {
  Grid g;
  double fov_z = 0;
  int min_slices = 1, max_slices = 100000;
  switch (size) {
    case SynthSize::kTiny:
      g.n[0] = rng.UniformInt(48, 64);
      g.n[1] = rng.UniformInt(48, 64);
      g.spacing[0] = g.spacing[1] = rng.Uniform(4.5, 6.5);
      g.spacing[2] = rng.Uniform(4, 7);
      fov_z = rng.Uniform(140, 220);
      min_slices = 20;
      max_slices = 40;
      break;
    case SynthSize::kSmall:
      g.n[0] = g.n[1] = 128;
      g.spacing[0] = g.spacing[1] = rng.Uniform(2.5, 3.2);
      g.spacing[2] = rng.Uniform(2.5, 5);
      fov_z = rng.Uniform(140, 220);
      break;
    case SynthSize::kKits: {
      static constexpr double kSliceSpacings[] = {0.5, 0.8, 1.0, 1.25, 2.5, 3.0, 5.0};
      g.n[0] = g.n[1] = 512;
      g.spacing[0] = g.spacing[1] = rng.Uniform(0.6, 0.9);
      g.spacing[2] = kSliceSpacings[rng.UniformInt(0, 6)];
      fov_z = rng.Uniform(150, 260);
      break;
    }
  }
  for (int axis = 0; axis < 2; ++axis) {
    const double needed = NeededFov(a, oblique, axis, z_jitter) / static_cast<double>(g.n[axis]);
    g.spacing[0] = g.spacing[1] = std::max(g.spacing[0], needed);
  }
  const double z_needed = NeededFov(a, oblique, 2, z_jitter);
  if (z_needed > max_slices * g.spacing[2]) g.spacing[2] = z_needed / max_slices;
  // Spacings that survive NIfTI's float32 header exactly.
  for (double& s : g.spacing) s = Float32(s);
  const double slices = std::ceil(std::max(fov_z, z_needed) / g.spacing[2]);
  g.n[2] = std::clamp(static_cast<int64_t>(slices), static_cast<int64_t>(min_slices),
                      static_cast<int64_t>(max_slices));
  return g;
}

// Storage orientation: ITK index axis j runs along sign[j] * patient axis
// perm[j], then the whole frame is optionally tilted by `oblique`.
struct Orientation {
  std::array<int, 3> perm{0, 1, 2};
  Vec3 sign{1, 1, 1};
  Mat3 oblique = Identity();
};

Orientation DrawOrientation(Rng& rng, int case_index) {
  Orientation o;
  if (case_index == 0) {
    // KiTS19 as ITK reads it: slices along index axis 0, running inferior.
    o.perm = {2, 1, 0};
    o.sign = {-1, 1, 1};
    return o;
  }
  if (case_index == 1) return o;  // identity
  if (rng.Bernoulli(0.5)) {
    o.sign = {rng.Sign(), rng.Sign(), 1};  // axial, possibly RAS-like flips
  } else {
    o.perm = rng.Bernoulli(0.5) ? std::array<int, 3>{2, 1, 0} : std::array<int, 3>{2, 0, 1};
    o.sign = {rng.Sign(), rng.Sign(), rng.Sign()};
  }
  if (rng.Bernoulli(kObliqueProbability)) {
    const int axis = rng.UniformInt(0, 2);
    o.oblique = Rotation(axis, rng.Sign() * rng.Uniform(3, 15) * kPi / 180);
    if (rng.Bernoulli(0.5)) {
      const int second = (axis + rng.UniformInt(1, 2)) % 3;
      o.oblique = Mul(Rotation(second, rng.Sign() * rng.Uniform(3, 15) * kPi / 180), o.oblique);
    }
  }
  return o;
}

// Geometry and array shape of `grid` stored with `o`, centred on `centre`.
Geometry MakeGeometry(const Grid& grid, const Orientation& o, const Vec3& centre, Shape3* shape) {
  Mat3 axes{};
  Geometry g;
  std::array<int64_t, 3> n{};
  for (int j = 0; j < 3; ++j) {
    axes[o.perm[j] * 3 + j] = o.sign[j];
    g.spacing[j] = grid.spacing[o.perm[j]];
    n[j] = grid.n[o.perm[j]];
  }
  g.direction = Mul(o.oblique, axes);
  for (int i = 0; i < 3; ++i) {
    double offset = 0;
    for (int j = 0; j < 3; ++j) offset += g.direction[i * 3 + j] * g.spacing[j] * 0.5 * static_cast<double>(n[j] - 1);
    g.origin[i] = Float32(centre[i] - offset);
  }
  *shape = {n[2], n[1], n[0]};
  return g;
}

// ---- rendering ----------------------------------------------------------------

void RenderSlice(const Scene& scene, const Geometry& g, const Shape3& shape, int64_t a, double sigma,
                 uint64_t noise_seed, int16_t* image, uint8_t* labels) {
  NoiseSource noise(Mix(noise_seed, static_cast<uint64_t>(a)));
  Vec3 step[3];
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i) step[j][i] = g.direction[i * 3 + j] * g.spacing[j];
  const size_t plane = static_cast<size_t>(shape[1] * shape[2]);
  const double fa = static_cast<double>(a);
  for (int64_t b = 0; b < shape[1]; ++b) {
    const double fb = static_cast<double>(b);
    Vec3 row;
    for (int i = 0; i < 3; ++i) row[i] = g.origin[i] + step[2][i] * fa + step[1][i] * fb;
    const size_t base = static_cast<size_t>(a) * plane + static_cast<size_t>(b * shape[2]);
    for (int64_t c = 0; c < shape[2]; ++c) {
      const double fc = static_cast<double>(c);
      const Vec3 p{row[0] + step[0][0] * fc, row[1] + step[0][1] * fc, row[2] + step[0][2] * fc};
      double hu = 0;
      labels[base + c] = scene.Sample(p, &hu);
      hu = std::nearbyint(hu + sigma * noise.Normal());
      image[base + c] = static_cast<int16_t>(std::clamp(hu, -32768.0, 32767.0));
    }
  }
}

// Slices are independent (each has its own noise stream), so the result does
// not depend on how they are shared among threads.
PhantomCase Render(const Anatomy& anatomy, const Geometry& g, const Shape3& shape, uint64_t noise_seed,
                   int threads) {
  PhantomCase out;
  out.image = Volume<int16_t>(shape);
  out.labels = Volume<uint8_t>(shape);
  out.image.geometry = out.labels.geometry = g;
  // Blur over about half a voxel of the (geometric) mean spacing.
  const double w = 0.5 * std::cbrt(g.spacing[0] * g.spacing[1] * g.spacing[2]);
  const Scene scene(anatomy, w);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, shape[0]));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t a = next++; a < shape[0]; a = next++)
      RenderSlice(scene, g, shape, a, anatomy.noise_sigma, noise_seed, out.image.data.data(),
                  out.labels.data.data());
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return out;
}

// Independent streams per case, so anatomy does not change when the grid
// draws change (and vice versa).
enum Stream : uint64_t { kAnatomyStream = 1, kGridStream = 2, kNoiseStream = 3 };

}  // namespace

Result<SynthSize> ParseSynthSize(const std::string& name) {
  if (name == "tiny") return SynthSize::kTiny;
  if (name == "small") return SynthSize::kSmall;
  if (name == "kits") return SynthSize::kKits;
  return InvalidArgument("unknown synth size '" + name + "' (valid: tiny, small, kits)");
}

PhantomCase MakePhantom(uint64_t seed, int case_index, SynthSize size, int threads) {
  const uint64_t case_seed = Mix(seed, static_cast<uint64_t>(case_index));
  Rng anatomy_rng(Mix(case_seed, kAnatomyStream));
  const TumourPolicy policy =
      case_index == 0 ? TumourPolicy::kAlways : case_index == 1 ? TumourPolicy::kNever : TumourPolicy::kRandom;
  Anatomy anatomy = DrawAnatomy(anatomy_rng, policy);
  Rng grid_rng(Mix(case_seed, kGridStream));
  const double z_jitter = grid_rng.Uniform(-8, 8);
  const Orientation orientation = DrawOrientation(grid_rng, case_index);
  // About two voxels at the coarsest tiny spacing; larger sizes draw >= 8 mm.
  PlaceTumours(&anatomy, size == SynthSize::kTiny ? 13.0 : 0.0);
  const Grid grid = DrawGrid(grid_rng, size, anatomy, orientation.oblique, z_jitter);
  Vec3 centre = anatomy.centre;
  centre[2] += z_jitter;
  Shape3 shape;
  const Geometry g = MakeGeometry(grid, orientation, centre, &shape);
  return Render(anatomy, g, shape, Mix(case_seed, kNoiseStream), threads);
}

PhantomCase MakePhantomWithShape(uint64_t seed, const Shape3& shape, const Vec3& array_spacing, int threads) {
  // A stream of its own (not case 0's), with a tumour as in every KiTS19 case.
  const uint64_t case_seed = Mix(seed, ~0ull);
  Rng anatomy_rng(Mix(case_seed, kAnatomyStream));
  Anatomy anatomy = DrawAnatomy(anatomy_rng, TumourPolicy::kAlways);
  Grid grid;
  for (int i = 0; i < 3; ++i) {
    grid.n[i] = shape[2 - i];
    grid.spacing[i] = array_spacing[2 - i];
  }
  // Fit the body in-plane and the kidneys along z (with some margin).
  const double fov_x = static_cast<double>(grid.n[0]) * grid.spacing[0];
  const double fov_y = static_cast<double>(grid.n[1]) * grid.spacing[1];
  const double fov_z = static_cast<double>(grid.n[2]) * grid.spacing[2];
  const double s_xy = std::min({1.0, 0.95 * fov_x / (2 * anatomy.body_ax), 0.95 * fov_y / (2 * anatomy.body_ay)});
  const double max_spacing = std::max({grid.spacing[0], grid.spacing[1], grid.spacing[2]});
  const double min_radius = std::min(2 * max_spacing, 30.0);
  PlaceTumours(&anatomy, min_radius);
  const auto z = OrganRange(anatomy, {0, 0, 1}, {0, 0, 0});
  ScaleAnatomy(&anatomy, s_xy, std::min(1.0, 0.85 * fov_z / (z[1] - z[0])));
  PlaceTumours(&anatomy, min_radius);  // again, on the scaled kidneys
  const auto scaled_z = OrganRange(anatomy, {0, 0, 1}, {0, 0, 0});
  anatomy.centre[2] = 0.5 * (scaled_z[0] + scaled_z[1]);  // organs centred along z
  Shape3 out_shape;
  const Geometry g = MakeGeometry(grid, Orientation{}, anatomy.centre, &out_shape);
  return Render(anatomy, g, out_shape, Mix(case_seed, kNoiseStream), threads);
}

Status WriteSynthDataset(const std::string& out_dir, int num_cases, uint64_t seed, SynthSize size, int threads,
                         const std::function<void(int, const std::string&)>& on_case) {
  if (num_cases < 1) return InvalidArgument("num_cases must be at least 1, got " + std::to_string(num_cases));
  RETURN_IF_ERROR(MakeDirs(out_dir));
  for (int i = 0; i < num_cases; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "case_%05d", i);
    const std::string dir = out_dir + "/" + name;
    RETURN_IF_ERROR(MakeDirs(dir));
    const PhantomCase c = MakePhantom(seed, i, size, threads);
    RETURN_IF_ERROR(WriteImage(c.image, dir + "/imaging.nii.gz").WithContext(name));
    RETURN_IF_ERROR(WriteImage(c.labels, dir + "/segmentation.nii.gz").WithContext(name));
    if (on_case) on_case(i, dir);
  }
  return Status::Ok();
}

}  // namespace nephron::data
