"""One step of the StyleGAN2 objective against NVIDIA's StyleGAN2Loss (golden/nvlabs_loss_step).

The protocol is the golden's meta.json "call": G and D in train mode, no optimiser step between the
phases (only w_avg and pl_mean carry over), Gmain, Greg, Dmain, Dreg, Greg2 in this order, each with
only its own network requiring grad, constant noise and the stored path-length noise. Tolerances are
the golden README's: losses per array <= 1e-4 x max|ref| + 1e-8; gradients per file <= 1e-4 x the
file's max|ref| and per tensor <= 1e-4 x the tensor's max|ref| + 1e-9.
"""
import json

import numpy as np
import pytest
import torch

from stylegan2 import Generator
from stylegan2.discriminator import Discriminator
from stylegan2.training.loss import StyleGAN2Loss

PHASES = ["Gmain", "Greg", "Dmain", "Dreg", "Greg2"]
# NVIDIA names a tensor `_gen_ws` where it goes unused; StyleGAN2Loss returns it as gen_ws.
RETURNED_AS = {"_gen_ws": "gen_ws"}


def npz(path):
    with np.load(path) as arrays:
        return {key: torch.from_numpy(value) for key, value in arrays.items()}


@pytest.fixture(scope="module")
def golden(shared_file):
    folder = shared_file("golden/nvlabs_loss_step")
    return folder, json.loads((folder / "meta.json").read_text())


@pytest.fixture(scope="module")
def step(golden):
    """Run the five phases once as the golden did; returns {phase: (returned tensors, grads, pl_mean, w_avg)}."""
    folder, meta = golden
    torch.manual_seed(0)
    G = Generator(**meta["G_init_kwargs"])
    D = Discriminator(**meta["D_init_kwargs"])
    G.load_state_dict(npz(folder / "G_state_dict.npz"), strict=True)
    D.load_state_dict(npz(folder / "D_state_dict.npz"), strict=True)
    G.train().requires_grad_(False)
    D.train().requires_grad_(False)
    kwargs = meta["loss_kwargs"]
    assert kwargs["augment_pipe"] is None
    loss = StyleGAN2Loss(G, D, style_mixing_prob=kwargs["style_mixing_prob"], r1_gamma=kwargs["r1_gamma"],
                         pl_batch_shrink=kwargs["pl_batch_shrink"], pl_decay=kwargs["pl_decay"],
                         pl_weight=kwargs["pl_weight"], noise_mode="const")
    inputs = npz(folder / "inputs.npz")
    results = {}
    for phase in PHASES:
        module = G if phase.startswith("G") else D
        for parameter in module.parameters():
            parameter.grad = None
        w_avg_before, pl_mean_before = G.mapping.w_avg.clone(), loss.pl_mean.clone()
        module.requires_grad_(True)
        returned = loss.accumulate_gradients(phase.rstrip("2"), inputs["real_img"], inputs["real_c"],
                                             inputs["gen_z"], inputs["gen_c"], gain=1, pl_noise=inputs["pl_noise_raw"])
        module.requires_grad_(False)
        returned.update(w_avg_before=w_avg_before, w_avg_after=G.mapping.w_avg.clone(),
                        pl_mean_before=pl_mean_before, pl_mean_after=loss.pl_mean.clone(),
                        objective=objective(phase, returned))
        grads = {name: p.grad for name, p in module.named_parameters()}
        results[phase] = returned, grads
    return results


def objective(phase, returned):
    """The scalar whose gradient the phase accumulates (meta.json "formulas")."""
    if phase == "Gmain":
        return returned["loss_Gmain"].mean()
    if phase.startswith("Greg"):
        return returned["loss_Gpl"].mean()
    if phase == "Dmain":
        return returned["loss_Dgen"].mean() + returned["loss_Dreal"].mean()
    return returned["loss_Dr1"].mean()


@pytest.mark.parametrize("phase", PHASES)
def test_every_tensor_the_phase_computes_matches(golden, step, phase):
    folder, _ = golden
    returned, _ = step[phase]
    references = {key.split("/", 1)[1]: value for key, value in npz(folder / "losses.npz").items()
                  if key.startswith(phase + "/")}
    assert references, f"no reference tensors for {phase}"
    for name, reference in references.items():
        ours = returned[RETURNED_AS.get(name, name)]
        assert ours.shape == reference.shape, name
        bound = 1e-4 * reference.abs().max().item() + 1e-8
        assert (ours - reference).abs().max().item() <= bound, f"{phase}/{name}"


@pytest.mark.parametrize("phase", PHASES)
def test_every_parameter_gradient_matches(golden, step, phase):
    folder, _ = golden
    _, grads = step[phase]
    references = npz(folder / f"grads_{phase}.npz")
    assert grads.keys() == references.keys()
    file_bound = 1e-4 * max(reference.abs().max().item() for reference in references.values())
    for name, reference in references.items():
        ours = grads[name] if grads[name] is not None else torch.zeros_like(reference)
        difference = (ours - reference).abs().max().item()
        assert difference <= file_bound, f"{phase}: {name} (file bound)"
        assert difference <= 1e-4 * reference.abs().max().item() + 1e-9, f"{phase}: {name}"


def test_path_length_mean_carries_over_between_calls(step):
    (greg, _), (greg2, _) = step["Greg"], step["Greg2"]
    assert greg["pl_mean_before"] == 0 and greg2["pl_mean_before"] == greg["pl_mean_after"] != 0
