"""Realistic image changes for the robustness bench (bench/robustness.py), one clip at a time.

Each change turns a rendered clip folder (video.mp4, truth.json, camera.json, layout.json) into
a changed copy of that folder: the video re-encoded frame by frame with the change applied, the
geometry files kept (or rescaled, for a lower resolution), so that the truth still describes the
changed video exactly. Why each change exists (what it simulates in a clinic) is in
docs/robustness.md; the functions below are the physics, kept small enough to be tested in
measurable units (tests/robustness/test_robustness_bench.py).

Everything is deterministic: the noise field is seeded by the clip name and each frame's window
of it by clip name + frame index, so the same clip and change give the same frames on every run
and the cache (keyed by source video, change and PERTURB_VERSION) can be trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]

#: Bump when any change's output changes, so cached videos are made again.
PERTURB_VERSION = 2
ROOT = Path(__file__).resolve().parents[1]
PERSON_PHOTO = ROOT / "tests" / "fixtures" / "images" / "image1.png"
TABLE_WIDTH_MM = 700.0  # table frame y extent (shared/fixtures/README.md)
NOISE_MARGIN = 64  # px: room for a per-frame shift of the noise field
PERSON_LENGTH_MM = 1000.0  # pasted second person, head to toe, at table scale
PERSON_MIN_MM = 500.0  # ... shrunk at most to this to fit the image beyond the heels
PERSON_GAP_MM = 40.0  # between the patient (heels, table edge) and the pasted figure

# ---------------------------------------------------------------------------------------------
# Camera geometry (camera.json), shared by the band, the second person and the downscale


@dataclass(frozen=True, slots=True)
class Camera:
    """The clip's true camera (camera.json): enough to project table mm <-> pixels."""

    matrix: FloatArray
    dist: FloatArray
    rvec: FloatArray
    tvec: FloatArray
    size: tuple[int, int]

    @classmethod
    def from_json(cls, cam: dict[str, Any]) -> Camera:
        return cls(
            matrix=np.array(cam["K"], dtype=np.float64),
            dist=np.array(cam["dist"], dtype=np.float64),
            rvec=np.array(cam["rvec"], dtype=np.float64),
            tvec=np.array(cam["t_table_to_cam_mm"], dtype=np.float64),
            size=(int(cam["width"]), int(cam["height"])),
        )

    def project(self, points_mm: FloatArray) -> FloatArray:
        """Table mm (N, 3) -> pixels (N, 2), lens distortion included (as rendered)."""
        pts = np.asarray(points_mm, dtype=np.float64).reshape(-1, 1, 3)
        px, _ = cv2.projectPoints(pts, self.rvec, self.tvec, self.matrix, self.dist)
        return px.reshape(-1, 2)

    def unproject(self, px: FloatArray, z_mm: float) -> FloatArray:
        """Pixels (N, 2) -> table mm (N, 3) on the plane z = z_mm (ray-plane intersection)."""
        pts = np.asarray(px, dtype=np.float64).reshape(-1, 1, 2)
        norm = cv2.undistortPoints(pts, self.matrix, self.dist).reshape(-1, 2)
        rays_cam = np.column_stack([norm, np.ones(len(norm))])
        rot, _ = cv2.Rodrigues(self.rvec)
        centre = -rot.T @ self.tvec
        rays = rays_cam @ rot  # == (rot.T @ ray.T).T
        s = (z_mm - centre[2]) / rays[:, 2]
        return centre + rays * s[:, None]

    def px_per_mm(self, at_mm: FloatArray) -> float:
        """Image scale near a table point (mean over x and y of a 10 mm step)."""
        p = np.asarray(at_mm, dtype=np.float64)
        px = self.project(np.stack([p, p + np.array([10.0, 0, 0]), p + np.array([0, 10.0, 0])]))
        return float((np.linalg.norm(px[1] - px[0]) + np.linalg.norm(px[2] - px[0])) / 20.0)


