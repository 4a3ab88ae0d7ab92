"""Training StyleGAN2 (and a DCGAN baseline) in pure PyTorch: the loss, the loop, snapshots, datasets."""
