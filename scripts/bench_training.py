"""Benchmark StyleGAN2 training steps; prints JSON with seconds per thousand images (s/kimg).

    python scripts/bench_training.py                         # CPU: the tiny and the 256 px configurations
    python scripts/bench_training.py --device cuda           # GPU: 256 px, compared with NVIDIA's figure
    python scripts/bench_training.py --configs tiny --steps 8

Configurations, with random weights and random images (the data pipeline is not timed):
- tiny: the CPU proof's network (32 px, 16/8 channels, z/w 32, batch 8; tests/stylegan2/test_training_proof.py).
- 256: NVIDIA's `--cfg=auto --aug=ada` at 256 px on one GPU (batch 16, channel_base 16384, 2 mapping
  layers, fp16 in the top 4 resolutions on CUDA, conv_clamp 256, ADA's bgc pipeline), as in
  stylegan2-ada-pytorch's table of training speeds, whose one-V100 figure at 256 px is 21.6-24.2
  s/kimg. ADA's p starts at --augment-p (default 0.2; at p = 0 the pipeline passes images through) and
  moves by batch x 4 / 500000 per 4 steps, so it stays there for the timed steps.
On a CPU the batch runs in rounds of 4 images (gradient accumulation: the same mathematics in less
memory). Each timed step is a full training step (Gmain, Dmain, and the lazy Greg/Dreg on their steps), so time
over a multiple of 16 steps after warm-up holds regularisation in its real proportion. Augmentation is
off in the tiny configuration.
"""
import argparse
import json
import time
from typing import Dict, List, Optional

import torch

from stylegan2.hardware import device_name, resolve_device
from stylegan2.training import distributed, models
from stylegan2.training.augment import build_augment
from stylegan2.training.config import TrainingConfig, auto_config
from stylegan2.training.trainer import Trainer

NVIDIA_V100_256PX_S_PER_KIMG = (21.6, 24.2)
TARGET_RATIO = 1.3
WARMUP_STEPS = {"cuda": 2, "cpu": 1}    # cudnn.benchmark chooses its kernels in the first steps
CPU_BATCH_GPU = 4
CONFIGS = {
    "tiny": (32, dict(batch=8, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=16,
                      num_fp16_res=0, augment="none")),
    "256": (256, dict(augment="ada")),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), help="default: tiny and 256 on the CPU, "
                        "256 on CUDA")
    parser.add_argument("--steps", type=int, help="timed steps per configuration (default 16; 4 for 256 px on a "
                        "CPU, where a step takes minutes)")
    parser.add_argument("--batch-gpu", type=int, help="images per accumulation round (default: the whole batch "
                        f"on CUDA, {CPU_BATCH_GPU} on a CPU, where batch 16 at 256 px needs about 12 GB)")
    parser.add_argument("--augment-p", type=float, default=0.2, help="ADA's p in the 256 px configuration "
                        "(default 0.2)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser.parse_args()


def make_config(name: str, batch_gpu: Optional[int] = None, augment_p: float = 0.0) -> TrainingConfig:
    resolution, overrides = CONFIGS[name]
    return auto_config(resolution, **overrides, batch_gpu=batch_gpu, augment_p=augment_p)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(name: str, device: torch.device, steps: int, batch_gpu: Optional[int],
               augment_p: float) -> Dict[str, float]:
    """Seconds per kimg of `steps` training steps after warm-up."""
    resolution = CONFIGS[name][0]
    config = make_config(name, batch_gpu, augment_p)
    G, D = models.new_networks(config, resolution, img_channels=3, c_dim=0)
    trainer = Trainer(config, G, D, distributed.ProcessGroup(0, 1, device), build_augment(config.augment))
    generator = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, [config.batch, 3, resolution, resolution], dtype=torch.uint8, generator=generator)
    labels = torch.zeros([config.batch, 0])
    for _ in range(WARMUP_STEPS[device.type]):
        trainer.train_step(real, labels)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(real, labels)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"s_per_kimg": seconds / (steps * config.batch / 1000), "seconds_per_step": seconds / steps,
            "steps": steps, "batch": config.batch, "batch_gpu": trainer.batch_gpu, "resolution": resolution,
            "fp16_blocks": config.num_fp16_res if device.type == "cuda" else 0, "augment": config.augment,
            "augment_p": trainer.augment_p}


def verdict(s_per_kimg: float) -> Dict[str, object]:
    """256 px against NVIDIA's one-V100 figure: ratio to both ends of its range, and the 1.3x target
    (measured s/kimg at most 1.3 x the range's upper end)."""
    low, high = NVIDIA_V100_256PX_S_PER_KIMG
    return {"nvidia_v100_s_per_kimg": [low, high],
            "ratio_to_nvidia": [round(s_per_kimg / low, 3), round(s_per_kimg / high, 3)],
            "target_met": s_per_kimg <= TARGET_RATIO * high}


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    names: List[str] = args.configs or (["256"] if device.type == "cuda" else ["tiny", "256"])
    results = {}
    for name in names:
        steps = args.steps or (4 if name == "256" and device.type == "cpu" else 16)
        batch_gpu = args.batch_gpu or (CPU_BATCH_GPU if device.type == "cpu" else None)
        results[name] = time_steps(name, device, steps, batch_gpu, args.augment_p if name == "256" else 0.0)
        if name == "256" and device.type == "cuda":
            results[name].update(verdict(results[name]["s_per_kimg"]))
    print(json.dumps({"device": str(device), "device_name": device_name(device), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
