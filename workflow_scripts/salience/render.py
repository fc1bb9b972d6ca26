"""Heatmap and overlay videos from a store of per-frame log-densities.

The store is a zarr v3 group with an array ``log_density`` of shape (T, H, W),
float32 or float16 (read as float32 here), one chunk per frame, each frame a
log-density (its logsumexp is 0).
Everything here streams: one frame of the store and one frame of the source
video are in memory at a time, never the whole video.

Videos are encoded by the ffmpeg binary of imageio-ffmpeg (OpenCV's wheels have
no H.264 encoder): raw RGB frames go down a pipe, H.264 (yuv420p, BT.709) comes
out. Every output is written under a temporary name in its own directory and
renamed into place only when complete, so a killed or failed job never leaves
a file that looks finished. A job killed with SIGKILL can leave such temporary
files behind: they are hidden and named ``.<name>.<random>.partial<suffix>``.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import tempfile
from contextlib import ExitStack
from fractions import Fraction

import cv2
import numpy as np

from .atomic import StagedDir, unused_sibling
from .errors import ConfigError, SalienceError, VideoError
from .video import ffmpeg_exe, has_audio_stream, probe, read_frames, seek_is_exact

NORMALIZATIONS = ("frame", "global")
_MP4_FAMILY = (".mp4", ".m4v", ".mov")  # containers where +faststart means something


# --------------------------------------------------------------------------- colour


@functools.lru_cache(maxsize=None)
def colormap_lut(cmap: str) -> np.ndarray:
    """A matplotlib colormap as a 256 x 3 uint8 RGB lookup table (built once per name)."""
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError as error:
        raise ConfigError(
            f"unknown colormap {cmap!r}: use a matplotlib colormap name, e.g. 'inferno', 'viridis', 'jet'"
        ) from error
    rgba = colormap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.setflags(write=False)  # shared by the cache
    return lut


def normalized_density(log_density: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Density scaled to [0, 1] as float32: by the frame's own max, or by ``vmax`` (clipped).

    Computed as ``exp(log_density - log(reference))`` rather than
    ``exp(log_density) / reference``: at full resolution a density is ~1e-6 per
    pixel, and subtracting in log space keeps the low end from underflowing.
    NaN counts as zero density.
    """
    log_density = np.asarray(log_density, dtype=np.float32)
    if log_density.ndim != 2:
        raise ValueError(f"a log-density frame must be 2-D (H x W), got shape {log_density.shape}")
    if vmax is None:
        log_reference = float(np.fmax.reduce(log_density, axis=None))  # fmax ignores NaN
        if not math.isfinite(log_reference):
            return np.zeros(log_density.shape, np.float32)  # no mass anywhere: all lowest colour
    else:
        if not vmax > 0:
            raise ValueError(f"vmax must be a positive density, got {vmax}")
        log_reference = math.log(vmax)
    scaled = np.exp(log_density - np.float32(log_reference))
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=1.0)
    return np.minimum(scaled, 1.0, out=scaled)


