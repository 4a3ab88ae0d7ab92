"""The DCGAN baseline: the paper's 64 px networks, trained by the same loop into the same snapshots."""
import pytest
import torch

import stylegan2
from stylegan2.training.dcgan import DCGANDiscriminator, DCGANGenerator
from stylegan2.training.errors import TrainingError
from stylegan2.training.loop import train
from stylegan2.training.snapshot import read_snapshot
from tests.stylegan2.training_fixtures import run_options, shape_images, write_zip


def test_64_px_networks_have_the_papers_widths():
    G, D = DCGANGenerator(), DCGANDiscriminator()
    g_widths = [layer.out_channels for layer in G.main if isinstance(layer, torch.nn.ConvTranspose2d)]
    d_widths = [layer.out_channels for layer in D.main if isinstance(layer, torch.nn.Conv2d)]
    assert g_widths == [512, 256, 128, 64, 3] and d_widths == [64, 128, 256, 512, 1]
    with torch.no_grad():
        img = G(torch.randn([2, 100]))
        assert img.shape == (2, 3, 64, 64) and img.abs().max() <= 1
        assert D(img).shape == (2, 1)


def test_resolution_must_be_a_power_of_two_from_16():
    with pytest.raises(TrainingError, match="power-of-two resolution >= 16"):
        DCGANGenerator(img_resolution=8)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dcgan")
    data = write_zip(root / "shapes.zip", shape_images(16, resolution=16))
    result = train(run_options(data, root / "run", 0.032, snapshot_kimg=0.016),
                   dict(arch="dcgan", batch=8, dcgan_width=8, z_dim=16))
    return data, root, result


def test_dcgan_trains_in_the_shared_loop_with_its_paper_settings(dcgan_run):
    _, _, result = dcgan_run
    snapshot = read_snapshot(result.snapshot)
    assert snapshot["arch"] == "dcgan" and snapshot["progress"]["step"] == 4
    assert snapshot["config"]["betas"] == [0.5, 0.999] and snapshot["config"]["glr"] == 0.0002
    assert {"G_loss", "D_loss"} <= set(result.history[-1]) and "G_reg" not in result.history[-1]


def test_dcgan_snapshot_resumes_exactly(dcgan_run):
    data, root, result = dcgan_run
    resumed = train(run_options(data, root / "resumed", 0.032, snapshot_kimg=1,
                                resume=str(root / "run" / "snapshot-000000-016.pt")))
    whole, again = read_snapshot(result.snapshot), read_snapshot(resumed.snapshot)
    for name in ("G", "D"):
        assert all(torch.equal(again[name]["state_dict"][key], value)
                   for key, value in whole[name]["state_dict"].items())


def test_dcgan_snapshot_is_not_served_as_a_stylegan2_generator(dcgan_run):
    _, _, result = dcgan_run
    with pytest.raises(stylegan2.WeightsFormatError, match="snapshot of a 'dcgan' model"):
        stylegan2.load(result.snapshot)
