// The experiment `nephron local --demo` runs: a synthetic KiTS-like data set
// (`nephron synth`, written once into WORKDIR/data) and the demo spec below.
// The spec's training budget is what decides the demo's run time and Dice;
// it lives in one constant, kDemoSpecTemplate, in demo_spec.cc.
#pragma once

#include <string>

namespace nephron::client {

// `nephron synth --cases kDemoCases --seed kDemoSeed --size kDemoSize`.
inline constexpr int kDemoCases = 24;
inline constexpr int kDemoSeed = 0;
inline constexpr char kDemoSize[] = "tiny";

// The demo spec with its dataset.root set to `data_root` (absolute).
std::string DemoSpec(const std::string& data_root);

}  // namespace nephron::client