def _apply_lut(scaled: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB through a 256-entry table (overwrites ``scaled``)."""
    index = np.empty(scaled.shape, np.uint8)
    np.multiply(scaled, 255.0, out=scaled)
    np.add(scaled, 0.5, out=scaled)  # round to the nearest entry
    np.copyto(index, scaled, casting="unsafe")
    # cv2.LUT on a 3-channel index image is several times faster than numpy fancy indexing.
    return cv2.LUT(cv2.merge([index, index, index]), lut.reshape(256, 1, 3))


def colorize(log_density: np.ndarray, *, cmap: str = "inferno", vmax: float | None = None) -> np.ndarray:
    """A log-density frame as an RGB uint8 heatmap (H x W x 3).

    ``vmax=None``: per-frame normalization, the frame's densest pixel gets the
    colormap's top colour. Otherwise global normalization: density / ``vmax``,
    clipped to 1 (pass ``global_density_max`` of the whole store).
    """
    return _apply_lut(normalized_density(log_density, vmax), colormap_lut(cmap))


def blend(frame_rgb: np.ndarray, heat_rgb: np.ndarray, opacity: float) -> np.ndarray:
    """The heatmap laid over the frame: ``(1 - opacity) * frame + opacity * heat``, uint8."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    if frame_rgb.shape != heat_rgb.shape or frame_rgb.dtype != np.uint8 or heat_rgb.dtype != np.uint8:
        raise ValueError(
            f"frame and heatmap must be uint8 arrays of one shape, got {frame_rgb.shape} "
            f"{frame_rgb.dtype} and {heat_rgb.shape} {heat_rgb.dtype}"
        )
    return cv2.addWeighted(frame_rgb, 1.0 - opacity, heat_rgb, opacity, 0.0)


def global_density_max(log_density_array) -> float:
    """The largest density (``exp`` of the largest log-density) over all frames.

    Streams: reads one frame (one chunk) at a time. NaN is ignored.
    """
    peak = -math.inf
    for index in range(log_density_array.shape[0]):
        frame = np.asarray(log_density_array[index], dtype=np.float32)
        peak = max(peak, float(np.fmax.reduce(frame, axis=None)))
    if not math.isfinite(peak):
        raise ValueError("the log-density array holds no finite value: nothing to normalize by")
    return math.exp(peak)


# --------------------------------------------------------------------------- encoding


def fps_fraction(fps) -> Fraction:
    """The frame rate as an exact fraction: 29.97002997... -> 30000/1001, 25.0 -> 25/1.

    OpenCV reports the rate as a float; the common rates are ratios with small
    denominators (NTSC: /1001), so the nearest such ratio is the exact rate.
    """
    if isinstance(fps, Fraction):
        return fps
    if isinstance(fps, str):
        return Fraction(fps)
    value = float(fps)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    for max_denominator in (1001, 1_000_000):
        candidate = Fraction(value).limit_denominator(max_denominator)
        if abs(float(candidate) - value) <= 1e-9 * value:
            return candidate
    return candidate


class H264Writer:
    """Encode RGB frames to an H.264 file with the ffmpeg binary, atomically.

    Use as a context manager: on a clean exit the file appears at ``path``
    (renamed from a temporary file in the same directory); on an exception the
    temporary file is deleted and nothing appears.

    - libx264, yuv420p, BT.709 tagged, ``+faststart`` for .mp4/.m4v/.mov.
    - ``fps`` exactly, passed to ffmpeg as a fraction (``fps_fraction``).
    - An odd width or height is padded by one black column/row to the next even
      size (yuv420p stores colour at half resolution, so x264 needs even sizes);
      the file is then 1 pixel wider/taller than the frames written.
    - ``audio_from``: a file whose first audio stream, if it has one, is muxed
      in (AAC) by the same ffmpeg call. Audio shorter than the video is padded
      with silence and longer audio is cut, so the frame count is exactly the
      number of frames written.
    - ffmpeg's stderr is kept in a temporary file (no pipe to fill up and
      deadlock) and quoted in any error.
    """

    def __init__(self, path, fps, width: int, height: int, *, audio_from: str | None = None,
                 crf: int = 18, preset: str = "medium"):
        self.path = os.fspath(path)
        self.width, self.height = int(width), int(height)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"bad frame size {width}x{height} for {self.path}")
        self.fps = fps_fraction(fps)
        self.frames_written = 0
        directory, name = os.path.split(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        suffix = os.path.splitext(name)[1] or ".mp4"
        self._temp_path = unused_sibling(directory, name, f".partial{suffix}")
        self._stderr = tempfile.TemporaryFile()
        with_audio = audio_from is not None and has_audio_stream(audio_from)
        command = self._command(suffix, audio_from if with_audio else None, crf, preset)
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=self._stderr)
        except BaseException:
            self._discard_temp()
            self._stderr.close()
            raise
        self._state = "open"  # -> "finished" (encoded) -> "closed" (published) | "aborted"

    def _command(self, suffix: str, audio_from: str | None, crf: int, preset: str) -> list[str]:
        filters = []
        if self.width % 2 or self.height % 2:
            filters.append("pad=ceil(iw/2)*2:ceil(ih/2)*2")  # black column/row at the right/bottom
        # RGB -> YUV with the BT.709 matrix, and say so in the stream, so players
        # do not guess (they would assume BT.601 for small frames).
        filters.append("scale=out_color_matrix=bt709:out_range=tv,format=yuv420p")
        command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}",
                   "-framerate", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "pipe:0"]
        if audio_from is not None:
            command += ["-i", "file:" + os.path.abspath(audio_from)]
        command += ["-map", "0:v:0"]
        if audio_from is not None:
            command += ["-map", "1:a:0?"]
        command += ["-vf", ",".join(filters), "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
                    "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
                    "-color_trc", "bt709", "-color_range", "tv"]
        if audio_from is not None:
            # apad + -shortest: the video alone decides the length.
            command += ["-c:a", "aac", "-b:a", "192k", "-af", "apad", "-shortest"]
        if suffix.lower() in _MP4_FAMILY:
            command += ["-movflags", "+faststart"]
        return command + ["file:" + self._temp_path]

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB uint8 frame of the writer's size."""
        if self._state != "open":
            raise RuntimeError(f"writer for {self.path} is {self._state}")
        if frame_rgb.shape != (self.height, self.width, 3) or frame_rgb.dtype != np.uint8:
            raise ValueError(
                f"frame for {self.path} must be uint8 {self.height}x{self.width}x3, "
                f"got {frame_rgb.dtype} {frame_rgb.shape}"
            )
        try:
            self._process.stdin.write(memoryview(np.ascontiguousarray(frame_rgb)).cast("B"))
        except OSError as error:  # BrokenPipeError: ffmpeg died
            self._process.wait()
            message = self._failure(f"ffmpeg stopped while frame {self.frames_written} was written")
            self.abort()
            raise VideoError(message) from error
        self.frames_written += 1

    def finish(self) -> None:
        """Let ffmpeg finish the temporary file; raise VideoError if it failed. Publishes nothing."""
        if self._state != "open":
            return
        try:
            self._process.stdin.close()
        except OSError:
            pass  # ffmpeg already gone; its exit status tells why
        returncode = self._process.wait()
        if returncode != 0 or self.frames_written == 0:
            reason = f"ffmpeg exited with status {returncode}" if returncode else "no frames were written"
            message = self._failure(reason)
            self.abort()
            raise VideoError(message)
        self._state = "finished"

    def close(self) -> None:
        """Finish encoding and move the file into place (atomic rename)."""
        if self._state == "open":
            self.finish()
        if self._state == "finished":
            os.replace(self._temp_path, self.path)
            self._state = "closed"
            self._stderr.close()

    def abort(self) -> None:
        """Stop ffmpeg and delete the temporary file; ``path`` is left untouched."""
        if self._state in ("closed", "aborted"):
            return
        if self._process.poll() is None:
            self._process.kill()
        try:
            self._process.stdin.close()
        except OSError:
            pass
        self._process.wait()
        self._discard_temp()
        self._stderr.close()
        self._state = "aborted"

    def _discard_temp(self) -> None:
        try:
            os.unlink(self._temp_path)
        except FileNotFoundError:
            pass

    def _failure(self, reason: str) -> str:
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace").strip()[-4000:]
        return (
            f"could not write {self.path}: {reason}. ffmpeg said:\n{stderr or '(nothing)'}\n"
            "Check free disk space and that the directory is writable."
        )


