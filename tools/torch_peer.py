#!/usr/bin/env python3
"""PyTorch peer and reference for vramfit on the GPU machine (needs torch, torchvision, safetensors, numpy).

Two jobs:
  reference  build a torchvision model with seeded random weights (BN statistics and the classifier
             randomised so nothing is trivially zero), save the weights (safetensors, torchvision
             names), a random input (.npy) and PyTorch's fp32 output (.npy, TF32 off) for vramfit to
             compare against:  torch_peer.py reference --model resnet50 --batch 8 --out DIR
  bench      time PyTorch eager on the same GPU (CUDA events, median of N after warm-up) and report
             peak allocated memory, as JSON lines:  torch_peer.py bench --models resnet50,vit-b16
             --precisions fp32,fp16,bf16 --batches 1,8,64,256
"""
import argparse
import json
import os
import sys


def build(torch, torchvision, name, seed):
    torch.manual_seed(seed)
    if name == "resnet50":
        m = torchvision.models.resnet50()
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(0.1 * torch.randn(c))
                mod.running_var.copy_(0.5 + torch.rand(c))
                mod.weight.data.copy_(1.0 + 0.1 * torch.randn(c))
                mod.bias.data.copy_(0.1 * torch.randn(c))
    elif name == "vit-b16":
        m = torchvision.models.vit_b_16()
        with torch.no_grad():
            m.class_token.normal_(0.0, 0.5)
            m.heads.head.weight.normal_(0.0, 768 ** -0.5)
            m.heads.head.bias.normal_(0.0, 0.1)
    else:
        sys.exit(f"unknown model {name}")
    return m.eval()


def reference(args):
    import numpy as np
    import torch
    import torchvision
    from safetensors.torch import save_file

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    m = build(torch, torchvision, args.model, args.seed)
    os.makedirs(args.out, exist_ok=True)
    sd = {k: v.contiguous() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(sd, os.path.join(args.out, f"{args.model}.safetensors"))
    g = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, 3, 224, 224, generator=g)
    np.save(os.path.join(args.out, f"{args.model}.input.npy"), x.numpy())
    m = m.cuda()
    with torch.inference_mode():
        y32 = m(x.cuda()).float().cpu()
        out = {"model": args.model, "batch": args.batch, "output_rms": float(y32.pow(2).mean().sqrt())}
        for name, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            y = m.to(dt)(x.cuda().to(dt)).float().cpu()
            m = m.float()
            out[f"torch_{name}_vs_fp32_rel_l2"] = float((y - y32).norm() / y32.norm())
    np.save(os.path.join(args.out, f"{args.model}.output.npy"), y32.numpy())
    print(json.dumps(out))


def bench_one(torch, torchvision, model, precision, batch, channels_last, strict_fp32, warmup, iterations):
    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    # PyTorch defaults: cuDNN may use TF32 for convolutions; matmuls not. strict_fp32 turns both off.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = not strict_fp32
    m = build(torch, torchvision, model, 0).cuda().to(dt)
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=dt)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = True
    with torch.inference_mode():
        for _ in range(warmup):
            m(x)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        times = []
        for _ in range(iterations):
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record()
            m(x)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        peak = torch.cuda.max_memory_allocated()
    del m, x
    torch.cuda.empty_cache()
    times.sort()
    return {"peer": "torch-eager" + ("-channels_last" if channels_last else ""), "model": model,
            "precision": precision, "batch": batch, "median_ms": times[len(times) // 2],
            "min_ms": times[0], "peak_allocated_bytes": peak, "weights_and_input_bytes": base,
            "peak_activation_bytes": peak - base, "strict_fp32": strict_fp32}


def bench(args):
    """Every model × precision × batch in one process (one torch import): fp32 with TF32 off
    (strict, vramfit's fp32) and PyTorch's default (TF32 convolutions); fp16 also channels_last."""
    import torch
    import torchvision

    for model in args.models.split(","):
        for batch in [int(b) for b in args.batches.split(",")]:
            for precision in args.precisions.split(","):
                variants = [(False, True)] if precision == "fp32" else [(False, False)]
                if precision == "fp32" and args.torch_default_fp32:
                    variants.append((False, False))
                if precision == "fp16":
                    variants.append((True, False))
                for channels_last, strict in variants:
                    r = bench_one(torch, torchvision, model, precision, batch, channels_last, strict,
                                  args.warmup, args.iterations)
                    print(json.dumps(r), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference")
    r.add_argument("--model", required=True)
    r.add_argument("--batch", type=int, default=8)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--models", default="resnet50,vit-b16")
    b.add_argument("--precisions", default="fp32,fp16,bf16")
    b.add_argument("--batches", default="1,8,64,256")
    b.add_argument("--torch-default-fp32", action="store_true", help="also time fp32 with PyTorch's default TF32 convolutions")
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--iterations", type=int, default=30)
    args = ap.parse_args()
    reference(args) if args.cmd == "reference" else bench(args)


if __name__ == "__main__":
    main()
