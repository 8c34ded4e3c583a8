#!/usr/bin/env python3
"""Generate vramfit's PyTorch golden files (tests/golden), read by tests/models/golden_test.cpp.

For each model, torchvision's own classes build it; weights are seeded, made non-trivial where
torchvision initialises them to constants (BatchNorm statistics and affine, ViT class token and
position embedding, zero-initialised biases and head), rounded to fp16 and back so the weights file
can be stored as F16 exactly, and the output is computed in fp32 on the CPU (TF32 off, deterministic
algorithms) for a random-normal input batch of 2.

Writes, per model NAME:
  NAME.weights.safetensors  F16, torchvision state-dict names (num_batches_tracked dropped)
  NAME.io.safetensors       F32 "input" and "output"
both with __metadata__ {format: vramfit-golden, version: 1, generator, torch, torchvision, model}.

Needs torch, torchvision, safetensors and numpy. Usage:
  python3 tools/make_goldens.py --out tests/golden
"""

import argparse
import copy
import os
import sys

FORMAT = "vramfit-golden"
VERSION = "1"
GENERATOR = "tools/make_goldens.py"
BATCH = 2


def _import_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import safetensors.torch  # noqa: F401
    except ImportError as e:  # a clear message instead of a traceback
        sys.exit(f"make_goldens.py needs torch, torchvision and safetensors: {e}")


def set_deterministic(torch):
    # fp32 means fp32: no TF32 in matmul or convolutions (DESIGN.md "Precision semantics").
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.use_deterministic_algorithms(True)


def randomise_batchnorm(torch, model):
    """torchvision starts BN at mean 0, var 1, weight 1, bias 0, which would let a wrong BN
    (or a missing fold) pass unnoticed; give every statistic a value of its own."""
    n = 0
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(0.1 * torch.randn(c))
            mod.running_var.copy_(0.5 + torch.rand(c))  # U(0.5, 1.5)
            mod.weight.copy_(1.0 + 0.1 * torch.randn(c))
            mod.bias.copy_(0.1 * torch.randn(c))
            n += 1
    return n


def randomise_layernorm(torch, model):
    n = 0
    for mod in model.modules():
        if isinstance(mod, torch.nn.LayerNorm):
            mod.weight.copy_(1.0 + 0.1 * torch.randn_like(mod.weight))
            mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
            n += 1
    return n


