#!/usr/bin/env python3
"""Independent PyTorch (1.13, CPU) re-statement of TinyViM, used as the side-by-side reference of TinyViMBench.cs.

Written from the method note (shared/methods/tinyvim.md); module and parameter names equal the official ones
(xwmaxwma/TinyViM model/tinyvim.py + model/tvimblock.py) so that a state dict saved by TorchSharp.PyBridge
(``save_py``) or by the official code loads with ``strict=True``. The CUDA selective scan is replaced by a plain
sequential loop over time (every scan runs on the (H/32)x(W/32) grid, so L is tiny).

Modes
  benchmark : --variant V --weights W.pt --x X.npy [--threads N] [--reps 5]
              prints ``check ...`` lines and ``fwd_bwd_ms=<float>`` (median of --reps forward+backward passes, train
              mode, cross-entropy on fixed labels, zero_grad every rep, after one warm-up).
  parity    : --parity DIR [--threads N]   (DIR holds weights.pt, input.npy, output.npy: the Tiny fixture config with
              the distillation head) prints ``check parity max_abs_diff=<value>`` and exits 1 above 1e-4.
  selftest  : --selftest [--threads N]     structure checks (official parameter counts of S/B/L) and a
              torch.save -> load_state_dict(strict=True) round trip of every variant.
  pair      : --mode infer|train --variant V --weights W.pt --x X.npy [--onednn on|off] [--save-out Y.npy]
              prints ``items_per_s=<float>`` (median of --reps; used by the `-- pairs` command).
Only torch, numpy, argparse and time are used.
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------------------
# Variants: every field mirrors src/Transforms/TinyViM/TinyViMConfig.cs (defaults = the official values).
# ----------------------------------------------------------------------------------------------------------------
_DEFAULTS = dict(
    mlp_ratio=4.0,            # LocalBlock FFN expansion (official mlp_ratios)
    mamba_mlp_ratio=4.0,      # TViMBlock FFN expansion (Stage never forwards mlp_ratios, so always 4.0)
    downsamples=(True, True, True, True),
    down_patch_size=3, down_stride=2, down_pad=1,
    ssm_num=1,                # TViMBlocks at the end of every stage
    extra_mamba_stage=2,      # stage with one extra TViMBlock at block index depth // 2 (-1: none)
    ssm_d_state=8,
    ssm_ratio=1.0,
    dt_rank=None,             # None = "auto" = ceil(block width / 16)
    low_freq_split=(0.25, 0.5, 0.5, 0.75),
    pool_kernels=(8, 4, 2, 1),
    inception_kernel=7,
    layer_scale_init=1.0,     # official code creates layer_scale with torch.ones (the 1e-5 argument is dead)
    in_channels=3,
)

VARIANTS = {
    "S": dict(_DEFAULTS, name="TinyViM_S", layers=(3, 3, 9, 6), embed_dims=(48, 64, 168, 224)),
    "B": dict(_DEFAULTS, name="TinyViM_B", layers=(4, 3, 10, 5), embed_dims=(48, 96, 192, 384)),
    "L": dict(_DEFAULTS, name="TinyViM_L", layers=(4, 4, 12, 6), embed_dims=(64, 128, 384, 512)),
    "Tiny": dict(_DEFAULTS, name="Tiny", layers=(2, 1, 3, 1), embed_dims=(16, 32, 48, 64)),
    "Micro": dict(_DEFAULTS, name="Micro", layers=(1, 1, 2, 1), embed_dims=(16, 24, 32, 48)),
}


def variant_config(name):
    key = name.strip().replace("-", "_")
    for short, cfg in VARIANTS.items():
        if key.lower() in (short.lower(), cfg["name"].lower()):
            return cfg
    raise SystemExit("unknown variant '%s'; valid: %s" % (name, ", ".join(VARIANTS)))


# ----------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------
class CBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d; keys ``c.*`` and ``bn.*`` (official Conv2d_BN)."""

    def __init__(self, cin, cout, k=1, stride=1, pad=0, groups=1):
        super().__init__()
        self.add_module("c", nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(cout))


class RepDW(nn.Module):
    """bn(BN(dw k x k conv(x)) + dw 1x1 conv with bias(x) + x); k = 3x3 or an axial 1x7 / 7x1 kernel."""

    def __init__(self, c, kernel=(3, 3)):
        super().__init__()
        pad = (kernel[0] // 2, kernel[1] // 2)
        self.conv = CBN(c, c, kernel, 1, pad, groups=c)
        self.conv1 = nn.Conv2d(c, c, 1, 1, 0, groups=c, bias=True)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.conv(x) + self.conv1(x) + x)


