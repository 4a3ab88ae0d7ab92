"""Training StyleGAN2 (and its baselines): the losses, augmentation, the loop, snapshots."""
