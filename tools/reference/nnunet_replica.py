#!/usr/bin/env python3
"""Same-machine references for `nephron bench predict` (a) and `nephron bench train`.

nnU-Net itself cannot be installed on the development machine (PyPI is not
reachable), so this replicates what nnU-Net v2 does for the two benchmark
configurations, written for this comparison. The network is PlainConvUNet
(5 stages, 32-320 features, strides 1,2,2,2,2, conv-InstanceNorm-LeakyReLU x2,
strided-conv down, transposed-conv up; 16,548,076 parameters with the deep
supervision heads, as nnU-Net v2 builds it).

predict: the sliding-window loop of nnUNetPredictor.predict_sliding_window_
return_logits on a 64 x 128 x 128 volume, patch 64^3: tiles one at a time
(batch 1), step 0.5, Gaussian importance map (sigma = patch/8, float16 as
nnU-Net stores it), optional mirroring over all 7 flip combinations, logits
summed and divided by the summed map; torch.no_grad(), float32.

train: nnUNetTrainer.train_step on batch 2 x 64^3: forward with deep
supervision, Dice (smooth 1e-5, no background, batch Dice) + cross-entropy on
every scale with nnU-Net's weights (1, 1/2, 1/4, 0, normalised), backward,
gradient clipping at 12, SGD (lr 1e-2, momentum 0.99, Nesterov, weight decay
3e-5). Data comes ready (no augmentation).

Needs Debian's PyTorch: apt-get install python3-torch (dev only; nothing in
Nephron runs Python). Usage: nnunet_replica.py predict|train [--threads 2] [--mirror]
"""
import argparse
import itertools
import resource
import time

import numpy as np
import torch
from torch import nn


def conv_block(cin, cout, stride):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride, 1, bias=True),
        nn.InstanceNorm3d(cout, eps=1e-5, affine=True),
        nn.LeakyReLU(0.01, inplace=True),
        nn.Conv3d(cout, cout, 3, 1, 1, bias=True),
        nn.InstanceNorm3d(cout, eps=1e-5, affine=True),
        nn.LeakyReLU(0.01, inplace=True),
    )


class PlainConvUNet(nn.Module):
    def __init__(self, features=(32, 64, 128, 256, 320), strides=(1, 2, 2, 2, 2), cin=1, classes=3):
        super().__init__()
        self.enc = nn.ModuleList()
        c = cin
        for f, s in zip(features, strides):
            self.enc.append(conv_block(c, f, s))
            c = f
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(features) - 1, 0, -1):
            s = strides[i]
            self.up.append(nn.ConvTranspose3d(features[i], features[i - 1], s, s, bias=True))
            self.dec.append(conv_block(2 * features[i - 1], features[i - 1], 1))
        self.seg = nn.Conv3d(features[0], classes, 1, 1, 0, bias=True)

        # Deep supervision heads at the lower decoder scales (training only).
        self.ds = nn.ModuleList(nn.Conv3d(features[i], classes, 1, 1, 0, bias=True)
                                for i in range(len(features) - 2, 0, -1))
        self.deep_supervision = False

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
        x = skips[-1]
        outs = []
        for i, (u, d) in enumerate(zip(self.up, self.dec)):
            x = u(x)
            x = d(torch.cat((x, skips[-(i + 2)]), 1))
            if self.deep_supervision and i < len(self.ds):
                outs.append(self.ds[i](x))
        if not self.deep_supervision:
            return self.seg(x)
        return [self.seg(x)] + outs[::-1]  # highest resolution first


def compute_steps(image_size, tile_size, step):
    steps = []
    for dim in range(len(tile_size)):
        target = tile_size[dim] * step
        n = int(np.ceil((image_size[dim] - tile_size[dim]) / target)) + 1
        max_step = image_size[dim] - tile_size[dim]
        actual = max_step / (n - 1) if n > 1 else 99999999999
        steps.append([int(np.round(actual * i)) for i in range(n)])
    return steps