def scaled_camera_json(cam: dict[str, Any], scale: float) -> dict[str, Any]:
    """camera.json for the same camera after resizing the image by `scale`.

    Pixel centres (OpenCV: (0,0) is the centre of the top-left pixel) map as
    x' = s (x + 0.5) - 0.5, so focal lengths scale by s and the principal point by the same
    affine map; distortion is in normalised coordinates and stays as it is.
    """
    out = json.loads(json.dumps(cam))
    k = np.array(cam["K"], dtype=np.float64)
    k[0, 0] *= scale
    k[1, 1] *= scale
    k[0, 1] *= scale
    k[0, 2] = scale * (k[0, 2] + 0.5) - 0.5
    k[1, 2] = scale * (k[1, 2] + 0.5) - 0.5
    out["K"] = k.tolist()
    out["width"], out["height"] = scaled_size((cam["width"], cam["height"]), scale)
    out["marker_corners_px"] = {
        mid: [[scale * (x + 0.5) - 0.5, scale * (y + 0.5) - 0.5] for x, y in corners]
        for mid, corners in cam.get("marker_corners_px", {}).items()
    }
    return out


def scaled_size(size: tuple[int, int] | list[int], scale: float) -> tuple[int, int]:
    return round(size[0] * scale), round(size[1] * scale)


def scaled_truth(truth: dict[str, Any], scale: float) -> dict[str, Any]:
    """truth.json after resizing: image size and every `points_px` rescaled (mm unchanged)."""
    out = json.loads(json.dumps(truth))
    out["size"] = list(scaled_size(truth["size"], scale))
    for frame in out["frames"]:
        frame["points_px"] = {
            k: [scale * (x + 0.5) - 0.5, scale * (y + 0.5) - 0.5]
            for k, (x, y) in frame["points_px"].items()
        }
    return out


# ---------------------------------------------------------------------------------------------
# Photometric changes (pure functions of one frame)


def srgb_to_linear(img: Image) -> FloatArray:
    """8-bit gamma-encoded values -> linear light in 0..1 (a 2.2 power law, close to sRGB)."""
    return (img.astype(np.float64) / 255.0) ** 2.2


def linear_to_srgb(lin: FloatArray) -> Image:
    return np.clip(np.round(255.0 * np.clip(lin, 0.0, 1.0) ** (1 / 2.2)), 0, 255).astype(np.uint8)


_LEVELS = np.arange(256, dtype=np.uint8)


def _apply_lut(img: Image, per_level: Callable[[Image], Image]) -> Image:
    """Apply a point operation through a 256-entry table (one per channel if it returns 3):
    the same numbers as computing it per pixel, ~50x faster on a 1080p frame."""
    table = per_level(_LEVELS)
    lut = table.reshape(256, 1, -1) if table.ndim == 2 else table.reshape(256, 1)
    return cv2.LUT(img, lut)


def exposure(img: Image, ev: float) -> Image:
    """Exposure change by `ev` stops: linear light times 2**ev, clipped at white (as a sensor)."""
    return _apply_lut(img, lambda v: linear_to_srgb(srgb_to_linear(v) * 2.0**ev))


def halve_contrast(img: Image) -> Image:
    """Contrast halved about the frame's mean grey: every deviation from the mean is halved,
    so the standard deviation of the frame is half (a flat light, a washed-out webcam)."""
    mean = float(img.mean())
    return _apply_lut(
        img, lambda v: np.clip(np.round(mean + 0.5 * (v - mean)), 0, 255).astype(np.uint8)
    )


def colour_cast(img: Image, gains_bgr: tuple[float, float, float]) -> Image:
    """Per-channel gains in linear light (tungsten or LED light with no white balance)."""
    gains = np.array(gains_bgr, dtype=np.float64)
    return _apply_lut(img, lambda v: linear_to_srgb(srgb_to_linear(v)[:, None] * gains))


def defocus(img: Image, sigma_px: float = 1.5) -> Image:
    """Gaussian defocus of the given sigma (a lens slightly out of focus at the table)."""
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px)


