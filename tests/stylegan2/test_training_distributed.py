"""Data-parallel training: 2 CPU processes under torchrun with gloo against one process with the same batch.

The single process takes the global batch of 8 in two rounds of 4, the two processes one round of 4
each, so both see the same images, latents and random draws (seeded per step and round). Path-length
regularisation is off here: its running mean is per-process state (as in NVIDIA's loop, here averaged
after each step), which one process updates round after round, so that one number would differ.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegan2.training.loop import train
from tests.stylegan2.training_fixtures import TINY, FlipPipe, run_options, shape_images, write_zip

SETTINGS = dict(TINY, batch=8, G_reg_interval=2, D_reg_interval=2, pl_weight=0, style_mixing_prob=0.9,
                augment="ada", ada_target=0.0, ada_interval=1, ada_kimg=1)
KIMG = 0.032    # 4 steps
WORKER = Path(__file__).with_name("distributed_worker.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    data = write_zip(root / "shapes.zip", shape_images(24, resolution=16))
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(WORKER.parents[2]))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
               str(WORKER), str(data), str(root / "two"), json.dumps(dict(SETTINGS, total_kimg=KIMG))]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = [torch.load(root / "two" / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # as the workers (OMP_NUM_THREADS=1): the same order of float sums
    try:
        single = train(run_options(data, root / "one", KIMG), dict(SETTINGS, batch_gpu=4),
                       augment_factory=lambda name: FlipPipe())
    finally:
        torch.set_num_threads(threads)
    return ranks, single


@pytest.mark.slow
def test_replicas_stay_identical_in_every_parameter_and_buffer(runs):
    (rank0, rank1), _ = runs
    for name in ("G", "D", "G_ema"):
        for key, tensor in rank0[name].items():
            assert torch.equal(rank1[name][key], tensor), f"{name}.{key}"


@pytest.mark.slow
def test_two_processes_train_as_one_process_with_the_same_global_batch(runs):
    (rank0, _), single = runs
    for name, module in (("G", single.G), ("D", single.D), ("G_ema", single.G_ema)):
        for key, value in module.named_parameters():
            assert torch.allclose(rank0[name][key], value, rtol=1e-5, atol=1e-6), f"{name}.{key}"
