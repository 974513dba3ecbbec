#!/usr/bin/env python3
"""Writes ../data/anet_cases.json: random detection cases scored by an independent plain-Python port of
ActivityNet's eval_detection.py (ANETdetection.evaluate). numpy is not available on our machines, so its three
routines are emulated: linspace (start + i*step, last = stop), argsort()[::-1] (stable ascending sort reversed,
exact for <= 16 items, so every class and video keeps <= 16 rows) and float64 add.reduce (pairwise, 8 accumulators).
Run: python3 make_anet_fixture.py  (deterministic; the C# tests read the committed output, never python)."""
import json
import os
import random


def linspace(start, stop, num):
    step = (stop - start) / (num - 1)
    y = [i * step + start for i in range(num)]
    y[-1] = stop
    return y


def np_sum(a):
    n = len(a)
    if n < 8:
        r = 0.0
        for v in a:
            r += v
        return r
    if n <= 128:
        r = list(a[:8])
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return np_sum(a[:n2]) + np_sum(a[n2:])


def argsort_desc(values):
    asc = sorted(range(len(values)), key=lambda i: values[i])  # stable, like numpy's insertion sort for n <= 16
    return asc[::-1]


def segment_iou(target, candidates):
    out = []
    for cs, ce in candidates:
        tt1 = max(target[0], cs)
        tt2 = min(target[1], ce)
        inter = max(tt2 - tt1, 0.0)
        union = (ce - cs) + (target[1] - target[0]) - inter
        out.append(inter / union)
    return out


def interpolated_prec_rec(prec, rec):
    mprec = [0.0] + prec + [0.0]
    mrec = [0.0] + rec + [1.0]
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    terms = [(mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]]
    return np_sum(terms)


def compute_ap(gt, pred, thresholds):
    """gt: list of (video, s, e); pred: list of (video, s, e, score), both in input order."""
    ap = [0.0] * len(thresholds)
    if not pred:
        return ap
    npos = float(len(gt))
    lock = [[-1] * len(gt) for _ in thresholds]
    order = argsort_desc([p[3] for p in pred])
    pred = [pred[i] for i in order]
    tp = [[0] * len(pred) for _ in thresholds]
    fp = [[0] * len(pred) for _ in thresholds]
    by_video = {}
    for g_idx, g in enumerate(gt):
        by_video.setdefault(g[0], []).append(g_idx)
    for idx, p in enumerate(pred):
        if p[0] not in by_video:
            for t in range(len(thresholds)):
                fp[t][idx] = 1
            continue
        this_gt = by_video[p[0]]
        tiou = segment_iou((p[1], p[2]), [(gt[g][1], gt[g][2]) for g in this_gt])
        sorted_idx = argsort_desc(tiou)
        for t, thr in enumerate(thresholds):
            for j in sorted_idx:
                if tiou[j] < thr:
                    fp[t][idx] = 1
                    break
                if lock[t][this_gt[j]] >= 0:
                    continue
                tp[t][idx] = 1
                lock[t][this_gt[j]] = idx
                break
            if fp[t][idx] == 0 and tp[t][idx] == 0:
                fp[t][idx] = 1
    for t in range(len(thresholds)):
        tc = fc = 0.0
        prec, rec = [], []
        for k in range(len(pred)):
            tc += tp[t][k]
            fc += fp[t][k]
            rec.append(tc / npos)
            prec.append(tc / (tc + fc))
        ap[t] = interpolated_prec_rec(prec, rec)
    return ap


def evaluate(gt, pred, thresholds):
    classes = []
    for g in gt:
        if g[3] not in classes:
            classes.append(g[3])
    ap = [[0.0] * len(classes) for _ in thresholds]
    for c, name in enumerate(classes):
        cg = [(g[0], g[1], g[2]) for g in gt if g[3] == name]
        cp = [(p[0], p[1], p[2], p[4]) for p in pred if p[3] == name]
        r = compute_ap(cg, cp, thresholds)
        for t in range(len(thresholds)):
            ap[t][c] = r[t]
    m = [np_sum(row) / len(row) for row in ap]
    return classes, ap, m, np_sum(m) / len(m)


def random_case(rng, case):
    n_videos = rng.randint(1, 4)
    n_classes = rng.choice([1, 2, 3, 9, 10])  # >= 8 classes exercises numpy's pairwise mean
    videos = ["vid%d" % v for v in range(n_videos)]
    classes = ["class%d" % c for c in range(n_classes)]
    gt, pred = [], []
    step = rng.choice([0.5, 1.0, 0.1])  # coarse grids give equal tIoUs (ties) and tIoU == threshold cases
    for c in classes:
        for v in videos:
            for _ in range(rng.randint(0, 3)):
                s = round(rng.randint(0, 60) * step, 6)
                gt.append([v, s, round(s + rng.randint(1, 20) * step, 6), c])
    if not gt:
        gt.append([videos[0], 0.0, 5.0, classes[0]])
    for c in classes + ["absent"]:
        own = [g for g in gt if g[3] == c]
        for _ in range(rng.randint(0, 12)):
            score = round(rng.randint(1, 10) / 10.0, 1)
            if own and rng.random() < 0.6:  # a jittered copy of an instance: matches at some thresholds
                g = rng.choice(own)
                s = round(g[1] + rng.randint(-3, 3) * step, 6)
                e = round(max(s + step, g[2] + rng.randint(-3, 3) * step), 6)
                pred.append([g[0], s, e, c, score])
                continue
            v = rng.choice(videos + ["novideo"])
            s = round(rng.randint(0, 60) * step, 6)
            pred.append([v, s, round(s + rng.randint(1, 20) * step, 6), c, score])
    rng.shuffle(gt)
    rng.shuffle(pred)
    return gt, pred


def main():
    rng = random.Random(20240716)
    thresholds = linspace(0.1, 0.7, 7)
    cases = []
    for k in range(40):
        gt, pred = random_case(rng, k)
        scored = [p for p in pred if p[3] != "absent"]
        classes, ap, m, avg = evaluate(gt, scored, thresholds)
        cases.append({"groundTruth": gt, "predictions": pred, "classes": classes, "ap": ap, "mAP": m, "averageMAP": avg})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "anet_cases.json")
    with open(out, "w") as f:
        json.dump({"generator": "tools/make_anet_fixture.py", "thresholds": thresholds, "cases": cases}, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
