#!/usr/bin/env python3
"""Independent PyTorch (1.13, CPU) re-statement of the SSA head and its training loss, the peer of Pairs/SsaHeadPair.cs.

Written from the method note (shared/methods/ssa.md) in the official code's style (per-class Python loops for the
teacher centres, the response KD and Dice, as xwmaxwma/SSA *_head_ssa.py / ssa_loss.py); parameter names are the
official SSA keys, so a state dict saved by TorchSharp.PyBridge loads with ``strict=True``.
cv2 is not installed here: the KD edge mask (official cv2.Canny on the label at feature resolution, 6-px border, 3x3
dilation) is a numpy 4-neighbour label change + border + dilation, computed inside the timed step (64x64: negligible).

  --weights W.pt --feat F.npy --label Y.npy --mode loss|train [--reps 5] [--threads 1] [--onednn on|off] [--profile]
  [--out OUT.npy]   (writes the 9 loss terms of one eval-mode pass instead of timing)
prints ``items_per_s=<value>`` (items = images; median of --reps after one warm-up). Mode loss = student + teacher
+ all eight loss terms (training mode, no backward); train = the same + backward.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-12


def mlp(c):
    return nn.Sequential(nn.Linear(2 * c, c // 2, bias=False), nn.ReLU(), nn.Linear(c // 2, c))


class SetCriterion(nn.Module):
    def __init__(self, k):
        super().__init__()
        w = torch.ones(k + 1)
        w[-1] = 0.1
        self.register_buffer("empty_weight", w)


class SSALoss(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.criterion = SetCriterion(k)


class SsaHead(nn.Module):
    def __init__(self, c, k, dropout=0.1):
        super().__init__()
        self.c, self.k = c, k
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(c, k, 1)
        self.get_feat_pos = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=True)
        self.center_pos = nn.Embedding(k, c)
        self.center_content_proj = mlp(c)
        self.gt_center_content_proj = mlp(c)
        self.center_pos_proj = mlp(c)
        self.gt_center_pos_proj = mlp(c)
        self.center_proj = nn.Linear(c, c, bias=False)
        self.gt_center_proj = nn.Linear(c, c, bias=False)
        self.ssa_loss = SSALoss(k)

    @staticmethod
    def get_pred(x, proto):
        b, c, h, w = x.shape
        x = x / (x.norm(dim=1, keepdim=True) + EPS)
        proto = proto / (proto.norm(dim=-1, keepdim=True) + EPS)
        return (proto @ x.reshape(b, c, h * w)).reshape(b, -1, h, w) * 15

    def forward(self, feat):
        b, c, h, w = feat.shape
        coarse = self.conv_seg(self.dropout(feat))
        pos = self.get_feat_pos(feat)
        # SPPA
        attn = coarse.reshape(b, self.k, -1).softmax(-1)
        e = self.center_pos.weight.unsqueeze(0).expand(b, -1, -1)
        center_pos = self.center_pos_proj(torch.cat([e, attn @ pos.reshape(b, c, -1).permute(0, 2, 1)], -1))
        # SEPA
        p = coarse.reshape(b, self.k, -1).softmax(1)
        centres = (p @ feat.reshape(b, c, -1).permute(0, 2, 1)) / (p.sum(-1, keepdim=True) + EPS)
        wk = self.conv_seg.weight.squeeze().unsqueeze(0).expand(b, -1, -1)
        pred_proto = self.center_content_proj(torch.cat([centres, wk], -1))
        logits = self.get_pred(feat + pos, self.center_proj(pred_proto + center_pos))
        return logits, coarse, pos, center_pos, pred_proto

    def gt_ssa(self, feat, pos, y):
        b, c, h, w = feat.shape
        wk = self.conv_seg.weight.squeeze()
        xf = feat.permute(0, 2, 3, 1).reshape(-1, c)
        yf = y.reshape(-1)
        gt_centres = wk.detach().clone()
        for k in yf.unique().tolist():
            if k != 255:
                gt_centres[k] = xf[yf == k].mean(0)
        gt_proto = self.gt_center_content_proj(torch.cat([gt_centres, wk], -1)).unsqueeze(0).expand(b, -1, -1)
        e = self.center_pos.weight
        pos_list = []
        for i in range(b):
            pf = pos[i].reshape(c, -1).t()
            yi = y[i].reshape(-1)
            ci = e.detach().clone()
            for k in yi.unique().tolist():
                if k != 255:
                    ci[k] = pf[yi == k].mean(0)
            pos_list.append(ci)
        gt_pos = self.gt_center_pos_proj(torch.cat([torch.stack(pos_list), e.unsqueeze(0).expand(b, -1, -1)], -1))
        logits = self.get_pred(feat + pos, self.gt_center_proj(gt_proto + gt_pos))
        return logits, gt_proto, gt_pos


def edge_mask(y, border=6):
    """Stand-in for get_bd (cv2 is absent): 4-neighbour label change, border zeroed, 3x3 dilation (numpy, per image)."""
    a = y.numpy()
    out = np.zeros(a.shape, np.float32)
    for i in range(a.shape[0]):
        l = a[i]
        e = np.zeros(l.shape, bool)
        e[:-1] |= l[:-1] != l[1:]
        e[1:] |= l[1:] != l[:-1]
        e[:, :-1] |= l[:, :-1] != l[:, 1:]
        e[:, 1:] |= l[:, 1:] != l[:, :-1]
        if border:
            e[:border] = e[-border:] = False
            e[:, :border] = e[:, -border:] = False
        p = np.pad(e, 1)
        d = np.zeros_like(e)
        for dy in range(3):
            for dx in range(3):
                d |= p[dy:dy + e.shape[0], dx:dx + e.shape[1]]
        out[i] = d
    return torch.from_numpy(out)


def distill_loss(student, teacher, y, edges, k):
    soft = teacher.detach()
    valid = (y != 255).float()
    target = y.clone()
    target[y == 255] = 0
    onehot = F.one_hot(target, k).permute(0, 3, 1, 2).float()
    sm = soft.softmax(1)
    t = 0.5 * sm + 0.5 * onehot
    loss = (-student.log_softmax(1) * t).sum(1)
    ent = -(sm * torch.log(sm + 1e-12)).sum(1) * valid
    losses, weights = [], []
    for c in y.unique().tolist():
        if c == 255:
            continue
        m = (y == c).float()
        we, wi = ent * m * edges, ent * m * (1 - edges)
        lc = ((loss * we).sum() / (we.sum() + 1e-12) + (loss * wi).sum() / (wi.sum() + 1e-12)) / 2
        losses.append(lc)
        weights.append(1.0)
    return sum(losses) / (sum(weights) + 1e-12)


def dice(logits, y):
    total, n = 0, 0
    for i in range(y.shape[0]):
        for c in y[i].unique().tolist():
            if c == 255:
                continue
            p = logits[i, c].sigmoid().flatten()
            t = (y[i] == c).float().flatten()
            total = total + 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
            n += 1
    return total / max(n, 1)


def relation(proto):
    n = proto / (proto.norm(dim=-1, keepdim=True) + 1e-12)
    return (n @ n.permute(0, 2, 1).detach() * 15).softmax(-1)


def ssa_losses(head, out, label):
    logits, coarse, pos, center_pos, pred_proto = out
    b, k, h, w = logits.shape
    hy, wy = label.shape[-2:]
    y = label.reshape(b, hy, wy)
    y_down = F.interpolate(y.unsqueeze(1).float(), size=(h, w), mode="nearest").squeeze(1).long()
    t_logits, gt_proto, gt_pos = head.gt_ssa(out_feat[0], pos, y_down)
    kl = distill_loss(logits, t_logits.detach(), y_down, edge_mask(y_down), k)
    up = lambda z: F.interpolate(z, size=(hy, wy), mode="bilinear", align_corners=True)
    coarse_up, t_up, s_up = up(coarse), up(t_logits), up(logits)
    pre_self = F.cross_entropy(coarse_up, y, ignore_index=255)
    pre = F.cross_entropy(t_up, y, ignore_index=255)
    dice_pred, dice_gt = dice(s_up, y), dice(t_up, y)
    rs, rt = relation(pred_proto), relation(gt_proto.detach())
    off = 1 - torch.eye(k).unsqueeze(0)
    diff = rs * off - rt * off
    dis = 10 * diff.clamp(min=0).sum(-1).mean()
    pos_dis = 0.4 * (-center_pos.log_softmax(-1) * gt_pos.detach().softmax(-1)).sum(-1).mean()
    main = F.cross_entropy(s_up, y, ignore_index=255, reduction="none").mean()
    terms = [main, pre_self, pre, kl, dice_pred, dice_gt, dis, pos_dis]
    return terms, sum(terms)


out_feat = [None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--feat", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--mode", default="loss", choices=("loss", "train"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--onednn", default="off", choices=("on", "off"))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.mkldnn.enabled = a.onednn == "on"
    sd = torch.load(a.weights, map_location="cpu")
    c, k = sd["get_feat_pos.weight"].shape[0], sd["conv_seg.weight"].shape[0]
    head = SsaHead(c, k)
    head.load_state_dict(sd, strict=True)
    feat = torch.from_numpy(np.load(a.feat)).requires_grad_(a.mode == "train")
    label = torch.from_numpy(np.load(a.label)).long()
    out_feat[0] = feat
    if a.out:
        head.eval()
        with torch.no_grad():
            terms, total = ssa_losses(head, head(feat), label)
        np.save(a.out, torch.stack(terms + [total]).numpy())
        return
    head.train()

    def step():
        head.zero_grad()
        terms, total = ssa_losses(head, head(feat), label)
        if a.mode == "train":
            total.backward()

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
    print("items_per_s=%.6f" % (feat.shape[0] * 1000.0 / ms))


if __name__ == "__main__":
    main()
