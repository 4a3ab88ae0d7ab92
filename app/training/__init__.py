"""Training commands: `python -m app train` (the work is stylegan2.training's)."""
