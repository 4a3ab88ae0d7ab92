"""Which params carry over to another generator: the latent ones only to as many W layers of the same width,
projections only to the weights they were made with, compositing always; each loss said in words."""
from app.live.params import FaceChoice, Params, default_params
from app.live.params_carry import LatentShape, carry_params
from app.live.presets import load_presets

PRESETS = load_presets()
DEFAULT = default_params(PRESETS)
FFHQ = LatentShape(14, 512)


def fits_only(*names):
    def check(name):
        if name not in names:
            raise ValueError(f"projection '{name}' was made with other weights")
    return check


def carry(params, new=FFHQ, check=fits_only()):
    return carry_params(params, DEFAULT, FFHQ, new, "new.pt", check, lambda name: "old.pt")


def test_everything_carries_to_the_same_layers_and_the_same_weights():
    params = Params(mode="me", seed=3, psi=0.4, style_seed=8, sliders={PRESETS[0].name: 0.6}, projection="me",
                    style_projection="style", keep_eyes=0.5, faces={2: FaceChoice(seed=9), 4: FaceChoice(projection="me")})
    carried = carry(params, check=fits_only("me", "style"))
    assert carried.params == params and carried.dropped == []


def test_other_layers_reset_the_latent_params_and_the_faces_own_seeds_but_not_the_compositing():
    params = Params(seed=3, psi=0.4, style_seed=8, sliders={PRESETS[0].name: 0.6}, keep_mouth=0.2, keep_eyes=0.5,
                    faces={2: FaceChoice(seed=9)})
    carried = carry(params, new=LatentShape(16, 512))
    assert carried.params == Params(keep_mouth=0.2, keep_eyes=0.5, sliders=DEFAULT.sliders)
    assert carried.dropped == ["seed, psi, style seed, sliders and the faces' own seeds reset: new.pt has 16 W layers "
                               "of 512, the previous generator 14 W layers of 512"]


def test_another_w_width_is_other_layers_too():
    assert carry(Params(seed=3), new=LatentShape(14, 256)).params.seed == 0


def test_passthrough_stays_passthrough():
    assert carry(Params(mode="passthrough"), new=LatentShape(16, 512)).params.mode == "passthrough"


def test_a_projection_kept_for_mode_me_but_not_shown_is_cleared_saying_so():
    carried = carry(Params(mode="seed", projection="me"))
    assert (carried.params.mode, carried.params.projection) == ("seed", None)
    assert carried.dropped == ["projection 'me' was made with old.pt; mode 'me' has no projection selected"]
