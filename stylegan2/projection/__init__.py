"""Projection (GAN inversion) maths: the optimiser (`projector`), its schedules (`schedule`) and the
perceptual distance it minimises (`perceptual`). Saving results is the caller's business."""
