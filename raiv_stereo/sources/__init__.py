# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Frame sources: one small interface, one module per kind of source (no ROS import)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
import importlib
from typing import Any, Mapping

import numpy as np
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.sources.exposure import ExposureControl


@dataclass
class StereoFrame:
    """One synchronized raw pair; capture_time_ns is in this host's clock, when known."""

    left: np.ndarray
    right: np.ndarray
    capture_time_ns: int | None = None
    sequence: int = 0
    scene_time_s: float | None = None
    """For the synthetic sample scene: the scene time the pair shows (ground truth lookup)."""


class SourceError(RuntimeError):
    """A source that cannot deliver frames; the message says what is wrong and what to do."""


class EndOfSource(Exception):
    """A finite source (files, video) has delivered its last frame."""


class FrameSource(abc.ABC):
    """Delivers stereo pairs; `read` never blocks for long, so a node's executor keeps spinning."""

    calibration: StereoCalibration | None = None
    """Set by sources that know their own calibration (the RAiV device, the network stream)."""
    calibration_problem: str | None = None
    """Why a source that should know its calibration could not read it (None = no problem)."""
    exposure_control: ExposureControl | None = None
    """Exposure and gain of the camera, for sources that can set them (the RAiV device)."""

    @abc.abstractmethod
    def read(self) -> StereoFrame | None:
        """Return the next pair, None when none is ready yet; raise EndOfSource or SourceError."""

    def close(self) -> None:  # noqa: B027 (optional hook: most sources have nothing to free)
        """Release files, devices and sockets."""

    def __enter__(self) -> FrameSource:
        """Use the source as a context manager."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the source."""
        self.close()


_SOURCES: dict[str, str] = {
    'sample': 'raiv_stereo.sources.sample:SampleSource',
    'images': 'raiv_stereo.sources.images:ImageSource',
    'video': 'raiv_stereo.sources.video:VideoSource',
    'camera': 'raiv_stereo.sources.camera:CameraSource',
    'raiv': 'raiv_stereo.sources.raiv:RaivSource',
    'stream': 'raiv_stereo.sources.stream:StreamSource',
    'bag': 'raiv_stereo.sources.bag:BagSource',
}
"""Source kind -> 'module:class'; each class has `from_options(options, calibration)`."""


def open_source(kind: str, options: Mapping[str, Any],
                calibration: StereoCalibration) -> FrameSource:
    """Open the source `kind` with its options; raise SourceError for an unknown kind."""
    try:
        module_name, class_name = _SOURCES[kind].split(':')
    except KeyError:
        raise SourceError(
            f'unknown source {kind!r}; choose one of: {", ".join(_SOURCES)}') from None
    source_class = getattr(importlib.import_module(module_name), class_name)
    return source_class.from_options(dict(options), calibration)
