"""SeFa and PCA directions: orthonormal, ordered, and equal to an independent decomposition."""
import numpy as np
import pytest
import torch

from stylegan2.latents import layer_roles
from stylegan2.studio.sampling import sample_ws
from stylegan2.studio.unsupervised_directions import layers_by_w_index, pca, sefa
from stylegan2.testing import make_random_stylegan3


def stacked_affines_numpy(G, start, stop):
    """The style-affine rows of the layers latents.layer_roles names for W+ indices start:stop, unit rows."""
    state = G.state_dict()
    names = sorted({name for index in range(start, stop) for name in layer_roles(G)[index]},
                   key=lambda name: (int(name.split(".")[0][1:]), name.split(".")[1]))
    rows = np.concatenate([state[f"synthesis.{name}.affine.weight"].double().numpy() for name in names])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def assert_same_up_to_sign(vectors, expected, atol):
    for found, wanted in zip(vectors, expected):
        sign = np.sign(float(found @ wanted))
        np.testing.assert_allclose(found, sign * wanted, atol=atol)


def test_sefa_of_stylegan3_decomposes_the_affines_of_the_input_and_the_layers_its_indices_drive():
    G = make_random_stylegan3("r", resolution=32, channel_base=128, channel_max=8)
    directions = sefa(G, slice(0, 3), top=4)
    assert layers_by_w_index(G)[0] == ["input"]
    state = G.state_dict()
    rows = np.concatenate([state[f"synthesis.{name}.affine.weight"].double().numpy()
                           for name in ["input"] + G.synthesis.layer_names[:2]])
    _, singular_values, right_vectors = np.linalg.svd(rows / np.linalg.norm(rows, axis=1, keepdims=True))
    np.testing.assert_allclose(directions.scores.numpy(), singular_values[:4] ** 2, rtol=1e-5)
    assert_same_up_to_sign(directions.vectors.double().numpy(), right_vectors[:4], atol=1e-5)


@pytest.mark.parametrize("layers", [slice(None), slice(0, 4), slice(8, 10)])
def test_sefa_matches_an_independent_decomposition_of_the_stacked_affines(golden_generator, layers):
    start, stop, _ = layers.indices(golden_generator.num_ws)
    directions = sefa(golden_generator, layers, top=6)
    _, singular_values, right_vectors = np.linalg.svd(stacked_affines_numpy(golden_generator, start, stop))
    np.testing.assert_allclose(directions.scores.numpy(), singular_values[:6] ** 2, rtol=1e-5)
    assert_same_up_to_sign(directions.vectors.double().numpy(), right_vectors[:6], atol=1e-5)
    assert directions.layers == slice(start, stop)


def test_sefa_directions_are_orthonormal_and_ordered_by_eigenvalue(golden_generator):
    directions = sefa(golden_generator, top=golden_generator.w_dim)
    gram = directions.vectors @ directions.vectors.T
    torch.testing.assert_close(gram, torch.eye(golden_generator.w_dim), rtol=0, atol=1e-5)
    assert torch.all(directions.scores[:-1] >= directions.scores[1:])
    assert directions.names[:2] == ["sefa 1", "sefa 2"] and torch.all(directions.scales == 1)


def test_sefa_gives_the_same_signs_every_time(golden_generator):
    assert torch.equal(sefa(golden_generator, top=4).vectors, sefa(golden_generator, top=4).vectors)


def test_pca_axes_are_the_principal_axes_of_sampled_w_ordered_by_variance(golden_generator):
    directions = pca(golden_generator, top=5, samples=5000, seed=3)
    w = sample_ws(golden_generator, 5000, seed=3)[:, 0].double().numpy()
    centred = w - w.mean(axis=0)
    _, singular_values, right_vectors = np.linalg.svd(centred, full_matrices=False)
    variances = singular_values[:5] ** 2 / (len(w) - 1)
    np.testing.assert_allclose(directions.scores.numpy(), variances, rtol=1e-4)
    assert_same_up_to_sign(directions.vectors.double().numpy(), right_vectors[:5], atol=1e-4)
    torch.testing.assert_close(directions.vectors @ directions.vectors.T, torch.eye(5), rtol=0, atol=1e-5)


def test_a_pca_step_of_strength_one_is_one_standard_deviation_of_w_along_it(golden_generator):
    directions = pca(golden_generator, top=3, samples=3000)
    w = sample_ws(golden_generator, 3000)[:, 0]
    torch.testing.assert_close((w @ directions.vectors.T).std(dim=0), directions.scales, rtol=1e-3, atol=0)


def test_pca_reports_progress_per_mapping_batch(golden_generator):
    seen = []
    pca(golden_generator, top=2, samples=9000, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4096, 9000), (8192, 9000), (9000, 9000)]


@pytest.mark.parametrize("top", [0, 33])
def test_the_number_of_directions_must_lie_between_one_and_w_dim(golden_generator, top):
    with pytest.raises(ValueError, match=r"between 1 and w_dim \(32\)"):
        sefa(golden_generator, top=top)


def test_a_layer_range_outside_the_model_is_refused(golden_generator):
    with pytest.raises(ValueError, match="within 0:10"):
        sefa(golden_generator, slice(0, 14))
