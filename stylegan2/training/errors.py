"""The errors a training run reports to its user: each message says what was expected and what was found."""


class TrainingError(ValueError):
    """Training cannot start or go on: bad settings, data, checkpoint or snapshot (nothing was written)."""


class DatasetError(TrainingError):
    """A dataset is missing, empty, unreadable, or its images do not fit together or the generator."""


class SnapshotError(TrainingError):
    """A training snapshot is missing, damaged, from a newer StyleCam, or not a training snapshot."""