# --------------------------------------------------------------------------- the renderer


def open_log_density(zarr_path):
    """The ``log_density`` array of a saliency store, opened read-only (nothing loaded)."""
    from .store import open_array

    return open_array(zarr_path)


def render_videos(zarr_path, source_video, *, heatmap_path, overlay_path, cmap: str = "inferno",
                  normalization: str = "frame", opacity: float = 0.5, png_dir=None, npy_dir=None,
                  audio: bool = True, crf: int = 18, preset: str = "medium") -> None:
    """Write the heatmap video and the overlay video of one saliency store, in one pass.

    Both videos have the source's fps, frame size (odd sizes padded to even,
    see ``H264Writer``) and frame count, and carry the source's first audio
    stream when it has one and ``audio`` is true. ``normalization="frame"``
    scales each frame by its own max; ``"global"`` by the max over the whole
    store (one extra streaming pass over the store, not the video). A store
    whose frames are not the source's size is resized to it (linear
    interpolation of the normalized density, before colouring).

    Optional exports, each directory published whole by a rename when every
    frame is in it: ``png_dir`` gets the heatmap frames as
    ``frame_000123.png``, ``npy_dir`` the float32 log-density frames as
    ``frame_000123.npy`` (indices zero-padded to the digits of the frame
    count, at least 6).

    Frame count mismatches between store and video raise VideoError and leave
    no output. ``crf`` and ``preset`` go to libx264; the two encodes dominate
    the run time (at 1280x720 on 2 cores about 16 frames/s with "medium",
    36 with "veryfast").
    """
    _check_normalization(normalization)
    if not 0.0 <= opacity <= 1.0:
        raise ConfigError(f"opacity must be in [0, 1], got {opacity}")
    lut = colormap_lut(cmap)
    log_density = open_log_density(zarr_path)
    frame_count = log_density.shape[0]
    source_video = os.fspath(source_video)

    # The header count is enough here: the loop below counts the frames it reads.
    info = probe(source_video, verify=False)
    if (seek_is_exact(source_video) or info.frame_count_verified) and info.frame_count != frame_count:
        raise VideoError(_count_mismatch(zarr_path, frame_count, source_video, info.frame_count))
    vmax = global_density_max(log_density) if normalization == "global" else None
    digits = max(6, len(str(frame_count)))
    audio_from = source_video if audio and info.has_audio else None
    size = (info.width, info.height)

    with ExitStack() as outputs:  # on an exception every output is discarded
        encoding = dict(audio_from=audio_from, crf=crf, preset=preset)
        heat_writer = outputs.enter_context(H264Writer(heatmap_path, info.fps, *size, **encoding))
        overlay_writer = outputs.enter_context(H264Writer(overlay_path, info.fps, *size, **encoding))
        pngs = outputs.enter_context(StagedDir(png_dir)) if png_dir is not None else None
        npys = outputs.enter_context(StagedDir(npy_dir)) if npy_dir is not None else None

        frames_read = 0
        for index, frame in enumerate(read_frames(source_video, 0, None)):
            if index >= frame_count:
                raise VideoError(_count_mismatch(zarr_path, frame_count, source_video, f"more than {frame_count}"))
            log_frame = np.asarray(log_density[index], dtype=np.float32)
            scaled = normalized_density(log_frame, vmax)
            if scaled.shape != frame.shape[:2]:
                scaled = cv2.resize(scaled, size, interpolation=cv2.INTER_LINEAR)
            heat = _apply_lut(scaled, lut)
            heat_writer.write(heat)
            overlay_writer.write(blend(frame, heat, opacity))
            _export_frame(index, digits, heat, log_frame, pngs, npys)
            frames_read += 1
        if frames_read != frame_count:
            raise VideoError(_count_mismatch(zarr_path, frame_count, source_video, frames_read))
        # Finish both encodes before publishing anything, so that a failing
        # ffmpeg leaves none of the outputs rather than some of them.
        heat_writer.finish()
        overlay_writer.finish()


