"""Image-quality metrics for generators: FID and KID on the FID Inception-v3's features.

Typical use (a training loop, or a command line)::

    network = load_inception("pt_inception-2015-12-05-6726825d.pth", device)   # a state-dict file
    score = fid(G, "faces.zip", network, num=50000, cache_dir="metrics-cache")
    kid_value, kid_std = kid(G, "faces.zip", network, num=5000)
"""
from .distances import KID, FeatureStatistics, MomentAccumulator, frechet_distance, kernel_inception_distance
from .evaluate import fid, kid
from .features import (
                       DatasetFeatures,
                       DatasetReadError,
                       ImageDataset,
                       UnsupportedGenerator,
                       generated_images,
                       generator_features,
)
from .inception import InceptionFeatures, InceptionWeightsError, load_inception

__all__ = ["KID", "DatasetFeatures", "DatasetReadError", "FeatureStatistics", "ImageDataset", "InceptionFeatures",
           "InceptionWeightsError", "MomentAccumulator", "UnsupportedGenerator", "fid", "frechet_distance",
           "generated_images", "generator_features", "kernel_inception_distance", "kid", "load_inception"]