def noise_field(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> Image:
    """Gaussian noise of `sigma` grey levels, rounded to int16, `NOISE_MARGIN` px larger than
    a frame on each axis, so each frame can take its own shifted window of it."""
    h, w, c = shape
    big = (h + NOISE_MARGIN, w + NOISE_MARGIN, c)
    return np.round(rng.standard_normal(big, dtype=np.float32) * sigma).astype(np.int16)


def add_noise(img: Image, field: Image, rng: np.random.Generator) -> Image:
    """Additive sensor noise: a window of `field` at a random offset (independent per pixel
    and channel within the frame; a new offset per frame). Drawing a fresh field per frame
    costs ~0.15 s on this machine, the window ~5 ms."""
    h, w = img.shape[:2]
    dy, dx = rng.integers(0, NOISE_MARGIN, size=2)
    noisy = img.astype(np.int16) + field[dy : dy + h, dx : dx + w]
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(img: Image, quality: int) -> Image:
    """A JPEG round trip at `quality` (a cheap webcam's MJPEG stream, an upload re-encoded)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def drift_ev(t_s: float, duration_s: float, ev_span: float) -> float:
    """Auto-exposure drift: EV ramps linearly from -span/2 to +span/2 over the clip."""
    return ev_span * (t_s / max(duration_s, 1e-9) - 0.5)


# ---------------------------------------------------------------------------------------------
# Geometric changes: a dark band beyond one heel, a second person


def band_mask(
    camera: Camera,
    heel_mm: FloatArray,
    axis_deg: float,
    near_mm: float = 5.0,
    far_mm: float = 10.0,
    half_width_mm: float = 50.0,
    soft_mm: float = 0.5,
) -> FloatArray:
    """Float mask (H, W) of a band from `near_mm` to `far_mm` beyond the heel along the body
    axis, `half_width_mm` to each side, in the heel's own plane (so it projects exactly where
    an edge 5-10 mm beyond that heel would appear); edges softened by a `soft_mm` Gaussian."""
    a = np.array([np.cos(np.radians(axis_deg)), np.sin(np.radians(axis_deg)), 0.0])
    p = np.array([-a[1], a[0], 0.0])
    heel = np.asarray(heel_mm, dtype=np.float64)
    steps = np.linspace(-1.0, 1.0, 9)
    near = [heel + a * near_mm + p * half_width_mm * s for s in steps]
    far = [heel + a * far_mm + p * half_width_mm * s for s in steps[::-1]]
    poly = camera.project(np.array(near + far))
    w, h = camera.size
    mask = np.zeros((h, w), dtype=np.float32)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    sigma = soft_mm * camera.px_per_mm(heel)
    if sigma > 0.3:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return mask.astype(np.float64)


def darken(img: Image, mask: FloatArray, depth: float) -> Image:
    """Multiply by (1 - depth * mask): a shadowed or dark object where the mask is 1."""
    return composite(img, np.zeros_like(img), depth * mask)


@cache
def person_cutout() -> tuple[Image, FloatArray]:
    """A real standing person cut out of a photo: BGR crop and alpha (0..1).

    tests/fixtures/images/image1.png (Pixabay licence; that folder's PROVENANCE.md) is a
    person already cut out of a studio backdrop: its PNG alpha channel is the mask. Pixels of
    alpha >= 200 are the body (the soft floor shadow is fainter and stays out), the largest
    connected region is kept and its edge feathered by 1 px."""
    img = cv2.imread(str(PERSON_PHOTO), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] != 4:
        raise FileNotFoundError(f"{PERSON_PHOTO}: expected a BGRA photo")
    fg = (img[:, :, 3] >= 200).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    body = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    ys, xs = np.nonzero(body)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(body.astype(np.float32), (0, 0), 1.0)[y0:y1, x0:x1]
    return img[y0:y1, x0:x1, :3].copy(), alpha.astype(np.float64)


def person_layer(
    camera: Camera, head_mm: FloatArray, toward_feet_mm: FloatArray, length_mm: float
) -> tuple[Image, FloatArray]:
    """The cut-out person warped into the image: the top of the head at table point
    `head_mm`, the body running along the table-plane direction `toward_feet_mm` for
    `length_mm` (scaled at the head's image scale). Returns (BGR layer, alpha)."""
    crop, alpha = person_cutout()
    ch, cw = alpha.shape
    d = np.asarray(toward_feet_mm, dtype=np.float64)
    d = d / np.linalg.norm(d)
    head_px, ahead_px = camera.project(np.stack([head_mm, head_mm + d * 100.0]))
    down = (ahead_px - head_px) / np.linalg.norm(ahead_px - head_px)
    right = np.array([-down[1], down[0]])
    scale = length_mm * camera.px_per_mm(head_mm) / ch
    # crop (u, v) -> image: head_px + (u - cw/2) * scale * right + v * scale * down
    m = np.column_stack([right * scale, down * scale, head_px - right * scale * cw / 2])
    w, h = camera.size
    layer = cv2.warpAffine(crop, m, (w, h), flags=cv2.INTER_AREA)
    a = cv2.warpAffine(alpha.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
    return layer, a.astype(np.float64)


def composite(img: Image, layer: Image, alpha: FloatArray) -> Image:
    """img * (1 - alpha) + layer * alpha, computed only inside alpha's bounding box."""
    out = img.copy()
    ys, xs = np.nonzero(alpha > 1e-4)
    if ys.size == 0:
        return out
    box = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    a = alpha[box][..., None]
    mixed = img[box].astype(np.float64) * (1 - a) + layer[box] * a
    out[box] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# The catalogue of changes: name -> how to build a per-frame function for one clip


@dataclass(frozen=True, slots=True)
class ClipContext:
    """What a change may look at: the clip's truth and camera, and where it is."""

    name: str
    truth: dict[str, Any]
    camera_json: dict[str, Any]
    fps: float
    n_frames: int

    @property
    def camera(self) -> Camera:
        return Camera.from_json(self.camera_json)

    def seed(self, salt: str) -> int:
        return zlib.crc32(f"{self.name}:{salt}".encode())


FrameFn = Callable[[Image, int], Image]


def _noise_jpeg(ctx: ClipContext) -> FrameFn:
    w, h = ctx.camera.size
    field = noise_field((h, w, 3), 6.0, np.random.default_rng(ctx.seed("noise")))

    def apply(img: Image, k: int) -> Image:
        rng = np.random.default_rng([ctx.seed("noise"), k])
        return jpeg(add_noise(img, field, rng), 25)

    return apply


def _exposure_drift(ctx: ClipContext) -> FrameFn:
    duration = ctx.n_frames / ctx.fps

    def apply(img: Image, k: int) -> Image:
        return exposure(img, drift_ev(k / ctx.fps, duration, 1.2))

    return apply


def _truth_frame(ctx: ClipContext, k: int) -> dict[str, Any]:
    frames = ctx.truth["frames"]
    return frames[min(k, len(frames) - 1)]


def _dark_band(ctx: ClipContext) -> FrameFn:
    cam = ctx.camera

    def apply(img: Image, k: int) -> Image:
        fr = _truth_frame(ctx, k)
        mask = band_mask(cam, np.array(fr["points_mm"]["heel_L"]), fr["body_axis_deg"])
        return darken(img, mask, 0.6)

    return apply


def _second_person(where: str) -> Callable[[ClipContext], FrameFn]:
    """A second person pasted in, still for the whole clip (placed from frame 0's truth).

    The figure is 1.0 m long at table scale and lies in the table plane: a 1.7 m person seen
    from above is foreshortened, and what matters to the pose model is a second complete
    human figure in view, as in the real photos where the model took the wrong person.
    `feet`: across the image just beyond the heels (40 mm gap), head toward the patient's
    left (a practitioner standing at the foot end), shrunk (down to 0.5 m) to fit the strip
    of image beyond the heels. `hips`: beside the table's right edge
    (40 mm gap), level with the right hip, head toward the head end (a helper beside the
    hips)."""

    def build(ctx: ClipContext) -> FrameFn:
        cam = ctx.camera
        pts = {
            k: np.array(v, dtype=np.float64) for k, v in ctx.truth["frames"][0]["points_mm"].items()
        }
        axis = np.radians(ctx.truth["frames"][0]["body_axis_deg"])
        a = np.array([np.cos(axis), np.sin(axis), 0.0])
        p = np.array([-a[1], a[0], 0.0])
        crop, _ = person_cutout()
        aspect = crop.shape[1] / crop.shape[0]  # width / height of the figure
        if where == "feet":
            # the table-plane point seen where the heels are (heels sit ~100 mm higher)
            mid = cam.unproject(cam.project((pts["heel_L"] + pts["heel_R"]) / 2), 0.0)[0]
            room = _room_along(cam, mid, a) - PERSON_GAP_MM
            length = float(np.clip(room / aspect, PERSON_MIN_MM, PERSON_LENGTH_MM))
            centre, direction = mid + a * (PERSON_GAP_MM + length * aspect / 2), p
        else:
            length = PERSON_LENGTH_MM
            y = TABLE_WIDTH_MM + PERSON_GAP_MM + length * aspect / 2
            centre, direction = np.array([pts["hip_R"][0], y, 0.0]), a
        layer, alpha = person_layer(cam, centre - direction * length / 2, direction, length)
        return lambda img, _k: composite(img, layer, alpha)

    return build


def _room_along(cam: Camera, start_mm: FloatArray, direction: FloatArray) -> float:
    """How far (mm, table plane) one can go from `start_mm` along `direction` inside the image."""
    steps = np.arange(0.0, 3000.0, 10.0)
    px = cam.project(start_mm + steps[:, None] * direction)
    w, h = cam.size
    inside = (px[:, 0] >= 0) & (px[:, 0] <= w - 1) & (px[:, 1] >= 0) & (px[:, 1] <= h - 1)
    return float(steps[np.argmin(inside)] if not inside.all() else steps[-1])


def _per_frame(fn: Callable[[Image], Image]) -> Callable[[ClipContext], FrameFn]:
    return lambda _ctx: lambda img, _k: fn(img)


@dataclass(frozen=True, slots=True)
class Change:
    """One documented image change: a per-frame function builder and an optional resize."""

    name: str
    simulates: str
    build: Callable[[ClipContext], FrameFn]
    scale: float = 1.0


CHANGES: dict[str, Change] = {
    c.name: c
    for c in (
        Change("contrast_half", "flat light / washed-out webcam", _per_frame(halve_contrast)),
        Change(
            "under_exposed",
            "dim room, exposure -1.5 EV",
            _per_frame(lambda im: exposure(im, -1.5)),
        ),
        Change(
            "over_exposed",
            "bright window, exposure +1 EV (highlights clip)",
            _per_frame(lambda im: exposure(im, 1.0)),
        ),
        Change("defocus", "lens focus off, Gaussian sigma 1.5 px", _per_frame(defocus)),
        Change("noise_jpeg", "sensor noise sigma 6 + JPEG q25 per frame", _noise_jpeg),
        Change(
            "colour_cast",
            "warm light, no white balance (R x1.25, B x0.75 linear)",
            _per_frame(lambda im: colour_cast(im, (0.75, 1.0, 1.25))),
        ),
        Change("dark_band", "towel edge / floor line 5-10 mm beyond the left heel", _dark_band),
        Change(
            "downscale", "half-resolution camera (profile rescaled)", _per_frame(lambda i: i), 0.5
        ),
        Change(
            "exposure_drift", "auto-exposure drift -0.6 -> +0.6 EV over the clip", _exposure_drift
        ),
        Change("person_feet", "a second person at the foot end", _second_person("feet")),
        Change("person_hips", "a second person beside the hips", _second_person("hips")),
    )
}


# ---------------------------------------------------------------------------------------------
# Writing a changed clip folder (cached)


def cache_key(clip_dir: Path, change: str) -> str:
    """Source video (size + first MiB hash) + change name + PERTURB_VERSION."""
    video = clip_dir / "video.mp4"
    with video.open("rb") as fh:
        head = hashlib.sha256(fh.read(1 << 20)).hexdigest()[:12]
    return f"{clip_dir.name}__{change}__{video.stat().st_size}-{head}-v{PERTURB_VERSION}"


def changed_clip(clip_dir: Path, change: str, cache_dir: Path) -> Path:
    """The folder of `clip_dir` with `change` applied, made once and then reused."""
    out = cache_dir / cache_key(clip_dir, change)
    if (out / "video.mp4").is_file():
        return out
    tmp = cache_dir / f".{out.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _write_changed(clip_dir, CHANGES[change], tmp)
    try:
        tmp.rename(out)
    except OSError:  # another worker finished the same clip first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_changed(clip_dir: Path, change: Change, out: Path) -> None:
    truth = json.loads((clip_dir / "truth.json").read_text())
    cam = json.loads((clip_dir / "camera.json").read_text())
    shutil.copy(clip_dir / "layout.json", out / "layout.json")
    if change.scale != 1.0:
        (out / "truth.json").write_text(json.dumps(scaled_truth(truth, change.scale)))
        (out / "camera.json").write_text(json.dumps(scaled_camera_json(cam, change.scale)))
    else:
        shutil.copy(clip_dir / "truth.json", out / "truth.json")
        shutil.copy(clip_dir / "camera.json", out / "camera.json")
    cap = cv2.VideoCapture(str(clip_dir / "video.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ctx = ClipContext(clip_dir.name, truth, cam, fps, n)
    fn = change.build(ctx)
    size = scaled_size(truth["size"], change.scale)
    writer = cv2.VideoWriter(str(out / "video.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    k = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            img = fn(img, k)
            if change.scale != 1.0:
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            writer.write(img)
            k += 1
    finally:
        cap.release()
        writer.release()
    (out / "README").write_text(
        f"{clip_dir.name} with change '{change.name}': {change.simulates}\n"
    )
