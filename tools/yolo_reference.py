#!/usr/bin/env python3
"""PyTorch reference of YOLO11 pose for vramfit, written from the published structure (it does NOT
import ultralytics): ultralytics/cfg/models/11/yolo11-pose.yaml (layers, scales), ultralytics/nn/tasks.py
parse_model (width/depth scaling, C3k2's c3k flag for m/l/x), ultralytics/nn/modules/{conv,block,head}.py
(Conv, DWConv, Bottleneck, C3k, C3k2, SPPF, Attention, PSABlock, C2PSA, DFL, Detect, Pose),
ultralytics/utils/tal.py (make_anchors, dist2bbox), ultralytics/utils/ops.py (non_max_suppression) and
ultralytics/utils/torch_utils.py (BatchNorm eps 1e-3). Module paths equal Ultralytics' state-dict names
(model.N.cv1.conv.weight, …), so an Ultralytics checkpoint's state dict loads into it and vramfit binds
the same safetensors file.

Jobs:
  golden     tiny goldens for tests/models/golden_test.cpp (CPU, fp32, TF32 off):
               yolo_reference.py golden --out tests/golden
             writes yolo11n_pose_tiny.{weights,io}.safetensors (scale n, one class, 17×3 keypoints,
             input [2, 3, 64, 64]); io holds "input", "output" ([2, 56, 84], the decoded head),
             "detections" ([2, 300, 57], after NMS conf 0.25, IoU 0.7, max_det 300) and the outputs of
             layers 10 (C2PSA), 16, 19, 22 as "features.N".
  reference  full-size weights + input + fp32 output for comparing `vramfit run --weights … --input …
             --save-output …` on the GPU machine:
               yolo_reference.py reference --scale n --batch 4 --imgsz 640 --out DIR [--device cuda]
  bench      PyTorch eager on the GPU (CUDA events, median after warm-up, peak allocated), JSON lines:
               yolo_reference.py bench --scales n --precisions fp16 --batches 1,32 [--nms]

Needs torch, torchvision (for ops.nms), safetensors, numpy.
"""
import argparse
import json
import math
import os
import sys

FORMAT = "vramfit-golden"
VERSION = "1"
GENERATOR = "tools/yolo_reference.py"

SCALES = {  # [depth, width, max_channels] from yolo11-pose.yaml
    "n": (0.50, 0.25, 1024),
    "s": (0.50, 0.50, 1024),
    "m": (0.50, 1.00, 512),
    "l": (1.00, 1.00, 512),
    "x": (1.00, 1.50, 512),
}


def _need_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import safetensors.torch  # noqa: F401
    except ImportError as e:
        sys.exit(f"yolo_reference.py needs torch, torchvision and safetensors: {e}")


