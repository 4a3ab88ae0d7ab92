"""Benchmark the generator's synthesis in every backend and precision asked for, against NVIDIA's fp32 layout
in the same run; prints JSON.

    python scripts/bench_generator.py                                  # CPU: torch fp32 and bf16, ONNX; batch 1, 8
    python scripts/bench_generator.py --device cuda --resolution 256 512 1024 \\
        --backend torch onnx tensorrt --precision fp32 fp16            # a GPU: builds TensorRT engines with trtexec
    python scripts/bench_generator.py --arch stylegan3-t               # StyleGAN3 (torch only) in FFHQ-U 256

Every combination (backend, precision) and the baseline, NVIDIA's layout in fp32 ("reference/fp32"), render the
same latents, taking turns within every repeat so that load from other processes affects them alike; each
reports the median milliseconds per image after warm-up, its time as a fraction of the baseline's, and its
quality against the baseline's images (PSNR over the [-1, 1] range, largest absolute difference). Random
weights, rescaled to a trained model's output range (`stylegan2.testing.fit_output_range`); speed does not
depend on the weights, quality does only somewhat. A combination that cannot run here is listed with why.
Like `python -m app`, malloc keeps freed memory (`stylegan2.cpu_memory`); --default-malloc measures without.
"""
import argparse
import json
import math
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch

from stylegan2.cpu_memory import keep_freed_memory
from stylegan2.hardware import device_name
from stylegan2.inference import BackendUnavailable, InferenceGenerator
from stylegan2.inference.export import export_onnx
from stylegan2.inference.quality import compare
from stylegan2.inference.tensorrt_backend import find_trtexec, trtexec_command
from stylegan2.testing import (
    FFHQ_256,
    STYLEGAN3_FFHQU_256,
    fit_output_range,
    make_random_generator,
    make_random_stylegan3,
)

WARMUP_RUNS = 2
# NVIDIA's FFHQ layouts by resolution (stylegan2-ada-pytorch's paper256 / paper512 / stylegan2 configs).
FFHQ = {256: FFHQ_256, 512: dict(FFHQ_256, resolution=512, channel_base=32768),
        1024: dict(FFHQ_256, resolution=1024, channel_base=32768)}
TINY = dict(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channel_base=512, channel_max=32, num_fp16_res=2,
            conv_clamp=256)                                           # --tiny: for checking the script quickly
BASELINE = ("reference", "fp32")
TARGET_OF_BASELINE = 0.35        # The target on the CPU: the best at most 0.35 of the baseline's time,
MIN_PSNR_DB = 35.0               # with bf16/fp16 at least this PSNR against fp32,
ONNX_MAX_ABS_DIFF = 1e-3         # and fp32 exports within this of it.


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--arch", choices=["stylegan2", "stylegan3-t", "stylegan3-r"], default="stylegan2")
    parser.add_argument("--resolution", type=int, nargs="+", default=[256], choices=sorted(FFHQ),
                        help="StyleGAN2 FFHQ layouts to time (default 256)")
    parser.add_argument("--backend", nargs="+", default=["torch", "onnx"], choices=["torch", "onnx", "tensorrt"])
    parser.add_argument("--precision", nargs="+", default=None, choices=["fp32", "fp16", "bf16"],
                        help="default: fp32 and bf16 on the CPU, fp32 and fp16 on CUDA")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per batch and combination (min 5)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tiny", action="store_true", help="a 32 px network instead (checks the script)")
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


def time_renderers(ws: torch.Tensor, renderers: Dict[str, Callable], repeats: int, device: torch.device) -> dict:
    """Median seconds per call of each renderer, the renderers taking turns within every repeat."""
    times = {name: [] for name in renderers}
    for run in range(WARMUP_RUNS + repeats):
        for name, render in renderers.items():
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


def build_engine(G: torch.nn.Module, onnx_file: Path, precision: str, max_batch: int, folder: Path) -> Path:
    """A TensorRT engine for the benchmark, built with trtexec (minutes)."""
    trtexec = find_trtexec()
    if trtexec is None:
        raise BackendUnavailable("trtexec is not installed")
    engine = folder / f"synthesis-{precision}.engine"
    command = trtexec_command(onnx_file, engine, precision, G.num_ws, G.w_dim, max_batch, trtexec)
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        raise BackendUnavailable(f"trtexec failed: {' '.join(command)}")
    return engine