class RepInception(nn.Module):
    """Axial large-kernel depthwise mixer: the first c - c//2 channels get the k x 1 kernel (``dwconv_w``, mixes
    along H), the last c//2 the 1 x k kernel (``dwconv_h``). The names look swapped but are checkpoint keys."""

    def __init__(self, c, k=7):
        super().__init__()
        g = c // 2
        self.dwconv_h = RepDW(g, (1, k))
        self.dwconv_w = RepDW(g, (k, 1))
        self.split = (c - g, g)

    def forward(self, x):
        a, b = torch.split(x, self.split, dim=1)
        return torch.cat((self.dwconv_w(a), self.dwconv_h(b)), dim=1)


class FFN(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.fc1 = CBN(c, hidden)
        self.fc2 = CBN(hidden, c)
        self.act = nn.GELU()  # exact erf GELU

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LocalBlock(nn.Module):
    """x + layer_scale * FFN(RepDW(x)); no DropPath (rate 0 in every official setting)."""

    def __init__(self, c, hidden, layer_scale_init=1.0):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.full((c, 1, 1), float(layer_scale_init)))
        self.dwconv = RepDW(c)
        self.mlp = FFN(c, hidden)

    def forward(self, x):
        return x + self.layer_scale * self.mlp(self.dwconv(x))


def selective_scan(u, delta, A, Bs, Cs, D, delta_bias):
    """Mamba selective scan, sequential over time.

    u, delta: (B, G*D, L) (delta before bias/softplus); A: (G*D, N); Bs, Cs: (B, G, N, L) grouped (group g serves
    channels g*D .. g*D+D-1); D, delta_bias: (G*D,). Returns y: (B, G*D, L).
    """
    b, kd, L = u.shape
    g, n = Bs.shape[1], Bs.shape[2]
    delta = F.softplus(delta + delta_bias[None, :, None])                   # threshold 20 = the CUDA kernel's
    # Time-major, contiguous per-step tensors: (L, B, KD, N).
    dA = torch.exp(delta.permute(2, 0, 1)[..., None] * A)                   # exact ZOH for A
    Bx = Bs.permute(3, 0, 1, 2)[:, :, :, None, :].expand(L, b, g, kd // g, n).reshape(L, b, kd, n)
    Cx = Cs.permute(3, 0, 1, 2)[:, :, :, None, :].expand(L, b, g, kd // g, n).reshape(L, b, kd, n)
    dBu = (delta * u).permute(2, 0, 1)[..., None] * Bx                      # Euler for B
    h = u.new_zeros(b, kd, n)
    ys = []
    for t in range(L):
        h = dA[t] * h + dBu[t]
        ys.append((h * Cx[t]).sum(-1))
    y = torch.stack(ys, dim=-1)                                             # (B, KD, L)
    return y + D[None, :, None] * u


class SS2D(nn.Module):
    """The Laplace mixer (official SS2D with ``index``): channel split into a low group (4-way selective scan on the
    1/32-resolution average-pooled map, bilinear up-sampling, plus the Laplacian detail band) and a high group
    (RepDW)."""

    def __init__(self, c, index, cfg):
        super().__init__()
        d_expand = int(cfg["ssm_ratio"] * c)
        d_inner = int(d_expand * cfg["low_freq_split"][index])
        n = cfg["ssm_d_state"]
        r = cfg["dt_rank"] if cfg["dt_rank"] is not None else math.ceil(c / 16)  # block width, not d_inner
        k = 4
        self.pool_k = cfg["pool_kernels"][index]
        self.split = (d_inner, d_expand - d_inner)
        self.d_inner, self.d_state, self.dt_rank = d_inner, n, r

        # Parameter creation order follows the official state_dict order.
        self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, d_inner))
        self.dt_projs_weight = nn.Parameter(torch.empty(k, d_inner, r))
        self.dt_projs_bias = nn.Parameter(torch.empty(k, d_inner))
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(k * d_inner, 1))
        self.Ds = nn.Parameter(torch.ones(k * d_inner))
        self.local_conv = RepDW(d_expand - d_inner)
        self.out_norm = nn.LayerNorm(d_inner)  # eps 1e-5
        self.in_proj = CBN(c, d_expand)
        self.act = nn.SiLU()
        self.conv2d = RepInception(d_expand, cfg["inception_kernel"])
        self.out_proj = CBN(d_expand, c)
        self._init_ssm()

    @torch.no_grad()
    def _init_ssm(self):
        bound = 1.0 / math.sqrt(self.d_inner)                      # nn.Linear default init of the x projections
        self.x_proj_weight.uniform_(-bound, bound)
        std = self.dt_rank ** -0.5
        self.dt_projs_weight.uniform_(-std, std)
        dt = torch.exp(torch.rand(self.dt_projs_bias.shape) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        dt = dt.clamp(min=1e-4)
        self.dt_projs_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def ssm4(self, p):
        """Cross selective scan on p (B, D, h, w) -> LayerNorm'ed (B, D, h, w)."""
        b, d, h, w = p.shape
        L = h * w
        k, r, n = 4, self.dt_rank, self.d_state
        row = p.flatten(2)                                          # row-major
        col = p.transpose(2, 3).flatten(2)                          # column-major
        xs = torch.stack([row, col, row.flip(-1), col.flip(-1)], dim=1)  # (B, K, D, L)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(x_dbl, [r, n, n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        ys = selective_scan(xs.reshape(b, k * d, L), dts.reshape(b, k * d, L), -torch.exp(self.A_logs),
                            Bs, Cs, self.Ds, self.dt_projs_bias.reshape(-1)).view(b, k, d, L)
        y_row = ys[:, 0] + ys[:, 2].flip(-1)
        y_col = ys[:, 1] + ys[:, 3].flip(-1)                        # laid out (w, h): transpose back
        y = y_row + y_col.view(b, d, w, h).transpose(2, 3).reshape(b, d, L)
        y = self.out_norm(y.transpose(1, 2))                        # LayerNorm over channels, (B, L, D)
        return y.transpose(1, 2).reshape(b, d, h, w)

    def forward(self, x):
        x = self.act(self.conv2d(self.in_proj(x)))
        lo, hi = torch.split(x, self.split, dim=1)
        hi = self.local_conv(hi)
        H, W = lo.shape[-2:]
        s = self.pool_k
        if s > 1:
            pooled = F.avg_pool2d(lo, s, s)
            detail = lo - F.interpolate(pooled, size=(H, W), mode="nearest")
            lo = F.interpolate(self.ssm4(pooled), size=(H, W), mode="bilinear", align_corners=False) + detail
        else:
            lo = self.ssm4(lo)                                      # last stage: no pooling, no detail band
        return self.out_proj(torch.cat((lo, hi), dim=1))


