"""H.264 video files at the source's timestamps, with its audio, SAR and rotation.

``H264Writer`` encodes RGB frames with PyAV's libx264 (yuv420p, BT.709
tagged). Each frame is written with its own presentation timestamp, so a
variable-rate source stays variable-rate and a constant-rate one keeps its
exact rate; the source's audio is re-encoded (AAC) on the same timeline, so it
stays in sync. The output timeline is the video's: the source's shifted so
that the first frame is at 0 (``VideoInfo.origin``; MPEG-TS clocks start
anywhere), as every time the workflow writes; audio before the first frame
is left out.

An odd width or height is padded by one column/row, a copy of the last one,
to the next even size (yuv420p stores colour at half resolution, so x264
needs even sizes): the videos are then one pixel wider/taller than the source
and the maps (``padded_size`` in probe.json). It cannot be cropped back in
the stream: H.264 crops 4:2:0 pictures in steps of two pixels (FFmpeg's
``h264_metadata`` refuses ``crop_right=1``), and 4:4:4, which would keep the
size, plays in few players.

Every output is written under a temporary name and renamed into place when
complete; a failure leaves nothing.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np

from .atomic import CommitOnExit, StagedFile
from .errors import VideoError
from .settings import Encoding
from .video import VideoInfo

_MP4_FAMILY = (".mp4", ".m4v", ".mov")  # containers where +faststart means something
AUDIO_RATE_FALLBACK = 48000


def fps_fraction(fps) -> Fraction:
    """A frame rate as an exact fraction: 29.97002997... -> 30000/1001, 25.0 -> 25/1."""
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


class H264Writer(CommitOnExit):
    """Encode RGB frames of a source video's timing to an H.264 file, atomically.

    ``info``: the source's probe; frames are written in its display
    orientation and size (``info.width`` x ``info.height``), frame ``i`` at
    ``info.times[i]`` (its timestamp shifted by the first frame's). The output carries
    the source's SAR and rotation (frames are turned back to the coded
    orientation and tagged, as in the source). ``encoding`` (``settings.Encoding``):
    x264's crf, preset and threads; ``encoding.audio`` true: the source's
    first audio stream is re-encoded to AAC on the same timeline, cut where
    the last frame ends.

    A context manager: on a clean exit the file appears at ``path``; on an
    exception the temporary file is deleted and nothing appears.
    """

    def __init__(self, path, info: VideoInfo, encoding: Encoding = Encoding()):
        import av

        self.path = os.fspath(path)
        self.info = info
        self.frames_written = 0
        self.with_audio = bool(encoding.audio and info.has_audio)
        self._rotation = info.rotation % 360
        coded_w, coded_h = (info.width, info.height) if self._rotation % 180 == 0 else (info.height, info.width)
        self._coded = (coded_w, coded_h)
        self._pad = (coded_w % 2, coded_h % 2)
        suffix = os.path.splitext(self.path)[1] or ".mp4"
        self._staged = StagedFile(self.path, keep_extension=True)
        self._temp_path = self._staged.temp
        self._time_base = Fraction(info.time_base)
        self._origin = info.origin
        self._origin_ticks = round(Fraction(self._origin) / self._time_base)
        self._state = "open"
        try:
            options = {"movflags": "+faststart"} if suffix.lower() in _MP4_FAMILY else {}
            self._container = av.open(self._temp_path, "w", format=_format_of(suffix), options=options)
            self._video = self._container.add_stream("libx264", rate=None if info.vfr else fps_fraction(info.fps))
            context = self._video.codec_context
            context.width, context.height = coded_w + self._pad[0], coded_h + self._pad[1]
            context.pix_fmt = "yuv420p"
            context.time_base = self._time_base
            self._video.time_base = self._time_base
            context.sample_aspect_ratio = Fraction(info.sar)
            context.colorspace, context.color_primaries, context.color_trc, context.color_range = 1, 1, 1, 1
            context.options = {"crf": str(encoding.crf), "preset": encoding.preset}
            context.thread_count = int(encoding.threads)  # 0: x264's choice (1.5 per core)
            if self._rotation:
                self._video.set_display_rotation(self._rotation)
            self._audio = _AudioCopy(info, self._container, self._origin) if self.with_audio else None
        except BaseException:
            self._discard()
            raise

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append the next frame (RGB uint8, display orientation, the source's size)."""
        import av

        if self._state != "open":
            raise RuntimeError(f"writer for {self.path} is {self._state}")
        shape = (self.info.height, self.info.width, 3)
        if frame_rgb.shape != shape or frame_rgb.dtype != np.uint8:
            raise ValueError(f"frame for {self.path} must be uint8 {shape}, got {frame_rgb.dtype} {frame_rgb.shape}")
        index = self.frames_written
        if index >= self.info.frame_count:
            raise ValueError(f"{self.path}: the source has only {self.info.frame_count} frames")
        coded = np.rot90(frame_rgb, -(self._rotation // 90)) if self._rotation else frame_rgb
        if any(self._pad):  # repeat the last column/row: no dark edge bleeding into the picture
            coded = np.pad(coded, ((0, self._pad[1]), (0, self._pad[0]), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(coded), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
        frame.pts = self.info.pts[index] - self._origin_ticks
        frame.time_base = self._time_base
        try:
            self._mux(self._video.encode(frame))
        except av.error.FFmpegError as error:
            message = self._failure(error)
            self.abort()
            raise VideoError(message) from error
        self.frames_written += 1

    def finish(self) -> None:
        """Flush the encoders and close the temporary file; raise VideoError on failure."""
        import av

        if self._state != "open":
            return
        try:
            if self.frames_written != self.info.frame_count:
                raise VideoError(f"could not write {self.path}: {self.frames_written} of "
                                 f"{self.info.frame_count} frames were written")
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.copy(until=self.info.end_time)
            self._container.close()
        except av.error.FFmpegError as error:
            message = self._failure(error)
            self.abort()
            raise VideoError(message) from error
        except BaseException:
            self.abort()
            raise
        self._state = "finished"

    def close(self) -> None:
        """Finish encoding and move the file into place (atomic rename)."""
        if self._state == "open":
            self.finish()
        if self._state == "finished":
            self._staged.commit()
            self._state = "closed"

    def abort(self) -> None:
        """Delete the temporary file; ``path`` is left untouched."""
        if self._state in ("closed", "aborted"):
            return
        self._discard()
        self._state = "aborted"

    commit, discard = close, abort  # CommitOnExit: a clean ``with`` block publishes, an exception discards

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _failure(self, error) -> str:
        return (f"could not write {self.path}: the encoder failed ({error}). "
                "Check free disk space and that the directory is writable.")

    def _discard(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:
                pass  # the file is deleted anyway
        self._staged.discard()  # the temporary goes, and its lock with it


class _AudioCopy:
    """The source's first audio stream, re-encoded to AAC on the output's timeline."""

    def __init__(self, info: VideoInfo, container, origin: float):
        import av

        self.info, self.container, self.origin = info, container, origin
        with av.open(info.path) as source:
            stream = source.streams.audio[0]
            rate = stream.codec_context.sample_rate or AUDIO_RATE_FALLBACK
            channels = stream.codec_context.channels or 2
        self.layout = "stereo" if channels >= 2 else "mono"
        self.stream = container.add_stream("aac", rate=rate, layout=self.layout)
        self.stream.codec_context.bit_rate = 192_000
        self.rate = rate

    def copy(self, until: float) -> None:
        """Encode the source's audio from the origin (the first frame) up to ``until`` (source seconds)."""
        import av

        resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate,
                                      frame_size=self.stream.codec_context.frame_size or 1024)
        next_pts = None
        with av.open(self.info.path) as source:
            stream = source.streams.audio[0]
            for frame in source.decode(stream):
                if frame.time is None:
                    continue
                if frame.time >= until:
                    break
                frame = _from(frame, self.origin)
                if frame is None:
                    continue  # wholly before the first picture
                if next_pts is None:  # the first sample's place on the output timeline
                    next_pts = max(0, round((frame.time - self.origin) * self.rate))
                frame.pts = None  # the resampler counts samples from here on
                for out in resampler.resample(frame):
                    self._encode(out, next_pts)
                    next_pts += out.samples
        for out in resampler.resample(None):
            self._encode(out, next_pts)
            next_pts += out.samples
        for packet in self.stream.encode(None):
            self.container.mux(packet)

    def _encode(self, frame, pts: int) -> None:
        frame.pts = pts
        frame.time_base = Fraction(1, self.rate)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)


def _from(frame, origin: float):
    """An audio frame without its samples before ``origin`` (None if all are before)."""
    import av

    skip = round((origin - frame.time) * frame.sample_rate)
    if skip <= 0:
        return frame
    if skip >= frame.samples:
        return None
    planes = frame.to_ndarray()
    channels = len(frame.layout.channels)
    kept = planes[:, skip:] if frame.format.is_planar else planes[:, skip * channels:]
    out = av.AudioFrame.from_ndarray(kept, format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    out.time_base = Fraction(1, frame.sample_rate)
    out.pts = round(origin * frame.sample_rate)
    return out


def _format_of(suffix: str) -> str | None:
    return {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".m4v": "mp4"}.get(suffix.lower())
