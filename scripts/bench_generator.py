"""Benchmark the StyleGAN2 generator on the FFHQ-256 configuration with random weights; prints JSON.

    python scripts/bench_generator.py                    # CPU, batches 1 and 8
    python scripts/bench_generator.py --device cuda      # fp16 in the top 4 resolutions; --fp32 to disable
    python scripts/bench_generator.py --arch stylegan3-t # StyleGAN3 (t or r) in NVIDIA's FFHQ-U 256 layout

Times the synthesis network under torch.inference_mode in two layouts, interleaved so that load from
other processes affects both alike: "fast" (`stylegan2.inference.InferenceGenerator`, the layout the app
renders with: the CPU inference layout on a CPU) and "reference" (`G.synthesis`, the NVlabs layout). Reports the median milliseconds per image over the repeats
after warm-up, the peak memory (process RSS on the CPU, allocated memory on CUDA) with the fast layout alone
and over the whole run, and the largest difference between the two layouts' images. Like `python -m app`, it
first makes malloc keep freed memory (`stylegan2.cpu_memory`); `--default-malloc` measures without that.
StyleGAN3 has no layout faster than the reference one, so its runs time the app's renderer alone
("fast_layout": "reference").
"""
import argparse
import json
import resource
import statistics
import time
from typing import Callable, Dict

import torch

from stylegan2.cpu_memory import keep_freed_memory
from stylegan2.hardware import device_name
from stylegan2.inference import InferenceGenerator
from stylegan2.testing import FFHQ_256, STYLEGAN3_FFHQU_256, make_random_generator, make_random_stylegan3

WARMUP_RUNS = 2
# --arch: (configuration, the random-weight generator in it).
ARCHITECTURES = {
    "stylegan2": (FFHQ_256, lambda: make_random_generator(**FFHQ_256)),
    "stylegan3-t": (STYLEGAN3_FFHQU_256["t"], lambda: make_random_stylegan3("t", **STYLEGAN3_FFHQU_256["t"])),
    "stylegan3-r": (STYLEGAN3_FFHQU_256["r"], lambda: make_random_stylegan3("r", **STYLEGAN3_FFHQU_256["r"])),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="stylegan2",
                        help="stylegan2 (FFHQ-256 layout, default) or stylegan3-t / stylegan3-r (FFHQ-U 256)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per batch and layout (default 7, min 5)")
    parser.add_argument("--fp32", action="store_true", help="on CUDA, run every resolution in fp32")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--fast-only", action="store_true", help="skip timing the reference layout")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave malloc's defaults (unmap freed memory), unlike python -m app")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    if min(args.batch) < 1:
        parser.error("--batch sizes must be positive")
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_layouts(ws, layouts: Dict[str, Callable], repeats: int, device: torch.device) -> dict:
    """Median seconds per call of each layout, the layouts taking turns within every repeat."""
    times = {name: [] for name in layouts}
    for run in range(WARMUP_RUNS + repeats):
        for name, render in layouts.items():
            synchronize(device)
            start = time.perf_counter()
            render(ws)
            synchronize(device)
            if run >= WARMUP_RUNS:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}



def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    args = parse_args()
    keeps_freed_memory = not args.default_malloc and keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config, make_generator = ARCHITECTURES[args.arch]
    G = make_generator().to(device)
    fp16 = device.type == "cuda" and not args.fp32
    renderer = InferenceGenerator(G)
    layouts = {"fast": lambda ws: renderer.synthesis(ws)}
    if not args.fast_only and args.arch == "stylegan2":
        layouts["reference"] = lambda ws: G.synthesis(ws, noise_mode="const", force_fp32=not fp16)

    results = []
    with torch.inference_mode():
        inputs = {}
        for batch_size in args.batch:
            z = torch.randn([batch_size, G.z_dim], generator=torch.Generator().manual_seed(batch_size))
            inputs[batch_size] = G.mapping(z.to(device), truncation_psi=0.7)
            layouts["fast"](inputs[batch_size])
        fast_peak_mb = peak_memory_mb(device)  # before the reference layout has run
        for batch_size, ws in inputs.items():
            seconds = time_layouts(ws, layouts, args.repeats, device)
            result = {"batch": batch_size}
            result.update({f"{name}_ms_per_image": round(1000 * s / batch_size, 1) for name, s in seconds.items()})
            if "reference" in seconds:
                result["speedup"] = round(seconds["reference"] / seconds["fast"], 2)
                fast_img, reference_img = layouts["fast"](ws), layouts["reference"](ws)
                result["max_abs_diff_fast_vs_reference"] = float((fast_img - reference_img).abs().max())
                result["image_max_abs"] = float(reference_img.abs().max())
            results.append(result)

    print(json.dumps({
        "benchmark": f"synthesis(ws, noise_mode='const'), {args.arch} in the "
                     f"{'FFHQ-256' if args.arch == 'stylegan2' else 'FFHQ-U 256'} configuration, random weights",
        "arch": args.arch,
        "fast_layout": renderer.layout,
        "config": config,
        "device": str(device),
        "device_name": device_name(device),
        "dtype": f"float16 in the top {config.get('num_fp16_res', 4)} resolutions" if fp16 else "float32",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "malloc_keeps_freed_memory": keeps_freed_memory,
        "repeats": args.repeats,
        "results": results,
        "peak_memory_mb": {"fast": round(fast_peak_mb, 1), "all": round(peak_memory_mb(device), 1)},
    }, indent=1))


if __name__ == "__main__":
    main()