def renderers_for(G: torch.nn.Module, backends: List[str], precisions: List[str], max_batch: int,
                  folder: Path) -> Tuple[Dict[str, InferenceGenerator], Dict[str, str]]:
    """{name: renderer} for every combination that can run here, and {name: why not} for the others."""
    renderers, skipped, onnx_file = {}, {}, None
    for backend in backends:
        for precision in precisions:
            name = f"{backend}/{precision}"
            try:
                if backend == "torch":
                    renderers[name] = InferenceGenerator(G, precision=precision)
                    continue
                if onnx_file is None:
                    onnx_file = export_onnx(G.synthesis, folder / "synthesis.onnx")
                exported = onnx_file if backend == "onnx" else build_engine(G, onnx_file, precision, max_batch, folder)
                renderers[name] = InferenceGenerator(G, backend=backend, precision=precision, exported_file=exported)
            except (ValueError, BackendUnavailable) as error:
                skipped[name] = str(error)
    return renderers, skipped


def best(row: dict) -> dict:
    """The fastest combination whose quality meets the targets (PSNR >= MIN_PSNR_DB against fp32, or within
    ONNX_MAX_ABS_DIFF for an fp32 export), and whether it takes at most TARGET_OF_BASELINE of the baseline's time."""
    baseline = "/".join(BASELINE)
    good = {name: figures for name, figures in row.items()
            if isinstance(figures, dict) and name != baseline
            and ((figures["psnr_db"] is None or figures["psnr_db"] >= MIN_PSNR_DB)
                 and (not name.endswith("/fp32") or figures["max_abs_diff"] <= ONNX_MAX_ABS_DIFF))}
    if not good:
        return {"name": None, "target_met": False}
    name = min(good, key=lambda key: good[key]["of_baseline_time"])
    return {"name": name, "of_baseline_time": good[name]["of_baseline_time"],
            "target_met": good[name]["of_baseline_time"] <= TARGET_OF_BASELINE}


def bench_network(G: torch.nn.Module, args: argparse.Namespace, device: torch.device, precisions: List[str]) -> dict:
    backends = args.backend if args.arch == "stylegan2" else ["torch"]
    with tempfile.TemporaryDirectory() as folder:
        renderers, skipped = renderers_for(G, backends, precisions, max(args.batch), Path(folder))
        reference = InferenceGenerator(G, layout="reference", precision="fp32")
        calls = {"/".join(BASELINE): reference.synthesis}
        calls.update({name: renderer.synthesis for name, renderer in renderers.items()})
        results = []
        for batch_size in args.batch:
            z = torch.randn([batch_size, G.z_dim], generator=torch.Generator().manual_seed(batch_size))
            with torch.no_grad():
                ws = G.mapping(z.to(device), truncation_psi=0.7)
            seconds = time_renderers(ws, calls, args.repeats, device)
            baseline_images = calls["/".join(BASELINE)](ws)
            row = {"batch": batch_size}
            for name, call in calls.items():
                quality = compare(call(ws), baseline_images)
                row[name] = {"ms_per_image": round(1000 * seconds[name] / batch_size, 1),
                             "of_baseline_time": round(seconds[name] / seconds["/".join(BASELINE)], 3),
                             "psnr_db": round(quality["psnr_db"], 1) if math.isfinite(quality["psnr_db"]) else None,
                             "max_abs_diff": round(quality["max_abs_diff"], 6)}
            row["best"] = best(row)
            results.append(row)
        return {"renderers": {name: renderer.describe() for name, renderer in renderers.items()},
                "skipped": skipped, "results": results, "peak_memory_mb": round(peak_memory_mb(device), 1)}


def main() -> None:
    args = parse_args()
    keeps_freed_memory = not args.default_malloc and keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precisions = args.precision or (["fp32", "fp16"] if device.type == "cuda" else ["fp32", "bf16"])
    networks = {}
    if args.arch != "stylegan2":
        config = STYLEGAN3_FFHQU_256[args.arch[-1]]
        networks[f"{args.arch} FFHQ-U 256"] = (config, lambda: make_random_stylegan3(args.arch[-1], **config))
    elif args.tiny:
        networks["tiny 32"] = (TINY, lambda: make_random_generator(**TINY))
    else:
        for resolution in args.resolution:
            networks[f"FFHQ-{resolution}"] = (FFHQ[resolution], lambda r=resolution: make_random_generator(**FFHQ[r]))
    report = {}
    for name, (config, make) in networks.items():
        G = fit_output_range(make()).to(device)
        report[name] = {"config": config, **bench_network(G, args, device, precisions)}
    print(json.dumps({
        "benchmark": "synthesis(ws, noise_mode='const') per backend and precision against NVIDIA's layout in fp32 "
                     "(reference/fp32), random weights in NVIDIA's layouts",
        "device": str(device), "device_name": device_name(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "malloc_keeps_freed_memory": keeps_freed_memory,
        "repeats": args.repeats, "networks": report,
    }, indent=1))


if __name__ == "__main__":
    main()
