"""Frame-exact video reading and probing.

Frames are decoded with OpenCV's FFmpeg backend and handed out as RGB uint8
arrays, one at a time, so memory depends on the frame size only.

Frame index ``i`` always means "the i-th frame that sequential decoding from
the start gives". Seeking (``CAP_PROP_POS_FRAMES``) honours that in the
containers listed in ``EXACT_SEEK_CONTAINERS``: there OpenCV's frame count
comes from the container's index and its seeks land on the asked frame (checked
here bit-for-bit for H.264 with B-frames, MPEG-4 part 2, MJPEG and VP9). In
other containers, MPEG-TS above all, the count is an estimate from the duration
and seeks land frames off while reporting the asked position, so frames are
reached by decoding forward from frame 0 instead. To read such a file quickly,
remux it once: ``ffmpeg -i in.ts -c copy out.mkv``.

The ffmpeg binary of ``imageio-ffmpeg`` serves as a prober: it tells whether
the file has an audio stream, and why a file OpenCV cannot open is unusable.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

from .errors import VideoError

# Containers whose frame count (from the index) and frame seeks are trusted.
EXACT_SEEK_CONTAINERS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm"})

_REMUX_HINT = "remux it with `ffmpeg -i in -c copy out.mkv`"
_AUDIO_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: Audio:", re.MULTILINE)
_VIDEO_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: Video:", re.MULTILINE)


@dataclass(frozen=True)
class VideoInfo:
    """What the workflow needs to know about a source video."""

    path: str
    frame_count: int
    fps: float
    width: int
    height: int
    has_audio: bool
    frame_count_verified: bool  # True when the frames were counted by decoding

    def to_dict(self) -> dict:
        """Plain JSON-able dict (for sidecar files and Snakemake params)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VideoInfo:
        """Inverse of ``to_dict``; unknown keys are ignored, missing keys raise KeyError."""
        types = {"path": str, "frame_count": int, "fps": float, "width": int, "height": int,
                 "has_audio": bool, "frame_count_verified": bool}
        return cls(**{f.name: types[f.name](d[f.name]) for f in fields(cls)})


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg (has libx264 and aac)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def seek_is_exact(path) -> bool:
    """Whether frame seeking is trusted for this file's container (by extension).

    True for .mp4/.mov/.m4v/.mkv/.avi/.webm, whose frame index makes
    ``CAP_PROP_POS_FRAMES`` land on exactly the asked frame. False for every
    other container (e.g. .ts, .mpg, .flv): there seeks can land frames off.
    """
    return os.path.splitext(os.fspath(path))[1].lower() in EXACT_SEEK_CONTAINERS


def has_audio_stream(path) -> bool:
    """Whether ``ffmpeg -i path`` lists an audio stream."""
    return bool(_AUDIO_STREAM.search(_ffmpeg_header(_check_file(path))))