def gaussian_map(tile):
    # sigma = tile/8, peak 1, as compute_gaussian (scipy's gaussian_filter on a
    # delta equals the sampled, normalised Gaussian up to truncation), float16.
    axes = [np.exp(-0.5 * ((np.arange(t) - t // 2) / (t / 8.0)) ** 2) for t in tile]
    g = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    g = g / g.max()
    g = g.astype(np.float16)
    g[g == 0] = g[g != 0].min()
    return torch.from_numpy(g)


def predict(net, data, tile, mirror):
    g = gaussian_map(tile).float()
    logits = torch.zeros((3,) + tuple(data.shape[1:]))
    counts = torch.zeros(tuple(data.shape[1:]))
    steps = compute_steps(data.shape[1:], tile, 0.5)
    tiles = 0
    combos = [c for i in range(3) for c in itertools.combinations([2, 3, 4], i + 1)] if mirror else []
    for sx, sy, sz in itertools.product(*steps):
        sl = (slice(sx, sx + tile[0]), slice(sy, sy + tile[1]), slice(sz, sz + tile[2]))
        x = data[(slice(None),) + sl][None]
        p = net(x)
        for axes in combos:
            p += torch.flip(net(torch.flip(x, axes)), axes)
        if combos:
            p /= len(combos) + 1
        logits[(slice(None),) + sl] += p[0] * g
        counts[sl] += g
        tiles += 1
    return logits / counts, tiles


def dc_and_ce(logits, target):
    probs = torch.softmax(logits, 1)
    onehot = torch.zeros_like(probs).scatter_(1, target, 1)
    axes = [0, 2, 3, 4]  # batch Dice
    tp = (probs * onehot).sum(axes)
    fp = (probs * (1 - onehot)).sum(axes)
    fn = ((1 - probs) * onehot).sum(axes)
    dc = (2 * tp + 1e-5) / torch.clamp(2 * tp + fp + fn + 1e-5, min=1e-8)
    return -dc[1:].mean() + nn.functional.cross_entropy(logits, target[:, 0])


def train(args):
    net = PlainConvUNet().train()
    net.deep_supervision = True
    opt = torch.optim.SGD(net.parameters(), 1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
    weights = np.array([1 / 2 ** i for i in range(4)])
    weights[-1] = 0
    weights = weights / weights.sum()
    x = torch.randn(2, 1, 64, 64, 64)
    y = torch.randint(0, 3, (2, 1, 64, 64, 64))
    targets = [y] + [y[:, :, ::s, ::s, ::s].contiguous() for s in (2, 4, 8)]

    def step():
        opt.zero_grad(set_to_none=True)
        outs = net(x)
        loss = sum(w * dc_and_ce(o, t) for w, o, t in zip(weights, outs, targets) if w != 0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        t0 = time.perf_counter()
        net(x)
        fwd = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in net.parameters())
    print(f"replica of nnU-Net v2's train_step, torch {torch.__version__}, {args.threads} threads, {params} "
          f"parameters, batch 2 x 64^3: iteration {np.median(times):.2f} s (median of {len(times)}; "
          f"min {min(times):.2f}), forward only {fwd:.2f} s, peak {peak:.0f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["predict", "train"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mirror", action="store_true", help="predict: 8-fold mirroring")
    ap.add_argument("--iterations", type=int, default=3, help="train: timed iterations")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.mode == "train":
        return train(args)
    net = PlainConvUNet().eval()
    data = torch.randn(1, 64, 128, 128)
    with torch.no_grad():
        net(torch.randn(1, 1, 64, 64, 64))  # first call allocates; nnU-Net's timing also excludes model loading
        t0 = time.perf_counter()
        _, tiles = predict(net, data, (64, 64, 64), args.mirror)
        sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in net.parameters())
    print(f"replica of nnU-Net v2's predictor, torch {torch.__version__}, {args.threads} threads, "
          f"{params} parameters, {tiles} tiles, mirroring {'on' if args.mirror else 'off'}: "
          f"{sec:.1f} s, peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
