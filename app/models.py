"""The model files the app runs, given by registry name (``weights``) or as a file, with messages a user
can act on: which command downloads a missing model, and which option takes a file instead. The face
detector is built here too (``face_detector``): ``detectors`` name the file they could not use, and this
adds how to get one."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import torch

import stylegan2
import weights
from detectors import Detector, DetectorUnavailable, create_detector, this_machines_plan
from stylegan2.metrics.inception import InceptionFeatures, load_inception
from stylegan2.projection.perceptual import PerceptualNetwork, load_perceptual

GENERATOR = "--weights"              # The option that gives each kind of model as a file.
DETECTOR = "--detector-model"
PERCEPTUAL = "--perceptual"
DEFAULT_GENERATOR = "ffhq-256"
DEFAULT_DETECTOR = "yunet"
DEFAULT_PERCEPTUAL = "vgg16"
DEFAULT_INCEPTION = "inception-fid"
INCEPTION = "--inception"


class ModelUnavailable(weights.WeightsError):
    """A model that is neither downloaded nor an existing file; says how to get one or give one."""


def model_path(name_or_path: Union[str, Path], option: str) -> Path:
    """The file of a registry model (downloaded) or the given file; ModelUnavailable if there is none.

    ``option`` is the command-line option that takes such a file (``GENERATOR``, ``DETECTOR``, ...).
    """
    name = str(name_or_path)
    if name in weights.REGISTRY:
        path = weights.local_path(name)
        if not path.is_file():
            raise ModelUnavailable(f"model '{name}' is not downloaded yet ({path} is missing): run "
                                   f"`python -m app weights fetch {name}`, or give a file with {option} FILE")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(weights.REGISTRY))
        raise ModelUnavailable(f"{option} {name}: no such file, and not a known model ({known})")
    return path


def display_name(name_or_path: Union[str, Path]) -> str:
    """What a model is called where others see it (the page, a projection's meta.json): its registry
    name, or its file's name, never the folders it lives in."""
    name = str(name_or_path)
    return name if name in weights.REGISTRY else Path(name).name


def yunet_model() -> str:
    """The registry's YuNet model this machine's OpenCV (or onnxruntime) can run."""
    plan = this_machines_plan()
    return plan.model if plan else DEFAULT_DETECTOR


def detector_model(detector: str) -> str:
    """The registry model a detector ("yunet" or "haar") runs on this machine."""
    return yunet_model() if detector == "yunet" else "haarcascade"


def face_detector(name: str = "auto", model_path: Union[str, Path, None] = None, **options) -> Detector:
    """``detectors.create_detector``, with a message that says how to get the model (which command downloads
    it, which option takes a file) when it cannot run."""
    try:
        return create_detector(name, model_path=model_path, **options)
    except DetectorUnavailable as error:
        raise DetectorUnavailable(f"{error}. {detector_hint(name, model_path)}") from None


def detector_hint(name: str, model_path: Union[str, Path, None]) -> str:
    if model_path is not None:
        return f"Check the file given with {DETECTOR}, or leave it out to use the registry's model"
    needed = [detector_model(detector) for detector in (("yunet", "haar") if name == "auto" else (name,))]
    commands = " or ".join(f"`python -m app weights fetch {model}`" for model in needed)
    return f"Download the model with {commands}, or give the file with {DETECTOR} FILE"


def load_generator(name_or_path: Union[str, Path], device: torch.device) -> stylegan2.LoadedGenerator:
    """``stylegan2.load`` of a registry model or a file."""
    return stylegan2.load(model_path(name_or_path, GENERATOR), device)


def load_perceptual_network(name_or_path: Union[str, Path], device: torch.device) -> PerceptualNetwork:
    """The perceptual network for projection."""
    return load_perceptual(verified_path(name_or_path, PERCEPTUAL), device)


def load_inception_network(name_or_path: Union[str, Path], device: torch.device) -> InceptionFeatures:
    """The FID Inception-v3 for the metrics."""
    return load_inception(verified_path(name_or_path, INCEPTION), device)


def verified_path(name_or_path: Union[str, Path], option: str) -> Path:
    """``model_path``; a registry model is first checked against its sha256 (these networks run code-free
    but are trusted to be what they claim)."""
    path = model_path(name_or_path, option)
    if str(name_or_path) in weights.REGISTRY:
        weights.verify(str(name_or_path))
    return path