def round_to_fp16(torch, model):
    """Round every floating parameter and buffer to fp16 and back, so F16 storage is exact."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            h = t.half()
            if not torch.isfinite(h).all():
                raise ValueError("a weight does not fit fp16")
            t.copy_(h.float())


def build_resnet(torch, torchvision):
    from torchvision.models.resnet import Bottleneck, ResNet

    model = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=16)
    with torch.no_grad():
        randomise_batchnorm(torch, model)
    desc = ("torchvision.models.resnet.ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, groups=1, "
            f"width_per_group=16); input [{BATCH}, 3, 64, 64]; BN stats and affine randomised")
    return model, (BATCH, 3, 64, 64), desc


def build_vit(torch, torchvision):
    from torchvision.models.vision_transformer import VisionTransformer

    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64,
                              mlp_dim=128, num_classes=10)
    with torch.no_grad():
        # torchvision: class token zeros, position embedding N(0, 0.02), MHA and conv_proj biases
        # zeros, MLP biases N(0, 1e-6), head weight and bias zeros. With those the output would be
        # all zeros and a misplaced class token or position embedding invisible; std 0.5 makes
        # them matter.
        model.class_token.normal_(0.0, 0.5)
        model.encoder.pos_embedding.normal_(0.0, 0.5)
        randomise_layernorm(torch, model)
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.1)
        head = model.heads.head
        head.weight.normal_(0.0, head.in_features ** -0.5)
    desc = ("torchvision.models.vision_transformer.VisionTransformer(image_size=32, patch_size=8, "
            "num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10); "
            f"input [{BATCH}, 3, 32, 32]; class token, pos embedding (std 0.5), LayerNorms, biases "
            "and head randomised")
    return model, (BATCH, 3, 32, 32), desc


MODELS = {
    "resnet_tiny": build_resnet,
    "vit_tiny": build_vit,
}


def relative_l2(torch, a, ref):
    a = a.double()
    ref = ref.double()
    den = torch.linalg.vector_norm(ref)
    return float(torch.linalg.vector_norm(a - ref) / den) if den > 0 else float("inf")


def save_atomic(save_file, tensors, path, metadata):
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    os.replace(tmp, path)


def make_one(torch, torchvision, name, builder, out_dir, seed):
    from safetensors.torch import load_file, save_file

    torch.manual_seed(seed)
    model, input_shape, desc = builder(torch, torchvision)
    model.eval()
    with torch.no_grad():
        round_to_fp16(torch, model)

    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(*input_shape, generator=gen, dtype=torch.float32)
    # How far fp32 itself is from exact, as a yardstick for the test's 1e-4 tolerance.
    model64 = copy.deepcopy(model).double()
    with torch.inference_mode():
        out = model(x).float().contiguous()
        out64 = model64(x.double())
    fp32_err = relative_l2(torch, out, out64)
    if not torch.isfinite(out).all():
        raise ValueError(f"{name}: output is not finite")
    if float(out.std()) < 1e-3:
        raise ValueError(f"{name}: output is nearly constant (std {float(out.std()):.3g}); the golden would "
                         "not test anything")

    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "generator": GENERATOR,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "model": desc,
        "seed": str(seed),
    }
    weights = {}
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        h = t.detach().half().contiguous()
        if not torch.equal(h.float(), t.float()):
            raise ValueError(f"{name}: {key} is not exactly representable in fp16 after rounding")
        weights[key] = h
    os.makedirs(out_dir, exist_ok=True)
    w_path = os.path.join(out_dir, f"{name}.weights.safetensors")
    io_path = os.path.join(out_dir, f"{name}.io.safetensors")
    save_atomic(save_file, weights, w_path, metadata)
    save_atomic(save_file, {"input": x.contiguous(), "output": out}, io_path, metadata)

    # Read the files back into a fresh model: proves the names and values bind the way the C++ test
    # will bind them (strict except for the dropped counters).
    torch.manual_seed(seed + 12345)
    fresh, _, _ = builder(torch, torchvision)
    fresh.eval()
    loaded = {k: v.float() for k, v in load_file(w_path).items()}
    result = fresh.load_state_dict(loaded, strict=False)
    bad_missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if bad_missing or result.unexpected_keys:
        raise ValueError(f"{name}: reload mismatch: missing {bad_missing}, unexpected {result.unexpected_keys}")
    io = load_file(io_path)
    with torch.inference_mode():
        again = fresh(io["input"])
    reload_err = relative_l2(torch, again, io["output"])
    if reload_err > 1e-6:
        raise ValueError(f"{name}: reloaded model differs from the saved output (relative L2 {reload_err:.3g})")

    n_params = sum(v.numel() for v in weights.values())
    print(f"{name}: {desc}")
    print(f"  weights: {len(weights)} tensors, {n_params} values, {os.path.getsize(w_path)} bytes -> {w_path}")
    print(f"  input {list(x.shape)} norm {float(x.norm()):.6g}; output {list(out.shape)} norm "
          f"{float(out.norm()):.6g} std {float(out.std()):.6g}; top-1 {out.argmax(dim=1).tolist()}")
    print(f"  fp32 vs fp64 relative L2 {fp32_err:.3g}; reload relative L2 {reload_err:.3g} -> {io_path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/golden", help="output folder (default: tests/golden)")
    parser.add_argument("--models", nargs="*", default=sorted(MODELS), choices=sorted(MODELS),
                        help="which goldens to make (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for weights and input (default: 0)")
    args = parser.parse_args(argv)

    _import_torch()
    import torch
    import torchvision

    set_deterministic(torch)
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, computing on the CPU in fp32")
    for name in args.models:
        with torch.no_grad():
            make_one(torch, torchvision, name, MODELS[name], args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
