#include "jobs/train/train_bench.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "jobs/train/augment.h"
#include "jobs/train/augment_bench.h"
#include "jobs/train/loss.h"
#include "jobs/train/network.h"
#include "jobs/train/prefetcher.h"

namespace nephron::train {

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

void Sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

void SetAutocast(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, on);
  if (on) at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(on);
  if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  if (!on) at::autocast::clear_cache();
}

struct Config {
  UNetConfig net;
  std::array<int64_t, 3> patch;
  int batch = 2;
};

Config MakeConfig(const std::string& name) {
  Config c;
  if (name == "bdci") {
    c.net.features = {32, 64, 128, 256, 320, 320};
    c.net.kernel_sizes.assign(6, {3, 3, 3});
    c.net.strides = {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}};
    c.net.maxpool = true;
    c.patch = {96, 160, 160};
  } else {
    c.net = UNetConfig::ReferenceSmall();
    c.patch = {64, 64, 64};
  }
  return c;
}

}  // namespace

int RunTrainBench(const TrainBenchOptions& o) {
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  const torch::Device device(o.device == "cuda" ? "cuda:0" : o.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::fprintf(stderr, "nephron bench train: --device %s: CUDA is not available\n", o.device.c_str());
    return 1;
  }
  const bool amp = device.is_cuda() && o.bf16;
  std::printf("nephron bench train: LibTorch %s, device %s, %d thread(s)%s\n\n", TORCH_VERSION, o.device.c_str(),
              threads, amp ? ", bf16 autocast" : "");
  std::printf("| measurement | Nephron | nnU-Net (Python, same kind of machine, 2 threads) |\n|---|---|---|\n");
  if (o.augmentation) {
    const double pps = BenchAugmentPatchesPerSecond(2, {128, 128, 128}, o.aug_batches, device);
    const double spatial = BenchSpatialOnlySecondsPerPatch(2, {128, 128, 128}, o.aug_batches, device);
    std::printf("| augmentation, batch 2 x 128^3, full transform set | %.1f patches/s (%.3f s per batch) | 5.5-6 patches/s "
                "(0.33-0.37 s per batch) |\n",
                pps, 2.0 / pps);
    std::printf("| rotation+scaling when it fires | %.3f s per patch | ~0.38 s per patch |\n", spatial);
  }
  if (o.iteration) {
    Config c = MakeConfig(o.config);
    torch::manual_seed(0);
    PlainConvUNet model(c.net);
    InitHe(*model);
    model->to(device);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.99).nesterov(true).weight_decay(3e-5));
    const auto scales = DeepSupervisionScales(c.net);
    const auto weights = DeepSupervisionWeights(static_cast<int>(scales.size()));
    LossOptions lo;
    torch::Tensor x = torch::randn({c.batch, 1, c.patch[0], c.patch[1], c.patch[2]}).to(device);
    torch::Tensor y = torch::randint(0, 3, {c.batch, 1, c.patch[0], c.patch[1], c.patch[2]}, torch::kLong).to(device);
    const auto targets = DownsampleTargets(y, scales);
    auto step = [&](bool backward) {
      opt.zero_grad();
      SetAutocast(amp);
      auto outs = model->forward(x);
      torch::Tensor loss = DeepSupervisionLoss(outs, targets, weights, lo);
      SetAutocast(false);
      if (backward) {
        loss.backward();
        torch::nn::utils::clip_grad_norm_(model->parameters(), 12.0);
        opt.step();
      }
      Sync(device);
    };
    step(true);  // warm-up
    double fwd = 0, full = 0;
    for (int i = 0; i < o.iterations; ++i) {
      auto t0 = Clock::now();
      {
        torch::NoGradGuard ng;
        step(false);
      }
      auto t1 = Clock::now();
      step(true);
      auto t2 = Clock::now();
      fwd += Seconds(t0, t1);
      full += Seconds(t1, t2);
    }
    const char* ref = o.config == "small" ? "9.2 s (forward only 2.45 s)" : "-";
    std::printf("| training iteration, %s config (patch %lldx%lldx%lld, batch %d, %zu stages, %lld params) | %.3f s "
                "(forward only %.3f s) | %s |\n",
                o.config.c_str(), static_cast<long long>(c.patch[0]), static_cast<long long>(c.patch[1]),
                static_cast<long long>(c.patch[2]), c.batch, c.net.features.size(),
                static_cast<long long>(CountParameters(*model)), full / o.iterations, fwd / o.iterations, ref);

    if (o.pipeline) {
      // Loader threads cut enlarged patches from in-memory volumes; the device
      // augments and trains. Data wait = time the training loop waits for a batch.
      AugmentOptions aug;
      aug.patch_size = c.patch;
      const auto cut = EnlargedPatchSize(aug);
      const std::array<int64_t, 3> vol{cut[0] + 40, cut[1] + 60, cut[2] + 60};
      torch::Tensor volume = torch::randn({1, 1, vol[0], vol[1], vol[2]});
      torch::Tensor labels = torch::randint(0, 3, {1, 1, vol[0], vol[1], vol[2]}, torch::kChar);
      struct Batch {
        torch::Tensor image, seg;
      };
      auto make = [&](int64_t index) {
        std::mt19937_64 rng(static_cast<uint64_t>(index));
        std::vector<torch::Tensor> imgs, segs;
        for (int b = 0; b < c.batch; ++b) {
          std::array<int64_t, 3> lo3{};
          for (int a = 0; a < 3; ++a) lo3[a] = static_cast<int64_t>(rng() % static_cast<uint64_t>(vol[a] - cut[a] + 1));
          imgs.push_back(volume.slice(2, lo3[0], lo3[0] + cut[0]).slice(3, lo3[1], lo3[1] + cut[1]).slice(4, lo3[2], lo3[2] + cut[2]));
          segs.push_back(labels.slice(2, lo3[0], lo3[0] + cut[0]).slice(3, lo3[1], lo3[1] + cut[1]).slice(4, lo3[2], lo3[2] + cut[2]));
        }
        Batch out{torch::cat(imgs, 0).contiguous(), torch::cat(segs, 0).contiguous()};
        if (device.is_cuda()) {
          out.image = out.image.pin_memory();
          out.seg = out.seg.pin_memory();
        }
        return out;
      };
      const int n = o.iterations + 1;
      Prefetcher<Batch> prefetch(make, o.loader_threads, 0, n, 2 * o.loader_threads);
      double wait = 0, total = 0;
      for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        Batch b = prefetch.Get(i);
        auto t1 = Clock::now();
        AugmentedBatch a = Augment(b.image.to(device, true), b.seg.to(device, true), aug, static_cast<uint64_t>(i));
        const auto tg = DownsampleTargets(a.seg, scales);
        opt.zero_grad();
        SetAutocast(amp);
        auto outs = model->forward(a.image);
        torch::Tensor loss = DeepSupervisionLoss(outs, tg, weights, lo);
        SetAutocast(false);
        loss.backward();
        opt.step();
        Sync(device);
        auto t2 = Clock::now();
        if (i > 0) {  // skip warm-up
          wait += Seconds(t0, t1);
          total += Seconds(t0, t2);
        }
      }
      std::printf("| pipeline: loader (%d threads) + on-device augmentation + iteration | %.3f s per iteration, data wait "
                  "%.1f%% | - |\n",
                  o.loader_threads, total / o.iterations, 100.0 * wait / total);
    }
  }
  return 0;
}

}  // namespace nephron::train
