"""Direction preview sheets for the live page: a direction slider, or every direction of a set, at
-range..+range on a few faces (the current face by default), as one labelled JPEG grid.

They render off the live path, and the live generator has priority: one background thread renders one
face at a time, and before each face waits until the generation worker is idle (no newer params waiting,
no render running); on a CPU it also runs with fewer threads and a lower priority. It renders with the
plain PyTorch generator (whatever backend the live renderer uses), taking each face's latent from the
live ``FaceGenerator``, so a preview shows the face the page shows. Both are asked for at each sheet
(``PreviewTarget``), as a model switch replaces them. A sheet is kept per (slider or set, faces, model):
asking again costs nothing, and the same sheet asked twice at once is rendered once.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import torch

from app.images import from_engine
from app.live.generation import FaceGenerator
from app.live.params import Params
from app.live.presets import DEFAULT_RANGE, Preset
from app.live.worker import yield_to_the_stream
from app.studio.direction_sheets import direction_sheet
from stylegan2.studio.directions import DirectionSet

log = logging.getLogger(__name__)

COLUMNS = 5                 # Strengths per row: -range, -range/2, 0, +range/2, +range.
MAX_FACES = 4               # Faces per sheet (a set of 10 directions on 4 faces is already 200 renders).
KEPT_SHEETS = 16            # Sheets kept (JPEG bytes, a few hundred kB each at most).
WAIT_S = 300.0              # The longest a request waits for its sheet.
IDLE_POLL_S = 0.02          # How often a waiting preview looks whether the live generator is idle.
JPEG_QUALITY = 90


class UnknownPreview(KeyError):
    """No direction slider and no directions set of that name."""


class PreviewUnavailable(RuntimeError):
    """The sheet could not be made (shutting down, too slow, or its render failed); the message says why."""


class PreviewTarget(NamedTuple):
    """What a sheet renders with: the live face generator (for the faces' latents), the PyTorch generator,
    and the model's name (part of each sheet's key: a sheet of another model is another)."""

    face_generator: FaceGenerator
    generator: torch.nn.Module
    model: str


class DirectionPreviews:
    """Preview sheets of the direction sliders (by slider name) and of their sets (by set name)."""

    def __init__(self, presets: Sequence[Preset], target: Callable[[], PreviewTarget],
                 current_params: Callable[[], Params], live_idle: Callable[[], bool],
                 cpu_threads: Optional[int] = None, nice: int = 0) -> None:
        self.target = target                      # What renders now (a model switch changes it).
        self.current_params = current_params      # The params now (whose face is the default).
        self.live_idle = live_idle                # True when the live generator neither renders nor has work.
        self.cpu_threads = cpu_threads
        self.nice = nice
        self.sliders: Dict[str, Preset] = {p.name: p for p in presets if p.direction is not None}
        self.sets: Dict[str, DirectionSet] = {}
        for preset in self.sliders.values():
            self.sets.setdefault(preset.direction.set_name, preset.direction.directions)
        self._kept: "OrderedDict[tuple, bytes]" = OrderedDict()
        self._pending: Dict[tuple, Future] = {}
        self._jobs: "queue.Queue[Optional[Tuple[tuple, Future, Callable[[], bytes]]]]" = queue.Queue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def describe(self) -> dict:
        """What can be previewed: the direction sliders and the sets, by name (``GET /api/directions``)."""
        return {"sliders": [{"name": name, "label": preset.label, "directions": preset.direction.set_name,
                             "direction": preset.direction.name, "range": preset.direction.range}
                            for name, preset in self.sliders.items()],
                "sets": [{"name": name, "directions": list(found.names)} for name, found in self.sets.items()]}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stylecam-direction-previews", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread; sheets still waiting are refused (PreviewUnavailable)."""
        self._stop.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(PreviewUnavailable("StyleCam is shutting down"))
            self._pending.clear()

    def sheet(self, name: str, seeds: Optional[Sequence[int]] = None, timeout: float = WAIT_S) -> bytes:
        """The JPEG sheet of slider or set ``name`` on ``seeds`` (None: the current face), rendered once.

        UnknownPreview for a name that is neither; ValueError for too many seeds; PreviewUnavailable when
        the sheet cannot be made in ``timeout`` seconds or its render failed."""
        target = self.target()
        directions, strengths = self._directions(name, target)
        faces = self._faces(seeds, target)
        key = (name, tuple(key for key, _ in faces), target.model)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            future = self._pending.get(key)
            if future is None:
                if self._stop.is_set() or self._thread is None:
                    raise PreviewUnavailable("the preview renderer is not running")
                future = self._pending[key] = Future()
                self._jobs.put((key, future, lambda: self._render(directions, strengths, faces, target)))
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise PreviewUnavailable(f"the sheet took over {timeout:g} s (the live face comes first); "
                                     f"ask again later") from None

    def _directions(self, name: str, target: PreviewTarget) -> Tuple[DirectionSet, List[float]]:
        """The directions a sheet shows and its strengths: a slider's one direction on its own layers at
        its range, or a whole set at DEFAULT_RANGE."""
        preset = self.sliders.get(name)
        if preset is not None:
            found = preset.direction.directions
            index = found.names.index(preset.direction.name)
            one = DirectionSet(found.vectors[index:index + 1], [preset.label], target.face_generator.layers(preset),
                               target.generator.num_ws, found.scales[index:index + 1])
            return one, strengths_to(preset.direction.range)
        if name in self.sets:
            return self.sets[name], strengths_to(DEFAULT_RANGE)
        raise UnknownPreview(name)

    def _faces(self, seeds: Optional[Sequence[int]], target: PreviewTarget) -> List[Tuple[tuple, str]]:
        """(latent key, label) of each face: the seeds' at the current psi, else the face the params show."""
        params = self.current_params()
        if seeds is not None:
            if not 1 <= len(seeds) <= MAX_FACES:
                raise ValueError(f"give 1 to {MAX_FACES} seeds, got {len(seeds)}")
            return [(("seed", seed, params.psi), f"seed {seed}") for seed in seeds]
        key = target.face_generator.target_key(params) if params.mode != "passthrough" else \
            ("seed", params.seed, params.psi)
        return [(key, f"seed {key[1]}" if key[0] == "seed" else f"projection {key[1]}")]

    def _render(self, directions: DirectionSet, strengths: List[float], faces: List[Tuple[tuple, str]],
                target: PreviewTarget) -> bytes:
        generator = target.generator
        ws = torch.cat([target.face_generator.latent_ws(key) for key, _ in faces]).to(torch.float32)
        sheet = direction_sheet(directions, ws.cpu(), strengths, [label for _, label in faces],
                                generator.img_resolution)
        device = next(generator.parameters()).device
        for index, latent in enumerate(sheet.latents):
            self._wait_for_the_live_face()
            with torch.inference_mode():
                image = generator.synthesis(latent.unsqueeze(0).to(device), noise_mode="const")
            sheet.put(index, from_engine(image))
        ok, encoded = cv2.imencode(".jpg", sheet.canvas.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise PreviewUnavailable("the sheet could not be encoded as JPEG")
        return encoded.tobytes()

    def _wait_for_the_live_face(self) -> None:
        while not self.live_idle():
            if self._stop.is_set():
                raise PreviewUnavailable("StyleCam is shutting down")
            time.sleep(IDLE_POLL_S)
        if self._stop.is_set():
            raise PreviewUnavailable("StyleCam is shutting down")

    def _run(self) -> None:
        yield_to_the_stream(self.cpu_threads, self.nice, "direction previews")
        while True:
            job = self._jobs.get()
            if job is None or self._stop.is_set():
                return
            key, future, render = job
            try:
                result = render()
            except PreviewUnavailable as error:
                self._finish(key, future, error=error)
            except Exception as error:  # a failed render answers its request, and the thread goes on
                log.exception("a direction preview failed")
                self._finish(key, future, error=PreviewUnavailable(f"the preview failed: {error}"))
            else:
                self._finish(key, future, result=result)

    def _finish(self, key: tuple, future: Future, result: Optional[bytes] = None,
                error: Optional[Exception] = None) -> None:
        with self._lock:
            self._pending.pop(key, None)
            if result is not None:
                self._kept[key] = result
                while len(self._kept) > KEPT_SHEETS:
                    self._kept.popitem(last=False)
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)


def strengths_to(end: float) -> List[float]:
    """COLUMNS strengths from -end to +end, evenly spaced (0 in the middle)."""
    return [end * (2 * column / (COLUMNS - 1) - 1) for column in range(COLUMNS)]
