#!/usr/bin/env python3
"""Independent PyTorch (1.13, CPU) re-statement of SLAB's SLA and SLAB-DeiT, the peer of SlabBenchmark.cs and the
`-- pairs` SLAB rows. Written from the method note (shared/methods/slab.md §2-§3: official slab_deit.Attention,
prepbn.RepBN / LinearNorm); parameter names equal the official ones so our TorchSharp.PyBridge state dict loads with
strict=True.

Modes
  attention : --attention [--dim 192 --heads 3 --tokens 49,196,784,3136 --rounds N]
              batch 1, eval, no_grad: official SLA (PRepBN folded: no norm op) vs LayerNorm + softmax attention;
              prints ``attn N=<n> sla_ms=<lower quartile> ln_softmax_ms=<...>`` per token count.
  pair      : --mode infer|train --weights W.pt --x X.npy [--arch deit|swin-micro --img 28] [--onednn on|off]
              [--reps N] [--save-out Y.npy]
              deit: SLAB-DeiT (deit_tiny_patch16_224_linear_repbn geometry: 192 wide, 12 blocks, 3 heads, patch 16, PRepBN);
              swin-micro: SLAB-Swin (slab_swin code, the suite's slab_swin_micro: patch 2, 32 wide, 2-2 blocks, 2-4 heads,
              SLA stage then softmax window stage); prints ``items_per_s=<float>``.
Only torch, numpy, argparse and time are used.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SLA(nn.Module):
    """slab_deit.Attention (method note §3): ReLU kernel, K + P before ReLU, z = 1/(q·Σk + 1e-6), DWC 5×5 on V."""

    def __init__(self, dim, num_heads, n, qkv_bias=True, kernel_size=5):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)
        hd = dim // num_heads
        self.dwc = nn.Conv2d(hd, hd, kernel_size, groups=hd, padding=kernel_size // 2)
        self.positional_encoding = nn.Parameter(torch.zeros(1, n, dim))

    def forward(self, x):
        b, n, c = x.shape
        h = self.num_heads
        d = c // h
        qkv = self.qkv(x).reshape(b, n, 3, c).permute(2, 0, 1, 3)
        q, k, v = qkv.unbind(0)
        k = k + self.positional_encoding
        q = F.relu(q)
        k = F.relu(k)
        q, k, v = (t.reshape(b, n, h, d).permute(0, 2, 1, 3).reshape(b * h, n, d) for t in (q, k, v))
        z = 1 / (q @ k.sum(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
        if n * n * 2 * d > d * d * 2 * n:
            o = q @ (k.transpose(-2, -1) @ v) * z
        else:
            o = (q @ k.transpose(-2, -1)) @ v * z
        g = int(round(n ** 0.5))
        fm = v.reshape(b * h, g, g, d).permute(0, 3, 1, 2)
        o = o + self.dwc(fm).permute(0, 2, 3, 1).reshape(b * h, n, d)
        o = o.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, c)
        return self.proj_drop(self.proj(o))


class SoftmaxAttention(nn.Module):
    """timm Attention: qkv → softmax(q kᵀ / √d) v → proj."""

    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class RepBN(nn.Module):
    """prepbn.RepBN: BN over tokens (on the transposed tensor) + alpha·x."""

    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1))
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, x):
        x = x.transpose(1, 2)
        x = self.bn(x) + self.alpha * x
        return x.transpose(1, 2)


class LinearNorm(nn.Module):
    """prepbn.LinearNorm (vision: step on every training call): warm-up LN, then γ·LN + (1-γ)·RepBN, γ = r0·iter/T."""

    def __init__(self, dim, step=60000, warm=0, r0=1.0):
        super().__init__()
        self.register_buffer("warm", torch.tensor(warm))
        self.register_buffer("iter", torch.tensor(step))
        self.register_buffer("total_step", torch.tensor(step))
        self.r0 = r0
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.norm2 = RepBN(dim)

    def forward(self, x):
        if self.training:
            if self.warm > 0:
                self.warm.copy_(self.warm - 1)
                return self.norm1(x)
            lamda = self.r0 * self.iter / self.total_step
            if self.iter > 0:
                self.iter.copy_(self.iter - 1)
            return lamda * self.norm1(x) + (1 - lamda) * self.norm2(x)
        return self.norm2(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, n):
        super().__init__()
        self.norm1 = LinearNorm(dim)
        self.attn = SLA(dim, heads, n)
        self.norm2 = LinearNorm(dim)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class SlabDeit(nn.Module):
    """slab_deit (mean-pooled tokens, no class token in the forward; cls_token kept as a parameter like the port)."""

    def __init__(self, img=224, patch=16, dim=192, depth=12, heads=3, classes=10):
        super().__init__()
        grid = img // patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, dim))
        self.patch_embed = PatchEmbed(patch, dim)
        self.pos_drop = nn.Dropout(0.0)
        self.blocks = nn.ModuleList([Block(dim, heads, grid * grid) for _ in range(depth)])
        self.norm = LinearNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        t = self.pos_drop(self.patch_embed(x) + self.pos_embed)
        for b in self.blocks:
            t = b(t)
        return self.head(self.norm(t).mean(1))


class WindowAttention(nn.Module):
    """Swin WindowAttention (the softmax 'S' stages of slab_swin): relative position bias, optional shift mask."""

    def __init__(self, dim, window, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        self.register_buffer("relative_position_index", (rel[:, :, 0] + window - 1) * (2 * window - 1) + rel[:, :, 1] + window - 1)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x, mask=None):
        b, n, c = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4).unbind(0)
        a = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        a = a + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            a = (a.view(b // nw, nw, h, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, h, n, n)
        a = self.attn_drop(a.softmax(-1))
        return self.proj_drop(self.proj((a @ v).transpose(1, 2).reshape(b, n, c)))


def window_partition(x, w):
    b, h, wd, c = x.shape
    return x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, w, w, c)


def window_reverse(win, w, h, wd):
    b = win.shape[0] // (h * wd // w // w)
    return win.view(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, wd, -1)


class SwinBlock(nn.Module):
    """slab_swin.SwinTransformerBlock: SLA over (clamped, so global) windows or shifted-window softmax attention."""

    def __init__(self, dim, res, heads, window, shift, attn_type):
        super().__init__()
        if res <= window:
            window, shift = res, 0
        self.dim, self.res, self.window, self.shift = dim, res, window, shift
        self.norm1 = LinearNorm(dim)
        self.attn = SLA(dim, heads, window * window) if attn_type == "L" else WindowAttention(dim, window, heads)
        self.norm2 = LinearNorm(dim)
        self.mlp = Mlp(dim, dim * 4)
        if shift > 0:
            img = torch.zeros(1, res, res, 1)
            bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
            cnt = 0
            for hs in bounds:
                for ws in bounds:
                    img[:, hs, ws, :] = cnt
                    cnt += 1
            mw = window_partition(img, window).view(-1, window * window)
            m = mw.unsqueeze(1) - mw.unsqueeze(2)
            self.register_buffer("attn_mask", m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0))
        else:
            self.attn_mask = None

    def forward(self, x):
        b, n, c = x.shape
        t = self.norm1(x).view(b, self.res, self.res, c)
        if self.shift > 0:
            t = torch.roll(t, (-self.shift, -self.shift), (1, 2))
        win = window_partition(t, self.window).view(-1, self.window * self.window, c)
        o = self.attn(win) if isinstance(self.attn, SLA) else self.attn(win, self.attn_mask)
        t = window_reverse(o.view(-1, self.window, self.window, c), self.window, self.res, self.res)
        if self.shift > 0:
            t = torch.roll(t, (self.shift, self.shift), (1, 2))
        x = x + t.reshape(b, n, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim, res):
        super().__init__()
        self.dim, self.res = dim, res
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = LinearNorm(4 * dim)

    def forward(self, x):
        b = x.shape[0]
        t = x.view(b, self.res, self.res, self.dim)
        t = torch.cat([t[:, 0::2, 0::2], t[:, 1::2, 0::2], t[:, 0::2, 1::2], t[:, 1::2, 1::2]], -1).view(b, -1, 4 * self.dim)
        return self.reduction(self.norm(t))


class SwinLayer(nn.Module):
    def __init__(self, dim, res, depth, heads, window, attn_type, downsample):
        super().__init__()
        w = window if attn_type == "L" else (7 if window <= 56 else 12)
        self.blocks = nn.ModuleList([SwinBlock(dim, res, heads, w, 0 if i % 2 == 0 else w // 2, attn_type) for i in range(depth)])
        self.downsample = PatchMerging(dim, res) if downsample else None

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.downsample(x) if self.downsample is not None else x


class SwinPatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)
        self.norm = LinearNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class SlabSwin(nn.Module):
    """slab_swin.SlabSwinTransformer (no ape, patch norm on, PRepBN in every norm slot, mean-pooled head)."""

    def __init__(self, img, patch, dim, depths, heads, attn_type, window=56, classes=10):
        super().__init__()
        res = img // patch
        self.patch_embed = SwinPatchEmbed(patch, dim)
        self.pos_drop = nn.Dropout(0.0)
        self.layers = nn.ModuleList([SwinLayer(dim << i, res >> i, depths[i], heads[i], window, attn_type[i], i < len(depths) - 1)
                                     for i in range(len(depths))])
        self.norm = LinearNorm(dim << (len(depths) - 1))
        self.head = nn.Linear(dim << (len(depths) - 1), classes)

    def forward(self, x):
        t = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            t = layer(t)
        return self.head(self.norm(t).mean(1))


def build_model(args):
    if args.arch == "deit":
        return SlabDeit()
    # slab_swin_micro (the suite's CPU-sized variant): patch 2, 32 wide, depths 2-2, heads 2-4, "LS"
    return SlabSwin(img=args.img, patch=2, dim=32, depths=[2, 2], heads=[2, 4], attn_type="LS", classes=10)


def lower_quartile(times):
    times = sorted(times)
    return times[len(times) // 4]


def run_attention(args):
    print("check torch=%s threads=%d mkldnn=%s" % (torch.__version__, torch.get_num_threads(), torch.backends.mkldnn.enabled))
    for n in [int(v) for v in args.tokens.split(",")]:
        torch.manual_seed(0)
        sla = SLA(args.dim, args.heads, n).eval()
        ln = nn.LayerNorm(args.dim).eval()
        sm = SoftmaxAttention(args.dim, args.heads).eval()
        x = torch.randn(1, n, args.dim)
        rounds = args.rounds or (200 if n <= 256 else 40 if n <= 1024 else 10)
        cands = [lambda: sla(x), lambda: sm(ln(x))]
        t = [[], []]
        with torch.no_grad():
            for c in cands:
                c(); c()
            for _ in range(rounds):
                for i, c in enumerate(cands):
                    t0 = time.perf_counter()
                    c()
                    t[i].append((time.perf_counter() - t0) * 1000.0)
        print("attn N=%d sla_ms=%.4f ln_softmax_ms=%.4f" % (n, lower_quartile(t[0]), lower_quartile(t[1])))


def run_pair(args):
    model = build_model(args)
    sd = torch.load(args.weights)
    model.load_state_dict(sd, strict=True)
    x = torch.from_numpy(np.load(args.x).astype(np.float32))
    if args.save_out:
        model.eval()
        with torch.no_grad():
            np.save(args.save_out, model(x).numpy())
    if args.reps == 0:
        return
    y = torch.randint(0, 10, (x.shape[0],), generator=torch.Generator().manual_seed(0))
    if args.mode == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()

        def step():
            model.zero_grad(set_to_none=False)
            F.cross_entropy(model(x), y).backward()
    step()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print("items_per_s=%.4f" % (x.shape[0] / times[len(times) // 2]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attention", action="store_true")
    p.add_argument("--arch", choices=["deit", "swin-micro"], default="deit")
    p.add_argument("--img", type=int, default=28)
    p.add_argument("--dim", type=int, default=192)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--tokens", default="49,196,784,3136")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--mode", choices=["infer", "train"])
    p.add_argument("--weights")
    p.add_argument("--x")
    p.add_argument("--save-out")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--onednn", choices=["on", "off"], default="on")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.onednn == "on"
    if args.attention:
        run_attention(args)
    elif args.mode:
        run_pair(args)
    else:
        p.error("give --attention or --mode")


if __name__ == "__main__":
    main()
