"""One process of the 2-process CPU training run of test_training_distributed, started by torchrun.

Usage: distributed_worker.py DATA OUT_DIR SETTINGS_JSON. Trains, then saves this process's final G and D
state dicts to OUT_DIR/rank<RANK>.pt for the test to compare.
"""
import json
import os
import sys

import torch

from stylegan2.training.loop import train
from tests.stylegan2.training_fixtures import FlipPipe, run_options

if __name__ == "__main__":
    data, out_dir, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    kimg = settings.pop("total_kimg")
    result = train(run_options(data, out_dir, kimg, snapshot_kimg=kimg), settings,
                   augment_factory=lambda name: FlipPipe())
    torch.save({"G": result.G.state_dict(), "D": result.D.state_dict(), "G_ema": result.G_ema.state_dict()},
               os.path.join(out_dir, f"rank{os.environ['RANK']}.pt"))