def probe(path, *, verify: bool | None = None) -> VideoInfo:
    """Frame count, fps, size and audio presence of a video, or a VideoError.

    ``verify``:
      * ``None`` (default): count frames by decoding only when the container's
        count is not trusted (a container not in ``EXACT_SEEK_CONTAINERS``, or
        a header count <= 0); otherwise trust the header.
      * ``True``: always decode and count; a header count (> 0) that disagrees
        with the decoded count raises VideoError (truncated file or bad header).
      * ``False``: trust the header count whenever it is > 0, even in untrusted
        containers (where it is then only an estimate; ``frame_count_verified``
        says so). For callers that count frames themselves while reading.

    A trusted header count is always checked cheaply: the last frame it
    promises is sought and must decode, and nothing may follow it. That catches
    a truncated file whose index survived (MP4 with ``+faststart``, MKV, AVI)
    without decoding it all; on failure the frames are counted by decoding and
    a mismatch raises VideoError. An MP4 cut before its index ("moov atom")
    cannot be opened at all and is reported as truncated.
    """
    path = _check_file(path)
    header_text = _ffmpeg_header(path)
    has_audio = bool(_AUDIO_STREAM.search(header_text))
    capture = _open_capture(path, header_text)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        header_count = int(round(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        ok, first = capture.read()
        if not ok:
            raise VideoError(
                f"{path}: the video stream has no decodable frames. "
                "Check that the file is a complete recording; re-encode or replace it."
            )
        # The size of a decoded frame, not the container's: OpenCV applies the
        # rotation metadata, so this is the size read_frames will really give.
        height, width = first.shape[:2]
        if not (math.isfinite(fps) and fps > 0):
            raise VideoError(
                f"{path}: the container gives no frame rate. Re-encode it with an "
                "explicit rate, e.g. `ffmpeg -i in -r 25 out.mp4`."
            )
        header_trusted = seek_is_exact(path) and header_count > 0
        explicit_verify = verify is True
        if verify is None:
            verify = not header_trusted
        if not verify and header_count <= 0:
            verify = True  # nothing to trust: must count

        if verify:
            counted = 1 + _count_remaining(capture)
            if explicit_verify and header_count > 0 and counted != header_count:
                raise VideoError(_count_mismatch(path, header_count, counted))
            frame_count, verified = counted, True
        elif not header_trusted or _last_frame_is_last(path, header_count):
            frame_count, verified = header_count, False
        else:
            counted = _count_frames(path)
            if counted != header_count:
                raise VideoError(_count_mismatch(path, header_count, counted))
            frame_count, verified = counted, True
    finally:
        capture.release()
    return VideoInfo(
        path=path,
        frame_count=frame_count,
        fps=fps,
        width=int(width),
        height=int(height),
        has_audio=has_audio,
        frame_count_verified=verified,
    )


def read_frames(path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield frames ``start .. stop-1`` as RGB uint8 arrays (H x W x 3).

    The frames are bit-identical to what sequential decoding from frame 0 gives
    at those indices. Trusted containers (``seek_is_exact``) are sought with
    ``CAP_PROP_POS_FRAMES``; others are decoded forward from frame 0 and the
    frames before ``start`` dropped (costly for a late ``start``; remux such
    files to .mkv). ``stop=None`` reads to the end (frame ``start`` must
    exist). If the video ends before ``stop``, VideoError is raised: the file
    is truncated, or the frame count it was planned with is wrong.
    """
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"bad frame range [{start}, {stop}) for {path}")
    path = _check_file(path)
    if stop == start:
        return
    capture = _open_capture(path, None)
    try:
        if start > 0 and seek_is_exact(path):
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
            # In a trusted container the reported position is honest: a seek
            # past the decodable end reports where it really landed.
            landed = int(round(capture.get(cv2.CAP_PROP_POS_FRAMES)))
            if landed != start:
                raise VideoError(_ended_early(path, start, start, stop))
        else:
            for index in range(start):
                if not capture.grab():  # grab decodes without the colour conversion
                    raise VideoError(_ended_early(path, index, start, stop))
        index = start
        while stop is None or index < stop:
            ok, frame_bgr = capture.read()
            if not ok:
                if stop is None and index > start:
                    return  # the end, and frame `start` existed
                raise VideoError(_ended_early(path, index, start, stop))
            yield cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


# --------------------------------------------------------------------------- helpers


def _check_file(path) -> str:
    """The path as str, or VideoError if it is not a non-empty regular file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such file. Check the video path (and the working directory).")
    if os.path.isdir(path):
        raise VideoError(f"{path}: is a directory, not a video file. Give the path of the video file itself.")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes). Copy or download the video again.")
    return path


def _ffmpeg_header(path: str) -> str:
    """The stderr of ``ffmpeg -i path``: the container and stream listing."""
    # "file:" keeps ffmpeg from reading a ':' in the name as a protocol.
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", "file:" + os.path.abspath(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=120)
    except subprocess.TimeoutExpired as error:
        raise VideoError(
            f"{path}: ffmpeg took over 2 minutes to read the header; is the file on a hung mount?"
        ) from error
    return result.stderr


def _open_capture(path: str, header_text: str | None) -> cv2.VideoCapture:
    """An opened OpenCV capture, or VideoError explaining why it cannot be."""
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if capture.isOpened():
        return capture
    capture.release()
    if header_text is None:
        header_text = _ffmpeg_header(path)
    raise VideoError(_why_unreadable(path, header_text))


def _why_unreadable(path: str, header_text: str) -> str:
    """A user-facing reason, from ffmpeg's own diagnosis, why OpenCV cannot open ``path``."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if "moov atom not found" in header_text and head[4:8] == b"ftyp":
        return (
            f"{path}: MP4/MOV file without its index ('moov atom not found'): the file is "
            "truncated (download or recording cut off). Copy or download it again; a cut "
            "recording can sometimes be recovered with untrunc."
        )
    if _VIDEO_STREAM.search(header_text) is None and "Input #0" in header_text:
        kind = ("audio only" if _AUDIO_STREAM.search(header_text)
                else "no streams at all, e.g. a recording of zero frames")
        return f"{path}: the file has no video stream ({kind}). Give a video file with frames."
    lines = [line.strip() for line in header_text.splitlines() if "rror" in line or "nvalid" in line]
    detail = f" ffmpeg says: {lines[-1].rstrip('.')}." if lines else ""
    return (
        f"{path}: not a readable video (not a video file, an unsupported codec, or a "
        f"damaged file).{detail} Check the file, or re-encode it: `ffmpeg -i in -c:v libx264 out.mp4`."
    )


def _count_remaining(capture: cv2.VideoCapture) -> int:
    """How many more frames the capture decodes."""
    count = 0
    while capture.grab():
        count += 1
    return count


def _count_frames(path: str) -> int:
    """The number of frames sequential decoding gives."""
    capture = _open_capture(path, None)
    try:
        return _count_remaining(capture)
    finally:
        capture.release()


def _last_frame_is_last(path: str, frame_count: int) -> bool:
    """Whether frame ``frame_count - 1`` decodes and no frame follows it (cheap: one seek)."""
    capture = _open_capture(path, None)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame_count - 1)
        if int(round(capture.get(cv2.CAP_PROP_POS_FRAMES))) != frame_count - 1:
            return False
        if not capture.grab():
            return False
        return not capture.grab()
    finally:
        capture.release()


def _count_mismatch(path: str, header_count: int, counted: int) -> str:
    return (
        f"{path}: the container says {header_count} frames but decoding gives {counted}. "
        f"The file is truncated or its header is wrong. Replace it, or {_REMUX_HINT} "
        "(a remux rebuilds the index from the frames that are there)."
    )


def _ended_early(path: str, missing: int, start: int, stop: int | None) -> str:
    wanted = f"frames [{start}, {stop})" if stop is not None else f"frames from {start} on"
    return (
        f"{path}: there is no frame {missing} (0-based), yet {wanted} were asked for. "
        f"The file is truncated or its frame count is wrong; check it with "
        f"salience.video.probe(path, verify=True), or {_REMUX_HINT}."
    )
