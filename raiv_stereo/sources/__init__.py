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
from dataclasses import dataclass, replace
import importlib
from typing import Any, ClassVar, Mapping

import numpy as np
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.params.spec import coerce, ParamSpec, ParamTable
from raiv_stereo.sources.exposure import ExposureControl


RATE_HZ = 10.0
"""Pairs per second a source paced by the node (sample, images, video, camera) delivers."""
LOOP = True
"""Finite sources (images, video, bag) start again at their end."""


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
    """
    Delivers stereo pairs; `read` never blocks for long, so a node's executor keeps spinning.

    A source declares what the camera node needs to know about it: its kind, whether frames are
    pushed, its options (declared by the node as `<kind>.<option>`) and their rules together.
    """

    kind: ClassVar[str] = ''
    pushed: ClassVar[bool] = False
    """True: frames come when the device sends them, so the node polls fast and publishes each."""
    options: ClassVar[tuple[ParamSpec, ...]] = ()
    """The source's own settings, named without the namespace (the node adds '<kind>.')."""

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Return what is wrong with the options taken together (values by short name)."""
        return []

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> FrameSource:
        """Open the source from its checked options (short names) plus rate_hz and loop."""
        raise NotImplementedError(f'{cls.__name__} cannot be opened by name')

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
"""The registry: source kind -> 'module:class' (the class declares everything else)."""

KINDS: tuple[str, ...] = tuple(_SOURCES)
"""Every source kind, in the order the node's `source` parameter lists them."""

FILE_OPTION = 'path; empty = not used'
"""How a source's file option says it is optional (the end of its description)."""

SHARED_OPTIONS = ('rate_hz', 'loop')
"""Node-wide settings every source may read besides its own options."""


def pair_or_alternative(kind: str, values: Mapping[str, Any], alternative: str,
                        pair_text: str, alternative_text: str) -> list[str]:
    """
    Require exactly one of: both `left` and `right` options, or the `alternative` option.

    The rule of the file sources (images.list, video.side_by_side); the texts say what each is.
    """
    left, right, other = (str(values[name]).strip() for name in ('left', 'right', alternative))
    if other and (left or right):
        return [f'give either {kind}.{alternative} or {kind}.left + {kind}.right, not both']
    if not other and not (left and right):
        return [f"source '{kind}' needs {kind}.left and {kind}.right ({pair_text}), or "
                f'{kind}.{alternative} ({alternative_text}), one of the two']
    return []


def source_class(kind: str) -> type[FrameSource]:
    """Return the class of source `kind`; raise SourceError for an unknown kind."""
    try:
        module_name, class_name = _SOURCES[kind].split(':')
    except KeyError:
        raise SourceError(
            f'unknown source {kind!r}; choose one of: {", ".join(_SOURCES)}') from None
    found = getattr(importlib.import_module(module_name), class_name)
    if found.kind != kind:
        raise SourceError(f'{_SOURCES[kind]} declares kind {found.kind!r}, registered as {kind!r}')
    return found


def option_specs(kind: str) -> tuple[ParamSpec, ...]:
    """Return the options of source `kind` as node parameters: '<kind>.<option>', read-only."""
    return tuple(replace(spec, name=f'{kind}.{spec.name}', read_only=True,
                         description=f'{kind} source: {spec.description}')
                 for spec in source_class(kind).options)


def all_option_specs() -> tuple[ParamSpec, ...]:
    """Return every source's options as node parameters, source by source."""
    return tuple(spec for kind in KINDS for spec in option_specs(kind))


def own_options(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Return source `kind`'s options from namespaced `values` by short name, defaults filled."""
    prefix = kind + '.'
    return {spec.name: coerce(spec, values.get(prefix + spec.name, spec.default))
            for spec in source_class(kind).options}


def options_problems(kind: str, values: Mapping[str, Any]) -> list[str]:
    """
    Return what is wrong with source `kind`'s options in namespaced `values` (empty = usable).

    One table checks them: a misspelt '<kind>.' name, each value alone, then the source's rules.
    Other names (other sources' options, node-wide settings) are not looked at.
    """
    prefix = kind + '.'
    own = {name: value for name, value in values.items() if name.startswith(prefix)}
    source = source_class(kind)
    table = ParamTable(option_specs(kind),
                       (lambda v: source.option_problems(
                           {name[len(prefix):]: value for name, value in v.items()}),))
    specs = table.by_name
    return table.problems({name: coerce(specs[name], value) if name in specs else value
                           for name, value in own.items()})


def open_source(kind: str, options: Mapping[str, Any],
                calibration: StereoCalibration) -> FrameSource:
    """
    Open the source `kind` with its '<kind>.<option>' values (and rate_hz, loop).

    Raise SourceError for an unknown kind or options that do not pass the source's table.
    """
    source = source_class(kind)
    problems = options_problems(kind, options)
    if problems:
        raise SourceError('; '.join(problems))
    own = own_options(kind, options)
    own['rate_hz'] = float(options.get('rate_hz', RATE_HZ))
    own['loop'] = bool(options.get('loop', LOOP))
    return source.from_options(own, calibration)