def _export_frame(index, digits, heat, log_frame, pngs, npys) -> None:
    """Write one frame's heatmap PNG and/or log-density .npy into staged directories."""
    stem = f"frame_{index:0{digits}d}"
    if pngs is not None:
        png_path = pngs.file(stem + ".png")
        if not cv2.imwrite(png_path, cv2.cvtColor(heat, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {png_path} (disk full?)")
    if npys is not None:
        np.save(npys.file(stem + ".npy"), log_frame)


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def export_frames(zarr_path, *, png_dir=None, npy_dir=None, cmap: str = "inferno",
                  normalization: str = "frame") -> None:
    """Per-frame files from a store alone (no video needed), named as in ``render_videos``.

    ``png_dir``: heatmap PNGs at the store's size; ``npy_dir``: float32
    log-density arrays, the format of the old notebooks. Each directory
    appears whole or not at all.
    """
    _check_normalization(normalization)
    lut = colormap_lut(cmap)
    log_density = open_log_density(zarr_path)
    frame_count = log_density.shape[0]
    vmax = global_density_max(log_density) if normalization == "global" and png_dir else None
    digits = max(6, len(str(frame_count)))
    with ExitStack() as outputs:
        pngs = outputs.enter_context(StagedDir(png_dir)) if png_dir is not None else None
        npys = outputs.enter_context(StagedDir(npy_dir)) if npy_dir is not None else None
        for index in range(frame_count):
            log_frame = np.asarray(log_density[index], dtype=np.float32)
            heat = _apply_lut(normalized_density(log_frame, vmax), lut) if pngs is not None else None
            _export_frame(index, digits, heat, log_frame, pngs, npys)


def _count_mismatch(zarr_path, store_frames, source_video, video_frames) -> str:
    return (
        f"{os.fspath(zarr_path)} holds {store_frames} frames but {source_video} has {video_frames}: "
        "the store was not made from this video (or is incomplete). Re-run the prediction for it."
    )