def define_modules(torch):
    nn = torch.nn

    class Conv(nn.Module):
        """Conv2d (no bias, 'same' padding k//2) → BatchNorm2d(eps 1e-3) → SiLU (or identity)."""

        def __init__(self, c1, c2, k=1, s=1, g=1, act=True):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, groups=g, bias=False)
            self.bn = nn.BatchNorm2d(c2, eps=1e-3)
            self.act = nn.SiLU() if act else nn.Identity()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    def DWConv(c1, c2, k=1, s=1, act=True):
        return Conv(c1, c2, k, s, g=math.gcd(c1, c2), act=act)

    class Bottleneck(nn.Module):
        def __init__(self, c1, c2, shortcut=True, k=(3, 3), e=0.5):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, k[0])
            self.cv2 = Conv(c_, c2, k[1])
            self.add = shortcut and c1 == c2

        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C3k(nn.Module):
        """C3 with n Bottlenecks (k×k, e=1.0): cv3(cat(m(cv1(x)), cv2(x)))."""

        def __init__(self, c1, c2, n=1, shortcut=True, e=0.5, k=3):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, 1)
            self.cv2 = Conv(c1, c_, 1)
            self.cv3 = Conv(2 * c_, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, (k, k), 1.0) for _ in range(n)))

        def forward(self, x):
            return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class C3k2(nn.Module):
        """C2f layout: cv1 → two halves; each block reads the last output; cv2(cat(all))."""

        def __init__(self, c1, c2, n=1, c3k=False, e=0.5, shortcut=True):
            super().__init__()
            self.c = int(c2 * e)
            self.cv1 = Conv(c1, 2 * self.c, 1)
            self.cv2 = Conv((2 + n) * self.c, c2, 1)
            self.m = nn.ModuleList(
                C3k(self.c, self.c, 2, shortcut) if c3k else Bottleneck(self.c, self.c, shortcut) for _ in range(n))

        def forward(self, x):
            y = list(self.cv1(x).chunk(2, 1))
            for m in self.m:
                y.append(m(y[-1]))
            return self.cv2(torch.cat(y, 1))

    class SPPF(nn.Module):
        def __init__(self, c1, c2, k=5):
            super().__init__()
            c_ = c1 // 2
            self.cv1 = Conv(c1, c_, 1)
            self.cv2 = Conv(c_ * 4, c2, 1)
            self.m = nn.MaxPool2d(k, 1, k // 2)

        def forward(self, x):
            y = [self.cv1(x)]
            for _ in range(3):
                y.append(self.m(y[-1]))
            return self.cv2(torch.cat(y, 1))

    class Attention(nn.Module):
        def __init__(self, dim, num_heads, attn_ratio=0.5):
            super().__init__()
            self.num_heads = num_heads
            self.head_dim = dim // num_heads
            self.key_dim = int(self.head_dim * attn_ratio)
            self.scale = self.key_dim ** -0.5
            self.qkv = Conv(dim, dim + 2 * self.key_dim * num_heads, 1, act=False)
            self.proj = Conv(dim, dim, 1, act=False)
            self.pe = Conv(dim, dim, 3, g=dim, act=False)

        def forward(self, x):
            b, c, h, w = x.shape
            n = h * w
            qkv = self.qkv(x).view(b, self.num_heads, 2 * self.key_dim + self.head_dim, n)
            q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim], dim=2)
            attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
            y = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
            return self.proj(y)

    class PSABlock(nn.Module):
        def __init__(self, c, num_heads):
            super().__init__()
            self.attn = Attention(c, num_heads, 0.5)
            self.ffn = nn.Sequential(Conv(c, 2 * c, 1), Conv(2 * c, c, 1, act=False))

        def forward(self, x):
            x = x + self.attn(x)
            return x + self.ffn(x)

    class C2PSA(nn.Module):
        def __init__(self, c1, c2, n=1, e=0.5):
            super().__init__()
            assert c1 == c2
            self.c = int(c1 * e)
            self.cv1 = Conv(c1, 2 * self.c, 1)
            self.cv2 = Conv(2 * self.c, c1, 1)
            self.m = nn.Sequential(*(PSABlock(self.c, self.c // 64) for _ in range(n)))

        def forward(self, x):
            a, b = self.cv1(x).split((self.c, self.c), dim=1)
            return self.cv2(torch.cat((a, self.m(b)), 1))

    class Concat(nn.Module):
        def forward(self, xs):
            return torch.cat(xs, 1)

    class DFL(nn.Module):
        def __init__(self, c1=16):
            super().__init__()
            self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
            with torch.no_grad():
                self.conv.weight.copy_(torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1))
            self.c1 = c1

        def forward(self, x):
            b, _, a = x.shape
            return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)

    class Pose(nn.Module):
        """Detect (YOLO11 class branch with DWConv) + keypoint branch; eval output [B, 4+nc+K·D, A]."""

        def __init__(self, nc, kpt_shape, ch, strides=(8, 16, 32)):
            super().__init__()
            self.nc, self.kpt_shape, self.reg_max = nc, kpt_shape, 16
            self.nk = kpt_shape[0] * kpt_shape[1]
            self.no = nc + 4 * self.reg_max
            self.strides_l = strides
            c2 = max(16, ch[0] // 4, 4 * self.reg_max)
            c3 = max(ch[0], min(nc, 100))
            c4 = max(ch[0] // 4, self.nk)
            self.cv2 = nn.ModuleList(
                nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1)) for x in ch)
            self.cv3 = nn.ModuleList(
                nn.Sequential(nn.Sequential(DWConv(x, x, 3), Conv(x, c3, 1)),
                              nn.Sequential(DWConv(c3, c3, 3), Conv(c3, c3, 1)), nn.Conv2d(c3, nc, 1)) for x in ch)
            self.cv4 = nn.ModuleList(
                nn.Sequential(Conv(x, c4, 3), Conv(c4, c4, 3), nn.Conv2d(c4, self.nk, 1)) for x in ch)
            self.dfl = DFL(self.reg_max)

        def anchors(self, feats):
            pts, strides = [], []
            for f, s in zip(feats, self.strides_l):
                _, _, h, w = f.shape
                sy, sx = torch.meshgrid(torch.arange(h, dtype=f.dtype, device=f.device) + 0.5,
                                        torch.arange(w, dtype=f.dtype, device=f.device) + 0.5, indexing="ij")
                pts.append(torch.stack((sx, sy), -1).view(-1, 2))
                strides.append(torch.full((h * w, 1), float(s), dtype=f.dtype, device=f.device))
            return torch.cat(pts).transpose(0, 1), torch.cat(strides).transpose(0, 1)  # [2, A], [1, A]

        def forward(self, xs):
            bs = xs[0].shape[0]
            kpt = torch.cat([self.cv4[i](xs[i]).view(bs, self.nk, -1) for i in range(len(xs))], -1)
            raw = [torch.cat((self.cv2[i](xs[i]), self.cv3[i](xs[i])), 1) for i in range(len(xs))]
            anchors, strides = self.anchors(xs)
            x_cat = torch.cat([r.view(bs, self.no, -1) for r in raw], 2)
            box, cls = x_cat.split((4 * self.reg_max, self.nc), 1)
            d = self.dfl(box)
            lt, rb = d.chunk(2, 1)  # dist2bbox, xywh
            a = anchors.unsqueeze(0)
            x1y1, x2y2 = a - lt, a + rb
            dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
            y = kpt.clone()
            ndim = self.kpt_shape[1]
            if ndim == 3:
                y[:, 2::3] = y[:, 2::3].sigmoid()
            y[:, 0::ndim] = (y[:, 0::ndim] * 2.0 + (anchors[0] - 0.5)) * strides
            y[:, 1::ndim] = (y[:, 1::ndim] * 2.0 + (anchors[1] - 0.5)) * strides
            return torch.cat((dbox, cls.sigmoid(), y), 1)

    class Yolo11Pose(nn.Module):
        def __init__(self, scale="n", nc=1, kpt_shape=(17, 3)):
            super().__init__()
            depth, width, max_ch = SCALES[scale]
            mlx = scale in "mlx"

            def W(c):  # make_divisible(min(c, max_channels) * width, 8)
                return int(math.ceil(min(c, max_ch) * width / 8) * 8)

            def D(n):
                return max(round(n * depth), 1) if n > 1 else n

            up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
            c = {}
            layers = []
            c[0] = W(64); layers.append(Conv(3, c[0], 3, 2))
            c[1] = W(128); layers.append(Conv(c[0], c[1], 3, 2))
            c[2] = W(256); layers.append(C3k2(c[1], c[2], D(2), False or mlx, 0.25))
            c[3] = W(256); layers.append(Conv(c[2], c[3], 3, 2))
            c[4] = W(512); layers.append(C3k2(c[3], c[4], D(2), False or mlx, 0.25))
            c[5] = W(512); layers.append(Conv(c[4], c[5], 3, 2))
            c[6] = W(512); layers.append(C3k2(c[5], c[6], D(2), True))
            c[7] = W(1024); layers.append(Conv(c[6], c[7], 3, 2))
            c[8] = W(1024); layers.append(C3k2(c[7], c[8], D(2), True))
            c[9] = W(1024); layers.append(SPPF(c[8], c[9], 5))
            c[10] = W(1024); layers.append(C2PSA(c[9], c[10], D(2)))
            c[11] = c[10]; layers.append(up())
            c[12] = c[11] + c[6]; layers.append(Concat())
            c[13] = W(512); layers.append(C3k2(c[12], c[13], D(2), False or mlx))
            c[14] = c[13]; layers.append(up())
            c[15] = c[14] + c[4]; layers.append(Concat())
            c[16] = W(256); layers.append(C3k2(c[15], c[16], D(2), False or mlx))
            c[17] = W(256); layers.append(Conv(c[16], c[17], 3, 2))
            c[18] = c[17] + c[13]; layers.append(Concat())
            c[19] = W(512); layers.append(C3k2(c[18], c[19], D(2), False or mlx))
            c[20] = W(512); layers.append(Conv(c[19], c[20], 3, 2))
            c[21] = c[20] + c[10]; layers.append(Concat())
            c[22] = W(1024); layers.append(C3k2(c[21], c[22], D(2), True))
            layers.append(Pose(nc, kpt_shape, [c[16], c[19], c[22]]))
            self.model = nn.ModuleList(layers)
            # The yaml's "from" column: -1 is the previous layer.
            self.sources = {12: (-1, 6), 15: (-1, 4), 18: (-1, 13), 21: (-1, 10), 23: (16, 19, 22)}

        def forward(self, x):
            outs = []
            for i, m in enumerate(self.model):
                if i in self.sources:
                    x = m([outs[-1] if j == -1 else outs[j] for j in self.sources[i]])
                else:
                    x = m(x)
                outs.append(x)
            return x

    return Yolo11Pose


def non_max_suppression(torch, torchvision, pred, nc, conf=0.25, iou=0.7, max_det=300, agnostic=False):
    """Ultralytics' single-label NMS on [B, 4+nc+E, A] → [B, max_det, 6+E] (zero padded)."""
    max_wh = 7680
    b, ch, _ = pred.shape
    extras = ch - 4 - nc
    out = torch.zeros(b, max_det, 6 + extras, dtype=pred.dtype)
    for i in range(b):
        x = pred[i].transpose(0, 1)  # [A, C]
        box = x[:, :4].clone()
        box[:, :2] = x[:, :2] - x[:, 2:4] / 2  # xywh2xyxy
        box[:, 2:4] = x[:, :2] + x[:, 2:4] / 2
        scores, cls = x[:, 4:4 + nc].max(1, keepdim=True)
        rows = torch.cat((box, scores, cls.to(x.dtype), x[:, 4 + nc:]), 1)[scores.view(-1) > conf]
        if rows.shape[0] == 0:
            continue
        offset = rows[:, 5:6] * (0 if agnostic else max_wh)
        keep = torchvision.ops.nms(rows[:, :4] + offset, rows[:, 4], iou)[:max_det]
        out[i, :keep.numel()] = rows[keep]
    return out


def randomise(torch, model, seed):
    """Seeded weights with BN statistics and affine randomised (Ultralytics starts BN at identity,
    which would hide a wrong BN or a missing fold), rounded to fp16 so F16 storage is exact."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, mod in model.named_modules():
            # He-normal convolutions (std √(2/fan_in), fan_in = in/groups·k·k): torch's default
            # (kaiming_uniform with a = √5, std 1/√(3·fan_in)) shrinks the activations layer after layer,
            # and a network whose features fade tests little. The DFL keeps its fixed bins.
            if isinstance(mod, torch.nn.Conv2d) and not name.endswith("dfl.conv"):
                fan_in = mod.weight[0].numel()
                mod.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(0.1 * torch.randn(c))
                mod.running_var.copy_(0.5 + torch.rand(c))
                mod.weight.copy_(1.0 + 0.1 * torch.randn(c))
                mod.bias.copy_(0.1 * torch.randn(c))
            elif isinstance(mod, torch.nn.Conv2d) and mod.bias is not None:
                mod.bias.normal_(0.0, 0.5)
        # The class logits: large enough weights that the scores spread over (0, 1) instead of clustering
        # at one value, so that NMS's order is decided by clear gaps, not by rounding.
        for branch in model.model[-1].cv3:
            branch[2].weight.normal_(0.0, 0.1)
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def state_dict_f16(torch, model):
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        h = v.detach().half().contiguous()
        if not torch.equal(h.float(), v.float()):
            raise ValueError(f"{k} is not exactly representable in fp16")
        sd[k] = h
    return sd


def nms_is_stable(torch, torchvision, pred, nc, trials=16, rel=1e-5):
    """True when NMS keeps the same boxes in the same order under relative perturbations of `rel`
    (100× the fp32 differences between two correct implementations): a golden whose decisions sit on
    a threshold or a tie would test rounding, not NMS."""
    base = non_max_suppression(torch, torchvision, pred, nc)
    gen = torch.Generator().manual_seed(1234)
    for _ in range(trials):
        noisy = pred * (1 + rel * torch.randn(pred.shape, generator=gen, dtype=pred.dtype))
        d = non_max_suppression(torch, torchvision, noisy, nc)
        if not torch.equal(d[..., 4] > 0, base[..., 4] > 0) or float((d - base).norm() / base.norm()) > 1e-3:
            return False
    return True


def golden(args):
    import torch
    import torchvision
    from safetensors.torch import load_file, save_file

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True)
    torch.set_grad_enabled(False)
    Model = define_modules(torch)
    name, batch, size = "yolo11n_pose_tiny", 2, 64
    torch.manual_seed(args.seed)  # the convolutions' default initialisation draws from the global generator
    model = Model("n", nc=1).eval()
    randomise(torch, model, args.seed)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(args.seed + 1))
    # The decoded output is dominated by anchor positions × strides, which do not depend on the
    # network; the inner feature maps (C2PSA's output and the three maps the head reads) are stored too,
    # so a wrong block shows at full strength.
    features = {}
    hooks = [model.model[i].register_forward_hook(lambda m, inp, o, i=i: features.__setitem__(f"features.{i}", o.contiguous()))
             for i in (10, 16, 19, 22)]
    out = model(x).contiguous()
    for h in hooks:
        h.remove()
    out64 = Model("n", nc=1).double().eval()
    out64.load_state_dict(model.state_dict())
    ref64 = out64(x.double())
    fp32_err = float((out.double() - ref64).norm() / ref64.norm())
    if not torch.isfinite(out).all() or float(out.std()) < 1e-3:
        raise ValueError("output is not finite or nearly constant")
    dets = non_max_suppression(torch, torchvision, out, 1)
    kept = [(int((dets[i, :, 4] > 0).sum())) for i in range(batch)]
    stable = nms_is_stable(torch, torchvision, out, 1)
    if min(kept) < 2 or not stable:
        raise ValueError(f"degenerate NMS golden (kept {kept}, stable under 1e-5 perturbations: {stable}); "
                         "try another --seed")
    meta = {"format": FORMAT, "version": VERSION, "generator": GENERATOR, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "seed": str(args.seed),
            "model": f"YOLO11n-pose (tools/yolo_reference.py, nc=1, kpt 17x3), input [{batch}, 3, {size}, {size}]; "
                     "BN statistics/affine and head biases randomised; NMS conf 0.25 IoU 0.7 max_det 300"}
    os.makedirs(args.out, exist_ok=True)
    w_path = os.path.join(args.out, f"{name}.weights.safetensors")
    io_path = os.path.join(args.out, f"{name}.io.safetensors")
    weights = state_dict_f16(torch, model)
    save_file(weights, w_path + ".tmp", metadata=meta)
    os.replace(w_path + ".tmp", w_path)
    save_file({"input": x.contiguous(), "output": out, "detections": dets.contiguous(), **features}, io_path + ".tmp",
              metadata=meta)
    os.replace(io_path + ".tmp", io_path)
    # Reload into a fresh model: the names bind strictly (nothing missing, nothing unexpected).
    fresh = Model("n", nc=1).eval()
    res = fresh.load_state_dict({k: v.float() for k, v in load_file(w_path).items()}, strict=False)
    bad = [k for k in res.missing_keys if not k.endswith("num_batches_tracked")]
    if bad or res.unexpected_keys:
        raise ValueError(f"reload mismatch: missing {bad}, unexpected {res.unexpected_keys}")
    again = fresh(load_file(io_path)["input"])
    print(f"{name}: {sum(v.numel() for v in weights.values())} values in {len(weights)} tensors -> {w_path}")
    print(f"  output {list(out.shape)} std {float(out.std()):.4g}; fp32 vs fp64 relative L2 {fp32_err:.3g}; "
          f"reload {float((again - out).norm() / out.norm()):.3g}")
    print(f"  detections kept per image {kept}, the same under 1e-5 relative perturbations -> {io_path}")


def reference(args):
    import numpy as np
    import torch
    from safetensors.torch import save_file

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_grad_enabled(False)
    Model = define_modules(torch)
    torch.manual_seed(args.seed)
    model = Model(args.scale, nc=1).eval()
    randomise(torch, model, args.seed)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"yolo11{args.scale}-pose")
    save_file(state_dict_f16(torch, model), stem + ".safetensors")
    x = torch.randn(args.batch, 3, args.imgsz, args.imgsz, generator=torch.Generator().manual_seed(args.seed + 1))
    np.save(stem + ".input.npy", x.numpy())
    dev = torch.device(args.device)
    model = model.to(dev)
    out = {"model": f"yolo11{args.scale}-pose", "batch": args.batch, "imgsz": args.imgsz}
    y32 = model(x.to(dev)).float().cpu()
    np.save(stem + ".output.npy", y32.numpy())
    out["output_rms"] = float(y32.pow(2).mean().sqrt())
    if dev.type == "cuda":
        for name, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            y = model.to(dt)(x.to(dev, dt)).float().cpu()
            out[f"{name}_rel_l2_vs_fp32"] = float((y - y32).norm() / y32.norm())
            np.save(f"{stem}.output_{name}.npy", y.numpy())
            model = model.float()
    print(json.dumps(out))
    print(f"compare: vramfit run -m yolo11{args.scale}-pose -p fp32 -b {args.batch} --weights {stem}.safetensors "
          f"--input {stem}.input.npy --save-output ours.npy && python3 tools/compare_outputs.py ours.npy "
          f"{stem}.output.npy --tol 1e-4", file=sys.stderr)


def bench(args):
    import torch
    import torchvision

    torch.backends.cudnn.benchmark = True
    torch.set_grad_enabled(False)
    Model = define_modules(torch)
    dev = torch.device("cuda")
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    for scale in args.scales.split(","):
        for prec in args.precisions.split(","):
            dt = dtypes[prec]
            model = Model(scale, nc=1).eval().to(dev, dt)
            if args.channels_last:
                model = model.to(memory_format=torch.channels_last)
            for b in [int(v) for v in args.batches.split(",")]:
                x = torch.randn(b, 3, args.imgsz, args.imgsz, device=dev, dtype=dt)
                if args.channels_last:
                    x = x.to(memory_format=torch.channels_last)

                def step():
                    y = model(x)
                    if args.nms:
                        non_max_suppression(torch, torchvision, y.float().cpu(), 1)
                    return y

                for _ in range(args.warmup):
                    step()
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                times = []
                for _ in range(args.iterations):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                    step()
                    e.record()
                    torch.cuda.synchronize()
                    times.append(s.elapsed_time(e))
                times.sort()
                print(json.dumps({"model": f"yolo11{scale}-pose", "precision": prec, "batch": b, "imgsz": args.imgsz,
                                  "nms": args.nms, "channels_last": args.channels_last,
                                  "median_ms": times[len(times) // 2], "min_ms": times[0],
                                  "images_per_s": b * 1000.0 / times[len(times) // 2],
                                  "peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20,
                                  "torch": torch.__version__}), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="job", required=True)
    g = sub.add_parser("golden")
    g.add_argument("--out", default="tests/golden")
    g.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("reference")
    r.add_argument("--scale", default="n", choices=sorted(SCALES))
    r.add_argument("--batch", type=int, default=4)
    r.add_argument("--imgsz", type=int, default=640)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="cuda")
    r.add_argument("--out", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--scales", default="n")
    b.add_argument("--precisions", default="fp16")
    b.add_argument("--batches", default="1,32")
    b.add_argument("--imgsz", type=int, default=640)
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--iterations", type=int, default=50)
    b.add_argument("--channels-last", action="store_true")
    b.add_argument("--nms", action="store_true", help="include NMS (on the host, as Ultralytics' predictor does)")
    args = ap.parse_args(argv)
    _need_torch()
    {"golden": golden, "reference": reference, "bench": bench}[args.job](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