class TViMBlock(nn.Module):
    """x1 = x + SS2D(x); y = x1 + FFN(x1) (no pre-norm, no layer scale)."""

    def __init__(self, c, index, cfg):
        super().__init__()
        self.op = SS2D(c, index, cfg)
        self.mlp = FFN(c, int(c * cfg["mamba_mlp_ratio"]))

    def forward(self, x):
        x = x + self.op(x)
        return x + self.mlp(x)


class Embedding(nn.Module):
    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.proj = CBN(cin, cout, k, stride, pad)

    def forward(self, x):
        return self.proj(x)


def is_mamba_block(cfg, stage, j):
    depth = cfg["layers"][stage]
    return depth - j <= cfg["ssm_num"] or (stage == cfg["extra_mamba_stage"] and j == depth // 2)


class TinyViM(nn.Module):
    def __init__(self, cfg, num_classes=10, distillation=False):
        super().__init__()
        dims, layers = cfg["embed_dims"], cfg["layers"]
        self.patch_embed = nn.Sequential(
            CBN(cfg["in_channels"], dims[0] // 2, 3, 2, 1), nn.GELU(),
            CBN(dims[0] // 2, dims[0], 3, 2, 1), nn.GELU())
        network = []
        for i in range(4):
            blocks = [TViMBlock(dims[i], i, cfg) if is_mamba_block(cfg, i, j)
                      else LocalBlock(dims[i], int(cfg["mlp_ratio"] * dims[i]), cfg["layer_scale_init"])
                      for j in range(layers[i])]
            network.append(nn.Sequential(*blocks))
            if i < 3 and (cfg["downsamples"][i] or dims[i] != dims[i + 1]):
                network.append(Embedding(dims[i], dims[i + 1], cfg["down_patch_size"], cfg["down_stride"],
                                         cfg["down_pad"]))
        self.network = nn.ModuleList(network)
        self.norm = nn.BatchNorm2d(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        self.dist = distillation
        if distillation:
            self.dist_head = nn.Linear(dims[-1], num_classes)
        self.input_multiple = 32
        for m in self.modules():  # official re-init of every Conv2d / Linear (SS2D raw parameters untouched)
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError("input H and W must be multiples of 32, got %s" % (tuple(x.shape),))
        x = self.patch_embed(x)
        for m in self.network:
            x = m(x)
        x = self.norm(x).flatten(2).mean(-1)
        if not self.dist:
            return self.head(x)
        out = (self.head(x), self.dist_head(x))
        return out if self.training else (out[0] + out[1]) / 2


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------
def load_state_dict_file(path):
    sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "model" in sd and not any(k.startswith("patch_embed") for k in sd):
        sd = sd["model"]  # official training checkpoint
    return sd


def build_from_state_dict(cfg, sd):
    num_classes = sd["head.weight"].shape[0]
    distillation = "dist_head.weight" in sd
    model = TinyViM(cfg, num_classes, distillation)
    model.load_state_dict(sd, strict=True)
    return model, num_classes, distillation


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def fwd_bwd(model, x, y):
    model.zero_grad(set_to_none=False)
    out = model(x)
    loss = (F.cross_entropy(out[0], y) + F.cross_entropy(out[1], y)) / 2 if isinstance(out, tuple) \
        else F.cross_entropy(out, y)
    loss.backward()
    return out, loss


# ----------------------------------------------------------------------------------------------------------------
# Modes
# ----------------------------------------------------------------------------------------------------------------
def run_benchmark(args):
    cfg = variant_config(args.variant)
    sd = load_state_dict_file(args.weights)
    model, num_classes, distillation = build_from_state_dict(cfg, sd)
    x = torch.from_numpy(np.load(args.x).astype(np.float32))
    print("check variant=%s params=%d classes=%d distillation=%s x=%s threads=%d torch=%s"
          % (cfg["name"], n_params(model), num_classes, distillation, tuple(x.shape), torch.get_num_threads(),
             torch.__version__))

    model.eval()
    with torch.no_grad():
        ev = model(x)
    print("check eval output sum=%.6f abs_sum=%.6f first=%s"
          % (ev.sum().item(), ev.abs().sum().item(), " ".join("%.6f" % v for v in ev[0, :5].tolist())))

    model.train()
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, num_classes, (x.shape[0],), generator=g)
    out, loss = fwd_bwd(model, x, y)  # warm-up (also the train-mode check: batch statistics, same weights)
    tr = out[0] if isinstance(out, tuple) else out
    gnorm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters() if p.grad is not None))
    # With fresh (untrained) weights the sum is ~0 (train-mode BN centres the batch), so abs_sum is the useful figure.
    print("check train output sum=%.6f abs_sum=%.6f loss=%.6f grad_norm=%.6f"
          % (tr.sum().item(), tr.abs().sum().item(), loss.item(), gnorm.item()))
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        fwd_bwd(model, x, y)
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    print("check fwd_bwd_ms all=%s" % " ".join("%.1f" % t for t in times))
    print("fwd_bwd_ms=%.3f" % times[len(times) // 2])


def run_pair(args):
    """`-- pairs` side: items/s of --mode infer (eval, no_grad forward) or train (forward+backward, train mode)."""
    cfg = variant_config(args.variant)
    model, num_classes, _ = build_from_state_dict(cfg, load_state_dict_file(args.weights))
    x = torch.from_numpy(np.load(args.x).astype(np.float32))
    if args.save_out:
        model.eval()
        with torch.no_grad():
            np.save(args.save_out, model(x).numpy())
    if args.reps == 0:
        return
    y = torch.randint(0, num_classes, (x.shape[0],), generator=torch.Generator().manual_seed(0))
    if args.mode == "infer":
        model.eval()
        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        def step():
            fwd_bwd(model, x, y)
    step()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print("items_per_s=%.4f" % (x.shape[0] / times[len(times) // 2]))


def run_parity(args):
    d = args.parity.rstrip("/")
    sd = load_state_dict_file(d + "/weights.pt")
    model, num_classes, distillation = build_from_state_dict(variant_config("Tiny"), sd)
    model.eval()
    x = torch.from_numpy(np.load(d + "/input.npy"))
    expected = torch.from_numpy(np.load(d + "/output.npy"))
    stage_out = {}
    for i, m in enumerate(model.network):
        m.register_forward_hook(lambda mod, inp, out, i=i: stage_out.__setitem__("network.%d" % i, out))
    model.patch_embed.register_forward_hook(lambda mod, inp, out: stage_out.__setitem__("patch_embed", out))
    with torch.no_grad():
        got = model(x)
    for name, out in stage_out.items():
        try:
            ref = torch.from_numpy(np.load("%s/stages/%s.out.npy" % (d, name)))
        except OSError:
            continue
        print("check parity stage %s max_abs_diff=%.3e" % (name, (out - ref).abs().max().item()))
    diff = (got - expected).abs().max().item()
    print("check parity params=%d classes=%d distillation=%s" % (n_params(model), num_classes, distillation))
    print("check parity max_abs_diff=%.3e" % diff)
    if not diff <= 1e-4:
        raise SystemExit(1)


def run_selftest(args):
    import os
    import tempfile
    ok = True
    official = {"S": (5684084, 5909084), "B": (11129236, 11514236), "L": (31867256, 32380256)}
    for v, (nodist, dist) in official.items():
        got = (n_params(TinyViM(VARIANTS[v], 1000, False)), n_params(TinyViM(VARIANTS[v], 1000, True)))
        good = got == (nodist, dist)
        ok &= good
        print("check selftest params %s %s (official %d / %d) %s" % (v, got, nodist, dist, "ok" if good else "FAIL"))
    tiny_fixture = n_params(TinyViM(VARIANTS["Tiny"], 10, True))
    ok &= tiny_fixture == 193464
    print("check selftest params Tiny+dist %d (fixture 193464)" % tiny_fixture)
    x = torch.randn(2, 3, 64, 64)
    with tempfile.TemporaryDirectory() as tmp:
        for v in VARIANTS:
            torch.manual_seed(1)
            a = TinyViM(VARIANTS[v], 10, False)
            a.train()
            fwd_bwd(a, x, torch.tensor([1, 2]))  # moves BN running stats / num_batches_tracked off their init
            path = os.path.join(tmp, v + ".pt")
            torch.save(a.state_dict(), path)
            b, _, _ = build_from_state_dict(VARIANTS[v], load_state_dict_file(path))
            a.eval()
            b.eval()
            with torch.no_grad():
                diff = (a(x) - b(x)).abs().max().item()
            good = diff == 0.0 and len(a.state_dict()) == len(b.state_dict())
            ok &= good
            print("check selftest roundtrip %s keys=%d max_abs_diff=%g %s"
                  % (v, len(a.state_dict()), diff, "ok" if good else "FAIL"))
    try:
        TinyViM(VARIANTS["Tiny"])(torch.randn(1, 3, 48, 64))
        ok = False
        print("check selftest bad input size not rejected FAIL")
    except ValueError as e:
        print("check selftest bad input rejected: %s" % e)
    print("check selftest %s" % ("passed" if ok else "FAILED"))
    if not ok:
        raise SystemExit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="Tiny", help="S | B | L | Tiny | Micro (also TinyViM_S, TinyViM-S)")
    p.add_argument("--weights", help="state_dict .pt (official key names)")
    p.add_argument("--x", help="input batch .npy, float32 (B, 3, H, W), H and W multiples of 32")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5, help="timed repetitions after one warm-up (median reported)")
    p.add_argument("--parity", metavar="DIR", help="check against a parity fixture folder")
    p.add_argument("--selftest", action="store_true", help="structure and save/load round-trip checks")
    p.add_argument("--mode", choices=["infer", "train"], help="pair mode: print items_per_s=<value> (used by -- pairs)")
    p.add_argument("--onednn", choices=["on", "off"], default="on", help="torch.backends.mkldnn.enabled (default on, as PyTorch)")
    p.add_argument("--save-out", help="pair mode: also save the eval-mode output on --x to this .npy")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.onednn == "on"
    if args.mode:
        run_pair(args)
    elif args.parity:
        run_parity(args)
    elif args.selftest:
        run_selftest(args)
    else:
        if not args.weights or not args.x:
            p.error("--weights and --x are required in benchmark mode")
        run_benchmark(args)


if __name__ == "__main__":
    main()
