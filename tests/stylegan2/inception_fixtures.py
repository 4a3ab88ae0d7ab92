"""TEST FIXTURE: a random-weight FID Inception whose features keep a useful scale.

PyTorch's default initialisation shrinks activations at every one of the network's ~50 layers, so a
freshly built ``InceptionFeatures`` gives features of about 1e-10 and every FID near 0. Here the
convolutions get He-normal weights and the batch norms random statistics near the identity, so the
features of different images differ by amounts of order one, as the real network's do. Its features
mean nothing about images; it exercises the code paths and the arithmetic only.
"""
import math

import torch

from stylegan2.metrics import InceptionFeatures


def random_inception(seed: int = 0) -> InceptionFeatures:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = InceptionFeatures()
        with torch.no_grad():
            for module in network.modules():
                if isinstance(module, torch.nn.Conv2d):
                    fan_in = module.weight[0].numel()
                    module.weight.normal_(0, math.sqrt(2 / fan_in))
                elif isinstance(module, torch.nn.BatchNorm2d):
                    module.weight.normal_(1, 0.1)
                    module.bias.normal_(0, 0.1)
                    module.running_mean.normal_(0, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
    return network.eval()
