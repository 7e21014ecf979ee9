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

"""
Synthetic stereo scenes with exact ground truth, rendered through any StereoCalibration.

The world frame is the rectified left camera's optical frame (metres; x right, y down, z forward),
so ground-truth depth is z in that frame. Each raw camera pixel is back-projected through the
camera's own K, D and R (distortion and rectification rotation honoured) and intersected with
textured planes; the right camera sits at (baseline_m, 0, 0). The same scene therefore tests
rectification, matching and depth conversion together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
import math

import cv2
import numpy as np
from raiv_stereo.core.calibration import (
    CameraModel,
    raiv_nominal,
    stereo_from_opencv,
    StereoCalibration,
)
from raiv_stereo.eval import datasets

TEXEL_M = 0.0015
"""Texture sample spacing: 1.5 mm, so the texture has detail from 0.3 m to 3 m at half scale."""


@lru_cache(maxsize=8)
def _texture_tile(seed: int, size_px: int = 1024) -> np.ndarray:
    """Return a seamless multi-scale noise tile in [0, 255] (float32), deterministic per seed."""
    rng = np.random.default_rng(seed)
    tile = np.zeros((size_px, size_px), np.float32)
    for cells, weight in ((8, 0.9), (32, 0.8), (128, 0.7), (512, 0.5)):
        coarse = rng.random((cells, cells), dtype=np.float32)
        # Wrap-pad so the upsampled tile repeats without seams.
        padded = np.pad(coarse, 1, mode='wrap')
        step = size_px / cells
        big = cv2.resize(padded, (int(size_px + 2 * step), int(size_px + 2 * step)),
                         interpolation=cv2.INTER_CUBIC)
        offset = int(step)
        tile += weight * big[offset:offset + size_px, offset:offset + size_px]
    tile -= tile.min()
    tile *= 235.0 / tile.max()
    return tile + 10.0


TEXTURES = ('noise', 'aliasing', 'smooth', 'photo', 'stripes')
"""noise: four octaves (the sample scene's); aliasing: plus texel-sized octaves that alias at
the far end; smooth: the two coarse octaves only; photo: a crop of a stereo_data image (noise
when that folder is absent); stripes: one repeated stripe pattern over weak noise."""


def _normalised(tile: np.ndarray) -> np.ndarray:
    """Return `tile` stretched to grey levels 10..245 (float32)."""
    tile = tile.astype(np.float32) - float(tile.min())
    return tile * np.float32(235.0 / max(float(tile.max()), 1e-6)) + np.float32(10.0)


@lru_cache(maxsize=32)
def texture_tile(kind: str, seed: int, size_px: int = 1024) -> np.ndarray:
    """Return a tile of texture `kind` (one of TEXTURES) in grey levels, deterministic per seed."""
    if kind not in TEXTURES:
        raise ValueError(f'texture must be one of {", ".join(TEXTURES)}, got {kind!r}')
    rng = np.random.default_rng(seed + 7919)
    if kind == 'noise':
        return _texture_tile(seed, size_px)
    if kind == 'aliasing':
        fine = rng.random((size_px, size_px), dtype=np.float32)
        half = cv2.resize(rng.random((size_px // 2, size_px // 2), dtype=np.float32),
                          (size_px, size_px), interpolation=cv2.INTER_NEAREST)
        return _normalised(_texture_tile(seed, size_px) / 235.0 + 0.9 * fine + 0.7 * half)
    if kind == 'smooth':
        tile = np.zeros((size_px, size_px), np.float32)
        for cells, weight in ((8, 0.8), (32, 1.0)):
            coarse = np.pad(rng.random((cells, cells), dtype=np.float32), 1, mode='wrap')
            step = size_px / cells
            big = cv2.resize(coarse, (int(size_px + 2 * step),) * 2,
                             interpolation=cv2.INTER_CUBIC)
            tile += weight * big[int(step):int(step) + size_px, int(step):int(step) + size_px]
        return _normalised(tile)
    if kind == 'photo':
        photo = _photo_tile(seed, size_px)
        if photo is not None:
            return photo
        return _texture_tile(seed, size_px)
    # stripes: integer cycles per tile on both axes, so the tile still wraps without seams.
    cycles_x = int(rng.integers(24, 140))
    cycles_y = int(rng.integers(0, 24))
    u, v = np.meshgrid(np.arange(size_px, dtype=np.float32) / size_px,
                       np.arange(size_px, dtype=np.float32) / size_px)
    wave = np.sin(2.0 * np.pi * (cycles_x * u + cycles_y * v))
    square = np.tanh(3.0 * wave)  # soft-edged bars
    return _normalised(square + 0.35 * (_texture_tile(seed, size_px) / 127.0 - 1.0))


LEVELS = 7
"""Pre-filtered copies of a tile for area sampling: level l is blurred by 0.4 * 2^l texels."""


@lru_cache(maxsize=32)
def _tile_levels(kind: str, seed: int) -> tuple[np.ndarray, ...]:
    """Return the tile of `kind` blurred for footprints of 1, 2, 4 ... texels (wrap-around)."""
    tile = texture_tile(kind, seed)
    pad = int(3 * 0.4 * 2 ** (LEVELS - 1)) + 1
    padded = np.pad(tile, pad, mode='wrap')
    return tuple(cv2.GaussianBlur(padded, (0, 0), 0.4 * 2 ** level)[pad:-pad, pad:-pad]
                 for level in range(LEVELS))


def _area_sample(kind: str, seed: int, map_u: np.ndarray, map_v: np.ndarray,
                 pu: np.ndarray, pv: np.ndarray, texel_m: float) -> np.ndarray:
    """Return the texture averaged over each pixel's footprint (levels blended by its size)."""
    def step(a: np.ndarray, axis: int) -> np.ndarray:
        d = np.abs(np.diff(a, axis=axis))
        return np.concatenate([d, d.take([-1], axis=axis)], axis=axis) if d.size else a * 0

    across = np.hypot(step(pu, 1), step(pv, 1))
    down = np.hypot(step(pu, 0), step(pv, 0))
    footprint = np.nan_to_num(np.maximum(across, down) / np.float32(texel_m), nan=1.0,
                              posinf=1.0)
    level = np.clip(np.log2(np.maximum(footprint, 1e-6)), 0.0, LEVELS - 1.0).astype(np.float32)
    gray = np.zeros(map_u.shape, np.float32)
    for index, tile in enumerate(_tile_levels(kind, seed)):
        weight = np.maximum(0.0, 1.0 - np.abs(level - np.float32(index)))
        if not weight.any():
            continue
        gray += weight * cv2.remap(tile, map_u, map_v, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_WRAP)
    return gray


def _photo_tile(seed: int, size_px: int) -> np.ndarray | None:
    """Return a square grey crop of a stereo_data left image (None without the data)."""
    scenes = datasets.scenes()
    if not scenes:
        return None
    rng = np.random.default_rng(seed)
    scene_dir = scenes[int(rng.integers(len(scenes)))]
    image = cv2.imread(str(scene_dir / 'left.png'), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None
    side = min(image.shape[:2])
    crop_side = max(64, int(side * rng.uniform(0.5, 1.0)))
    y0 = int(rng.integers(0, image.shape[0] - crop_side + 1))
    x0 = int(rng.integers(0, image.shape[1] - crop_side + 1))
    crop = image[y0:y0 + crop_side, x0:x0 + crop_side].astype(np.float32)
    return _normalised(cv2.resize(crop, (size_px, size_px), interpolation=cv2.INTER_CUBIC))


@dataclass(frozen=True)
class Plane:
    """A textured rectangle (or unbounded plane) in the world frame."""

    center_m: tuple[float, float, float]
    axis_u: tuple[float, float, float] = (1.0, 0.0, 0.0)
    axis_v: tuple[float, float, float] = (0.0, 1.0, 0.0)
    half_size_m: tuple[float, float] = (math.inf, math.inf)
    tint_bgr: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = 0
    motion_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Amplitude of a sinusoidal motion of the centre (metres)."""
    period_s: float = 4.0
    texture: str = 'noise'
    """One of TEXTURES: the tile that is mapped onto the plane."""
    texel_m: float = TEXEL_M
    contrast: float = 1.0
    """Scale of the texture about its mean grey (1 = the tile as it is)."""

    @property
    def moving(self) -> bool:
        """Return True when the plane moves over time."""
        return any(self.motion_m)

    def center_at(self, time_s: float) -> np.ndarray:
        """Return the centre at `time_s`."""
        phase = math.sin(2.0 * math.pi * time_s / self.period_s) if self.moving else 0.0
        return np.asarray(self.center_m) + phase * np.asarray(self.motion_m)


@dataclass(frozen=True)
class Scene:
    """A set of planes; the first hit along each ray is what a camera sees."""

    planes: tuple[Plane, ...]
    background_bgr: tuple[int, int, int] = (0, 0, 0)
    area_sampling: bool = False
    """True: each pixel averages the texture over its footprint (a real sensor's pixel area,
    so finer octaves alias as a camera's would and both cameras see the same surface); False:
    the texture is sampled at the pixel centre (the sample scene's original rendering)."""


def _rotated_y(angle_deg: float) -> tuple[float, float, float]:
    """Return the x axis rotated about the vertical (y) axis by `angle_deg`."""
    a = math.radians(angle_deg)
    return (math.cos(a), 0.0, -math.sin(a))


def sample_scene() -> Scene:
    """Return the built-in scene: surfaces at known depths between 0.3 m and 3 m, one moving."""
    return Scene(planes=(
        # Back wall at 2.8 m, filling the view.
        Plane(center_m=(0.0, 0.0, 2.8), half_size_m=(6.0, 6.0), tint_bgr=(0.85, 0.95, 1.0),
              seed=1),
        # Floor 0.6 m below the camera: depth falls from 2.8 m to about 0.9 m down the image.
        Plane(center_m=(0.0, 0.6, 1.55), axis_u=(1.0, 0.0, 0.0), axis_v=(0.0, 0.0, 1.0),
              half_size_m=(6.0, 1.25), tint_bgr=(0.8, 0.9, 0.8), seed=2),
        # A panel turned 35 degrees, right of centre, depth 1.4..2.0 m.
        Plane(center_m=(0.55, -0.05, 1.7), axis_u=_rotated_y(35.0), half_size_m=(0.35, 0.3),
              tint_bgr=(1.0, 0.85, 0.7), seed=3),
        # A box face at 1.0 m moving left and right.
        Plane(center_m=(-0.1, 0.05, 1.0), half_size_m=(0.15, 0.15), tint_bgr=(0.7, 0.8, 1.0),
              seed=4, motion_m=(0.2, 0.0, 0.0), period_s=4.0),
        # A small near card at 0.5 m, upper left.
        Plane(center_m=(-0.17, -0.13, 0.5), half_size_m=(0.06, 0.05), tint_bgr=(1.0, 1.0, 0.75),
              seed=5),
    ))


@dataclass
class RenderedPair:
    """Raw left/right images and the ground-truth depth of the rectified left image."""

    left_bgr: np.ndarray
    right_bgr: np.ndarray
    depth_rect_m: np.ndarray | None


def _camera_rays(camera: CameraModel, rectified: bool) -> np.ndarray:
    """
    Return unit-z ray directions (2, H, W: x, y) in the camera's rectified frame, per pixel.

    rectified=False: pixels of the raw image (through K, D, then R). True: pixels of P's image.
    """
    w, h = camera.width_px, camera.height_px
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    if rectified:
        P = camera.P
        x = (u - P[0, 2]) / P[0, 0]
        y = (v - P[1, 2]) / P[1, 1]
        rays = np.stack([x, y, np.ones_like(x)], axis=-1)
    else:
        points = np.stack([u.ravel(), v.ravel()], axis=-1).reshape(-1, 1, 2)
        normalized = cv2.undistortPoints(points, camera.K, camera.D).reshape(h, w, 2)
        raw = np.concatenate([normalized, np.ones((h, w, 1))], axis=-1)
        rays = raw @ camera.R.T  # x_rect = R x_raw
    rays /= rays[..., 2:3]
    return np.ascontiguousarray(np.moveaxis(rays[..., :2], -1, 0), dtype=np.float32)


def _trace(rays: np.ndarray, origin: np.ndarray, planes: list[Plane],
           time_s: float, labels: np.ndarray | None = None,
           area_sampling: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (nearest hit depth z, BGR float image) for `planes`; inf where none hit.

    `rays` is (2, H, W): the x and y of unit-z directions, so a ray's parameter is its depth.
    `labels` (int, H x W), when given, receives the index in `planes` of the plane hit.
    """
    ray_x, ray_y = rays
    nearest = np.full(ray_x.shape, np.inf, np.float32)
    colour = np.zeros(ray_x.shape + (3,), np.float32)
    for index, plane in enumerate(planes):
        center = plane.center_at(time_s) - origin
        eu = np.asarray(plane.axis_u, np.float64)
        ev = np.asarray(plane.axis_v, np.float64)
        normal = np.cross(eu, ev)
        with np.errstate(divide='ignore', invalid='ignore'):
            t = np.float32(normal @ center) / (
                ray_x * np.float32(normal[0]) + ray_y * np.float32(normal[1])
                + np.float32(normal[2]))
        # In-plane coordinates of the hit: (ray * t - center) . axis.
        pu = t * (ray_x * np.float32(eu[0]) + ray_y * np.float32(eu[1]) + np.float32(eu[2])) \
            - np.float32(center @ eu)
        pv = t * (ray_x * np.float32(ev[0]) + ray_y * np.float32(ev[1]) + np.float32(ev[2])) \
            - np.float32(center @ ev)
        inside = (t > 0) & (np.abs(pu) <= plane.half_size_m[0]) & \
            (np.abs(pv) <= plane.half_size_m[1]) & (t < nearest)
        if not inside.any():
            continue
        tile = texture_tile(plane.texture, plane.seed)
        size = tile.shape[0]
        rows = np.flatnonzero(inside.any(axis=1))
        cols = np.flatnonzero(inside.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        map_u = np.mod(pu[box] / plane.texel_m, size).astype(np.float32)
        map_v = np.mod(pv[box] / plane.texel_m, size).astype(np.float32)
        if area_sampling:
            gray = _area_sample(plane.texture, plane.seed, map_u, map_v, pu[box], pv[box],
                                plane.texel_m)
        else:
            gray = cv2.remap(tile, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        if plane.contrast != 1.0:
            gray = np.float32(128.0) + np.float32(plane.contrast) * (gray - np.float32(128.0))
        mask = inside[box]
        nearest[box][mask] = t[box][mask]
        if labels is not None:
            labels[box][mask] = index
        colour[box][mask] = gray[mask][:, None] * np.asarray(plane.tint_bgr, np.float32)
    return nearest, colour


def _plane_box(camera: CameraModel, origin: np.ndarray, plane: Plane, time_s: float | None = None,
               margin_px: int = 3) -> tuple[slice, slice] | None:
    """
    Return the pixel box of a raw camera that `plane` covers at `time_s` (None: ever).

    Projects dense points on every edge of the convex hull of the rectangle (at both motion
    extremes when time_s is None; distortion bends straight edges, so edges are sampled, not just
    corners). Returns the full image when the plane is unbounded or reaches behind the camera,
    None when it is out of view.
    """
    full = (slice(0, camera.height_px), slice(0, camera.width_px))
    if not all(math.isfinite(h) for h in plane.half_size_m):
        return full
    eu, ev = np.asarray(plane.axis_u, np.float64), np.asarray(plane.axis_v, np.float64)
    centers = ([np.asarray(plane.center_m) + m * np.asarray(plane.motion_m) for m in (-1.0, 1.0)]
               if time_s is None else [plane.center_at(time_s)])
    corners = [c + a * plane.half_size_m[0] * eu + b * plane.half_size_m[1] * ev
               - np.asarray(origin, np.float64)
               for c in centers for a in (-1.0, 1.0) for b in (-1.0, 1.0)]
    steps = np.linspace(0.0, 1.0, 65)[:, None]
    points = np.concatenate([p + steps * (q - p) for i, p in enumerate(corners)
                             for q in corners[i + 1:]])
    raw = points @ camera.R  # x_raw = R^T x_rect
    if raw[:, 2].min() <= 1e-3:
        return full
    pixels, _ = cv2.projectPoints(raw.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), camera.K,
                                  camera.D)
    pixels = pixels.reshape(-1, 2)
    x0 = max(0, int(np.floor(pixels[:, 0].min())) - margin_px)
    x1 = min(camera.width_px, int(np.ceil(pixels[:, 0].max())) + margin_px + 1)
    y0 = max(0, int(np.floor(pixels[:, 1].min())) - margin_px)
    y1 = min(camera.height_px, int(np.ceil(pixels[:, 1].max())) + margin_px + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(y0, y1), slice(x0, x1)


def _union(boxes: list[tuple[slice, slice] | None]) -> tuple[slice, slice] | None:
    """Return the bounding box of several boxes (None entries ignored)."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (slice(min(b[0].start for b in boxes), max(b[0].stop for b in boxes)),
            slice(min(b[1].start for b in boxes), max(b[1].stop for b in boxes)))


class Renderer:
    """
    Renders a scene for one calibration; rays and static planes are computed once.

    Per frame only the box of pixels the moving planes cover at that time is traced.
    """

    def __init__(self, calibration: StereoCalibration, scene: Scene | None = None) -> None:
        """Prepare rays of both raw cameras and the static images."""
        self.calibration = calibration
        self.scene = scene or sample_scene()
        self._origins = (np.zeros(3, np.float32),
                         np.array([calibration.baseline_m, 0.0, 0.0], np.float32))
        self._rays = (_camera_rays(calibration.left, False),
                      _camera_rays(calibration.right, False))
        self._moving = [p for p in self.scene.planes if p.moving]
        self._static = [_trace(rays, origin, [p for p in self.scene.planes if not p.moving], 0.0,
                               area_sampling=self.scene.area_sampling)
                        for rays, origin in zip(self._rays, self._origins, strict=True)]
        self._static_images = [self._to_image(z, colour) for z, colour in self._static]

    def _to_image(self, z: np.ndarray, colour: np.ndarray) -> np.ndarray:
        """Return the uint8 image of traced colours, background where no surface was hit."""
        image = np.clip(colour + 0.5, 0, 255).astype(np.uint8)
        image[~np.isfinite(z)] = self.scene.background_bgr
        return image

    def _image(self, camera_index: int, time_s: float) -> np.ndarray:
        """Render one raw camera image at `time_s`, compositing moving planes over static ones."""
        image = self._static_images[camera_index].copy()
        camera = (self.calibration.left, self.calibration.right)[camera_index]
        box = _union([_plane_box(camera, self._origins[camera_index], p, time_s)
                      for p in self._moving])
        if box is None:
            return image
        static_z, static_colour = (a[box] for a in self._static[camera_index])
        rays = self._rays[camera_index][(slice(None),) + box]
        moving_z, moving_colour = _trace(rays, self._origins[camera_index], self._moving, time_s,
                                         area_sampling=self.scene.area_sampling)
        front = moving_z < static_z
        colour = np.where(front[..., None], moving_colour, static_colour)
        image[box] = self._to_image(np.minimum(moving_z, static_z), colour)
        return image

    def render(self, time_s: float = 0.0, with_truth: bool = True) -> RenderedPair:
        """Render the raw pair at `time_s` and, unless with_truth=False, the rectified depth."""
        truth = truth_depth_m(self.calibration, self.scene, time_s) if with_truth else None
        return RenderedPair(self._image(0, time_s), self._image(1, time_s), truth)


def truth_depth_m(calibration: StereoCalibration, scene: Scene, time_s: float = 0.0) -> np.ndarray:
    """
    Return float32 depth (m) of the rectified left image of `calibration`; NaN where no surface.

    Pass `calibration.scaled(s)` for the ground truth at a working scale.
    """
    rays = _camera_rays(calibration.left, True)
    z, _ = _trace(rays, np.zeros(3, np.float32), list(scene.planes), time_s)
    depth = z.copy()
    depth[~np.isfinite(depth)] = np.nan
    return depth


def render_stereo(calibration: StereoCalibration, scene: Scene | None = None,
                  time_s: float = 0.0) -> RenderedPair:
    """Render one raw stereo pair and its rectified-left ground truth (convenience wrapper)."""
    return Renderer(calibration, scene).render(time_s)


def distorted_rig(base: StereoCalibration, k1: float = -0.08, k2: float = 0.02,
                  rotation_deg: float = 0.6) -> StereoCalibration:
    """
    Return a realistic rig: `base`'s lenses with radial distortion and the right camera rotated.

    Built through cv2.stereoRectify, so its R and P are what a real calibration would give.
    """
    K = base.left.K.copy()
    D1 = np.array([k1, k2, 0.0, 0.0, 0.0])
    D2 = np.array([k1 * 1.1, k2 * 0.9, 0.0005, -0.0003, 0.0])
    rvec = np.radians([rotation_deg * 0.5, rotation_deg, -rotation_deg * 0.7])
    R, _ = cv2.Rodrigues(rvec)
    T_m = np.array([-base.baseline_m, 0.002, -0.001])
    K2 = K.copy()
    K2[0, 2] += 6.0
    K2[1, 2] -= 4.0
    K2[0, 0] *= 1.004
    K2[1, 1] *= 1.004
    return replace(stereo_from_opencv(K, D1, K2, D2, R, T_m, base.image_size),
                   description=f'distorted rig from {base.description}')


def truth_labels(calibration: StereoCalibration, scene: Scene,
                 time_s: float = 0.0) -> np.ndarray:
    """Return the index in scene.planes of the surface each rectified left pixel sees; -1: none."""
    rays = _camera_rays(calibration.left, True)
    labels = np.full(rays.shape[1:], -1, np.int16)
    _trace(rays, np.zeros(3, np.float32), list(scene.planes), time_s, labels)
    return labels


# --- the evaluation family: seeded scenes, rigs and photometry ---------------------------------

@dataclass(frozen=True)
class Photometry:
    """What one camera does to the light: gain, offset, vignetting, defocus, sensor noise."""

    gain: float = 1.0
    offset: float = 0.0
    """Grey levels added after the gain."""
    noise_sigma: float = 0.0
    """Standard deviation of the sensor noise (grey levels)."""
    vignetting: float = 0.0
    """Relative fall-off at the image corner (quadratic in the distance from the centre)."""
    defocus_sigma_px: float = 0.0

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return `image` (uint8) as this camera would record it."""
        out = image.astype(np.float32)
        height_px, width_px = out.shape[:2]
        if self.vignetting:
            x = (np.arange(width_px, dtype=np.float32) - width_px / 2.0) / (width_px / 2.0)
            y = (np.arange(height_px, dtype=np.float32) - height_px / 2.0) / (height_px / 2.0)
            radius2 = (x[None, :] ** 2 + y[:, None] ** 2) / 2.0
            falloff = 1.0 - np.float32(self.vignetting) * radius2
            out *= falloff[..., None] if out.ndim == 3 else falloff
        if self.defocus_sigma_px > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.defocus_sigma_px)
        out = out * np.float32(self.gain) + np.float32(self.offset)
        if self.noise_sigma > 0:
            out += rng.normal(0.0, self.noise_sigma, out.shape).astype(np.float32)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FamilyCase:
    """One scene of the evaluation family: raw rig, planes, each camera's photometry."""

    seed: int
    calibration: StereoCalibration
    """The raw (distorted, misaligned) rig, as its factory calibration describes it."""
    scene: Scene
    photometry: tuple[Photometry, Photometry]
    slanted: tuple[int, ...]
    """Indexes in scene.planes of the surfaces neither fronto-parallel nor edge-on."""

    def render(self) -> RenderedPair:
        """Return the raw pair as both cameras record it (no truth: see truth_depth_m)."""
        pair = Renderer(self.calibration, self.scene).render(with_truth=False)
        rng = np.random.default_rng(self.seed + 104729)
        return RenderedPair(self.photometry[0].apply(pair.left_bgr, rng),
                            self.photometry[1].apply(pair.right_bgr, rng), None)

    def slanted_mask(self, working: StereoCalibration) -> np.ndarray:
        """Return the rectified left pixels (at `working`'s size) on a slanted surface."""
        return np.isin(truth_labels(working, self.scene), self.slanted)


def _texture_choice(rng: np.random.Generator, large: bool = False) -> dict:
    """
    Return a plane's texture fields: kind, texel size and contrast.

    Large surfaces (wall, floor) get no stripes: a wall of stripes repeating within the search
    window has no single answer for any matcher.
    """
    kinds = TEXTURES[:4] if large else TEXTURES
    weights = np.array((0.2, 0.25, 0.15, 0.2, 0.2)[:len(kinds)])
    kind = str(rng.choice(kinds, p=weights / weights.sum()))
    contrast = rng.uniform(0.15, 0.4) if kind == 'smooth' else rng.uniform(0.5, 1.0)
    return {'texture': kind, 'texel_m': float(rng.uniform(0.001, 0.002)),
            'contrast': float(contrast), 'seed': int(rng.integers(1 << 30)),
            'tint_bgr': tuple(float(t) for t in rng.uniform(0.7, 1.0, 3))}


def family_case(seed: int, base: StereoCalibration | None = None) -> FamilyCase:
    """
    Return the family's scene `seed`: a RAiV-like rig, a back wall, a floor, boxes and panels.

    Geometry: back wall fronto-parallel at 2.3-2.95 m, a floor 0.45-0.8 m below the camera with
    a few degrees of pitch and roll, 1-3 boxes (a front face turned up to 50 degrees and a side
    face) at 0.6-2.2 m, a panel turned 30-60 degrees, a near card at 0.3-0.6 m; stripes only on
    the boxes, panel and card. Textures are area-sampled (Scene.area_sampling). Rig: radial
    distortion and a right camera rotated 0.2-1.0 degrees, rectified by cv2.stereoRectify as a
    factory calibration would be. Photometry per camera: gain 0.9-1.1, offset +-8, noise sigma
    0.5-4, vignetting 10-35 %, defocus 0.2-0.9 px.
    """
    rng = np.random.default_rng(seed)
    base = base or raiv_nominal()
    rig = distorted_rig(base, k1=float(rng.uniform(-0.12, -0.03)),
                        k2=float(rng.uniform(0.0, 0.03)),
                        rotation_deg=float(rng.uniform(0.2, 1.0) * rng.choice((-1.0, 1.0))))
    planes: list[Plane] = []
    slanted: list[int] = []
    wall_m = float(rng.uniform(2.3, 2.95))
    planes.append(Plane(center_m=(0.0, 0.0, wall_m), half_size_m=(8.0, 8.0),
                        **_texture_choice(rng, large=True)))
    # Floor: y = height below the camera, tilted by pitch (about x) and roll (about z).
    height_m = float(rng.uniform(0.45, 0.8))
    pitch, roll = np.radians(rng.uniform(-3.0, 3.0)), np.radians(rng.uniform(-4.0, 4.0))
    axis_u = (math.cos(roll), math.sin(roll), 0.0)
    axis_v = (0.0, math.sin(pitch), math.cos(pitch))
    slanted.append(len(planes))
    planes.append(Plane(center_m=(0.0, height_m, wall_m / 2.0), axis_u=axis_u, axis_v=axis_v,
                        half_size_m=(8.0, wall_m / 2.0), **_texture_choice(rng, large=True)))
    for _ in range(int(rng.integers(1, 4))):
        z_m = float(rng.uniform(0.6, 2.2))
        x_m = float(rng.uniform(-0.45, 0.45)) * z_m
        y_m = float(rng.uniform(-0.25, 0.2)) * z_m
        half_m = float(rng.uniform(0.08, 0.3))
        yaw = float(rng.uniform(-50.0, 50.0))
        if abs(yaw) > 10.0:
            slanted.append(len(planes))
        planes.append(Plane(center_m=(x_m, y_m, z_m), axis_u=_rotated_y(yaw),
                            half_size_m=(half_m, half_m), **_texture_choice(rng)))
        # The side face, seen when the box is off-centre: along the front face's normal,
        # from the front edge nearer the image centre.
        front_u = np.asarray(_rotated_y(yaw))
        normal = np.cross(front_u, (0.0, 1.0, 0.0))
        side = math.copysign(1.0, -x_m)
        centre = np.array([x_m, y_m, z_m]) + side * half_m * front_u + half_m * normal
        slanted.append(len(planes))
        planes.append(Plane(center_m=tuple(float(c) for c in centre),
                            axis_u=tuple(float(c) for c in normal),
                            half_size_m=(half_m, half_m), **_texture_choice(rng)))
    panel_yaw = float(rng.uniform(30.0, 60.0) * rng.choice((-1.0, 1.0)))
    panel_z = float(rng.uniform(1.0, 2.2))
    slanted.append(len(planes))
    planes.append(Plane(center_m=(float(rng.uniform(-0.4, 0.4)) * panel_z, -0.1 * panel_z,
                                  panel_z),
                        axis_u=_rotated_y(panel_yaw), half_size_m=(0.3, 0.25),
                        **_texture_choice(rng)))
    card_z = float(rng.uniform(0.3, 0.6))
    planes.append(Plane(center_m=(float(rng.uniform(-0.3, 0.3)) * card_z,
                                  float(rng.uniform(-0.3, 0.1)) * card_z, card_z),
                        half_size_m=(float(rng.uniform(0.04, 0.1)),) * 2,
                        **_texture_choice(rng)))
    sigma = float(rng.uniform(0.5, 4.0))
    vignetting = float(rng.uniform(0.1, 0.35))
    photometry = tuple(Photometry(gain=float(rng.uniform(0.9, 1.1)),
                                  offset=float(rng.uniform(-8.0, 8.0)), noise_sigma=sigma,
                                  vignetting=vignetting * float(rng.uniform(0.9, 1.1)),
                                  defocus_sigma_px=float(rng.uniform(0.2, 0.9)))
                       for _ in range(2))
    return FamilyCase(seed, rig, Scene(planes=tuple(planes), area_sampling=True), photometry,
                      tuple(slanted))


__all__ = ['Plane', 'Scene', 'RenderedPair', 'Renderer', 'sample_scene', 'render_stereo',
           'truth_depth_m', 'truth_labels', 'distorted_rig', 'TEXEL_M', 'TEXTURES', 'texture_tile',
           'Photometry', 'FamilyCase', 'family_case']
