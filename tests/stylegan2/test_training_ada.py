"""ADA's p controller: the r_t = E[sign(D(real))] heuristic against its target, every `interval` steps."""
import pytest
import torch

from stylegan2.training.ada import AdaptiveAugment
from stylegan2.training.errors import TrainingError
from tests.stylegan2.training_fixtures import FlipPipe


def single_process_sum(tensor):
    return tensor


def controller(**kwargs):
    settings = dict(target=0.6, interval=4, kimg=500, batch=32)
    settings.update(kwargs)
    return AdaptiveAugment(FlipPipe(), **settings)


def feed(ada, logits, steps, first_step=0):
    for step in range(first_step, first_step + steps):
        ada.accumulate(torch.tensor(logits, dtype=torch.float32))
        ada.update(step, single_process_sum)


def test_p_rises_by_batch_times_interval_over_ada_kimg_when_r_t_is_above_target():
    ada = controller()
    feed(ada, [1.0, 2.0, 3.0, -1.0], steps=4)          # r_t = 0.5 ... below 0.6
    assert ada.p == 0
    feed(ada, [1.0, 1.0, 1.0, 1.0], steps=4, first_step=4)   # r_t = 1 > 0.6
    assert ada.p == pytest.approx(32 * 4 / 500_000)


def test_p_changes_only_at_the_end_of_an_interval():
    ada = controller()
    feed(ada, [1.0] * 4, steps=3)
    assert ada.p == 0


def test_p_falls_when_r_t_is_below_target_and_never_below_zero():
    ada = controller(kimg=0.256)                      # steps of 0.5
    ada.pipe.p.fill_(0.7)
    feed(ada, [-1.0] * 4, steps=4)
    assert ada.p == pytest.approx(0.2)
    feed(ada, [-1.0] * 4, steps=4, first_step=4)
    assert ada.p == 0


def test_state_round_trip_keeps_p_and_the_signs_counted_so_far():
    ada = controller()
    ada.pipe.p.fill_(0.25)
    feed(ada, [1.0, -1.0], steps=2)
    restored = controller()
    restored.load_state_dict(ada.state_dict())
    assert restored.p == 0.25 and torch.equal(restored.state_dict()["signs"], ada.state_dict()["signs"])


def test_pipeline_without_p_is_refused():
    with pytest.raises(TrainingError, match="needs a pipeline with a 'p' buffer"):
        AdaptiveAugment(torch.nn.Identity())
