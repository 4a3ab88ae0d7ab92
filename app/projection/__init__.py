"""Projections: faces solved into the generator's latent space in background jobs, and saved."""
