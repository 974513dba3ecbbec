#!/usr/bin/env python3
"""Independent PyTorch (1.13, CPU) re-statement of SqueezeTime, the peer of Pairs/SqueezeTimePairs.cs (issue 20).

Written from the method note (shared/methods/squeezetime.md); module and parameter names equal the official ones
(mmaction Recognizer3D: backbone.net = SqueezeTime.py ResNet with Bottleneck CTL blocks, cls_head = I2DHead), so a
state dict saved by TorchSharp.PyBridge (``save_py``) loads with ``strict=True``.

  --variant k400|tiny --weights W.pt --x X.npy --y Y.npy --mode infer|train [--reps 5] [--threads 1] [--onednn on|off]
  [--profile] [--out OUT.npy]
prints ``items_per_s=<value>`` (median of --reps after one warm-up). Train = AdamW(1e-4) step on cross-entropy.
Only torch, numpy, argparse and time are used.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = {
    "k400": dict(layers=(3, 4, 6, 3), widen=1.0, frames=16, classes=400, strides=(1, 2, 2, 2), pos=(56, 28, 14, 7)),
    "tiny": dict(layers=(1, 1, 1, 1), widen=0.125, frames=8, classes=4, strides=(1, 2, 2, 2), pos=(8, 4, 2, 1)),
}
HIDDEN = 16


class SpatialConv(nn.Module):
    """IOI branch: short_conv(x) * sigmoid(gate(beta * x (+ pos_embed after the first BN+ReLU)))."""

    def __init__(self, cin, cout, pos_dim):
        super().__init__()
        self.short_conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.glo_conv = nn.ModuleList([
            nn.Conv2d(cin, HIDDEN, 3, padding=1), nn.BatchNorm2d(HIDDEN), nn.ReLU(),
            nn.Conv2d(HIDDEN, HIDDEN, 7, padding=3), nn.BatchNorm2d(HIDDEN), nn.ReLU(),
            nn.Conv2d(HIDDEN, cout, 3, padding=1), nn.Sigmoid()])
        self.pos_embed = nn.Parameter(torch.zeros(1, HIDDEN, pos_dim, pos_dim))

    def forward(self, x, beta):
        x_short = self.short_conv(x)
        g = x * beta
        for i, m in enumerate(self.glo_conv):
            if i == 3:
                h, w = g.shape[-2:]
                pe = self.pos_embed if self.pos_embed.shape[-2:] == (h, w) else \
                    F.interpolate(self.pos_embed, size=(h, w), mode="bilinear", align_corners=True)
                g = g + pe
            g = m(g)
        return x_short * g


class CTL(nn.Module):
    """Channel-time learning (official class Conv2d): temporal_conv(beta * x) + spatial_conv(x, beta)."""

    def __init__(self, cin, cout, pos_dim):
        super().__init__()
        self.param_conv = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cin, 1, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
            nn.Conv2d(cin, cin, 1, bias=False), nn.Sigmoid())
        self.temporal_conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.spatial_conv = SpatialConv(cin, cout, pos_dim)

    def forward(self, x):
        beta = self.param_conv(x)
        return self.temporal_conv(beta * x) + self.spatial_conv(x, beta)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, shortcut, pos_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = CTL(planes, planes, pos_dim)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.shortcut_conv = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)) \
            if shortcut else None
        self.downsample = nn.Sequential(nn.Conv2d(cin, cin, 2, stride=2, groups=cin), nn.BatchNorm2d(cin)) \
            if stride == 2 else None

    def forward(self, x):
        if self.downsample is not None:
            x = self.downsample(x)
        u = F.relu(self.bn1(self.conv1(x)))
        u = F.relu(self.bn2(self.conv2(u)))
        u = self.bn3(self.conv3(u))
        res = x if self.shortcut_conv is None else self.shortcut_conv(x)
        return F.relu(u + res)


class ResNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths = [int(w * cfg["widen"]) for w in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3 * cfg["frames"], widths[0], 5, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = widths[0]
        for s in range(4):
            blocks = []
            for j in range(cfg["layers"][s]):
                blocks.append(Bottleneck(cin, widths[s], cfg["strides"][s] if j == 0 else 1,
                                         j == 0 and cin != widths[s] * 4, cfg["pos"][s]))
                cin = widths[s] * 4
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.out_channels = cin

    def forward(self, clip):
        n, c, t, h, w = clip.shape
        x = clip.reshape(n, c * t, h, w)  # colour-major squeeze, as x.view(N, -1, H, W)
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = ResNet(cfg)

    def forward(self, x):
        return self.net(x)


class I2DHead(nn.Module):
    def __init__(self, cin, classes, dropout=0.5):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc_cls(self.dropout(self.avg_pool(x)).flatten(1))


class Recognizer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.backbone = Backbone(cfg)
        self.cls_head = I2DHead(self.backbone.net.out_channels, cfg["classes"])

    def forward(self, x):
        return self.cls_head(self.backbone(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="k400", choices=sorted(VARIANTS))
    ap.add_argument("--weights", required=True)
    ap.add_argument("--x", required=True)
    ap.add_argument("--y")
    ap.add_argument("--mode", default="infer", choices=("infer", "train"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--onednn", default="off", choices=("on", "off"))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.mkldnn.enabled = a.onednn == "on"
    torch.manual_seed(0)
    model = Recognizer(VARIANTS[a.variant])
    model.load_state_dict(torch.load(a.weights, map_location="cpu"), strict=True)
    x = torch.from_numpy(np.load(a.x))
    y = torch.from_numpy(np.load(a.y)).long() if a.y else torch.zeros(x.shape[0], dtype=torch.long)
    if a.out:
        model.eval()
        with torch.no_grad():
            np.save(a.out, model(x).numpy())
        return
    opt = torch.optim.AdamW(model.parameters(), 1e-4)

    def step():
        if a.mode == "infer":
            model.eval()
            with torch.inference_mode():
                model(x)
        else:
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    step()
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    ms = float(np.median(times)) * 1000
    if a.profile:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
    print("ms=%.3f" % ms)
    print("items_per_s=%.6f" % (x.shape[0] * 1000.0 / ms))


if __name__ == "__main__":
    main()
