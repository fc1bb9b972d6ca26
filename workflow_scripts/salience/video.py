"""Reading videos by their frames' timestamps, and probing them by one full decode.

Frames are decoded with PyAV (FFmpeg in its wheels: every codec FFmpeg
decodes, AV1 and 10-bit HEVC included) and handed out as RGB uint8 arrays in
display orientation (the container's rotation applied), one at a time, so
memory depends on the frame size only. The pixels are those of the ffmpeg
binary's ``ffmpeg -i VIDEO -pix_fmt rgb24`` for every pixel format and scan
type (``RGBConverter``), at the timestamps ffmpeg gives each frame (``_Clock``;
raw .h264/.hevc streams too), of the video stream ffmpeg picks
(``choose_stream``) or the one configured.

Frame ``i`` is the i-th frame that plain sequential decoding gives; its
presentation time is ``VideoInfo.timestamps[i]`` (seconds on the source's
clock, ``pts * time_base``), and ``VideoInfo.times[i]`` its time on the
video's timeline, which every user-facing time of the workflow uses: 0 when
the first frame is shown, whatever the container's clock says (an MPEG-TS
may start at 1.48 s). Container headers only estimate the frame
count (duration x rate), so the truth is one full decode, ``probe``.
``read_frames`` reaches frame ``start`` by seeking to its timestamp and checks
every frame it yields against the probed timestamps; where that cannot be
proven (no usable timestamps, a seek landing late) it decodes forward from the
first frame instead.

Damaged files (corrupt packets, a cut-off end) are reported with the time and
frame where decoding broke. ``on_decode_error="keep"`` uses the frames that do
decode (FFmpeg's own behaviour), with a warning; ``"stop"`` refuses the file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from .errors import VideoError

log = logging.getLogger(__name__)

ON_DECODE_ERROR = ("stop", "keep")
_FIRST_VIDEO_STREAM = object()  # what probe records from before streams were chosen were made of
_REENCODE_HINT = "re-encode it: `ffmpeg -i in -c:v libx264 -crf 18 -c:a aac out.mp4`"


@dataclass(frozen=True)
class VideoInfo:
    """What the workflow needs to know about a source video (``probe``'s result).

    ``width`` x ``height`` is the size of the frames ``read_frames`` gives:
    the display orientation, i.e. the coded size with ``rotation`` applied.
    ``fps`` is the exact rate of a constant-rate video, the mean rate of a
    variable-rate one (``vfr``). ``timestamps[i]`` is frame i's presentation
    time in seconds (``pts[i] * time_base``). ``sar`` is the sample (pixel)
    aspect ratio, ``rotation`` the counter-clockwise display rotation in
    degrees, ``audio_start`` the first audio sample's time on the same
    timeline (None without audio). ``decode_error`` describes where decoding
    broke in a damaged file whose decodable frames are kept (else None).
    ``stream_index`` is the video stream's index in the file (``ffmpeg -i``
    lists it as ``Stream #0:N``): every read decodes that stream. None in
    records from before streams were chosen: those were made from the first
    video stream.
    """

    path: str
    frame_count: int
    fps: float
    width: int
    height: int
    has_audio: bool
    timestamps: tuple[float, ...] = field(repr=False)
    pts: tuple[int, ...] = field(repr=False)
    time_base: str
    vfr: bool
    sar: str
    rotation: int
    audio_start: float | None
    codec: str
    pixel_format: str
    header_frame_count: int  # the container's estimate; 0: none given
    decode_error: str | None = None
    stream_index: int | None = None

    def to_dict(self) -> dict:
        """Plain JSON-able dict (probe.json, the probe cache)."""
        d = asdict(self)
        d["timestamps"], d["pts"] = list(self.timestamps), list(self.pts)
        d["padded_size"] = list(self.padded_size)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VideoInfo:
        """Inverse of ``to_dict``; unknown keys are ignored, missing keys raise KeyError."""
        values = {}
        for f in cls.__dataclass_fields__.values():
            if f.name not in d and f.name in ("decode_error", "stream_index"):
                continue
            values[f.name] = d[f.name]
        values["timestamps"] = tuple(float(t) for t in values["timestamps"])
        values["pts"] = tuple(int(p) for p in values["pts"])
        return cls(**values)

    @property
    def seekable(self) -> bool:
        """Whether frames can be found by seeking to their pts.

        Not in a damaged file: the picture FFmpeg conceals for a broken frame
        depends on the frames decoded before it, so only decoding forward from
        the first frame gives the probed frames again.
        """
        return (self.decode_error is None and len(self.pts) == self.frame_count
                and all(a < b for a, b in zip(self.pts, self.pts[1:])))

    @property
    def padded_size(self) -> tuple[int, int]:
        """(width, height) of the rendered H.264 videos: odd sizes padded to even (encode.py)."""
        return self.width + self.width % 2, self.height + self.height % 2

    @property
    def end_time(self) -> float:
        """When the last frame stops showing: its timestamp plus the mean frame duration."""
        return self.timestamps[-1] + 1.0 / self.fps

    @property
    def origin(self) -> float:
        """The source-clock time of the first frame: time 0 of the video's timeline."""
        return self.timestamps[0]

    @property
    def times(self) -> tuple[float, ...]:
        """Each frame's time on the video's timeline: ``timestamps[i] - timestamps[0]``, seconds.

        Computed from the pts as exact fractions and rounded once, so that the
        frame 0.2 s after the first is at 0.2 (a float subtraction of the
        timestamps could give 0.19999999999999973 and put the frame on the
        wrong side of a time like an AOI's start).
        """
        if len(self.pts) != len(self.timestamps):
            origin = self.timestamps[0]
            return tuple(t - origin for t in self.timestamps)
        base, first = Fraction(self.time_base), self.pts[0]
        return tuple(float((p - first) * base) for p in self.pts)

    @property
    def duration(self) -> float:
        """When the last frame stops showing, on the video's timeline."""
        return self.end_time - self.timestamps[0]


def load_probe(path) -> VideoInfo:
    """The VideoInfo recorded in a probe.json (``python -m salience probe``)."""
    import json

    try:
        with open(path) as handle:
            return VideoInfo.from_dict(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise VideoError(f"{path}: not a probe record of this version ({error!r}); "
                         "delete it and run again to probe the video anew") from None


def check_readable(path, video_stream="auto") -> tuple[int, int]:
    """Cheap check that a file is a video whose first frame decodes; VideoError if not.

    Runs for every video when the workflow is planned, so that a wrong file
    (or a ``video_stream`` it lacks) stops the run before any job; the full
    decode is ``probe``'s. Returns the frame size (width, height) in display
    orientation, as ``probe``.
    """
    path = _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path, video_stream)
        problem = None
        for frame, error in _decode(container, stream, path):
            if frame is not None:
                size = (frame.width, frame.height)
                return size if _rotation(frame) % 180 == 0 else size[::-1]
            problem = problem or error
        raise VideoError(_no_frames(path, stream, problem))


@dataclass(frozen=True)
class Glance:
    """A video as its first frame and its header give it: size (display orientation), rate, duration."""

    width: int
    height: int
    fps: float
    duration: float  # seconds from the first frame to the end (the header's estimate)

    @property
    def times(self) -> np.ndarray:
        """Estimated frame times on the video's timeline (frame / fps)."""
        return np.arange(max(1, round(self.duration * self.fps))) / self.fps


def glance(path, video_stream="auto") -> Glance:
    """Size, rate and duration without a full decode: for checks when the run is planned (``probe`` is exact)."""
    path = _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path, video_stream)
        for frame, _ in _decode(container, stream, path):
            if frame is None:
                continue
            width, height = frame.width, frame.height
            if _rotation(frame) % 180:
                width, height = height, width
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 25.0
            first = float(frame.time or 0.0)
            if stream.duration is not None and stream.time_base is not None:
                end = float((stream.duration + (stream.start_time or 0)) * stream.time_base)
            elif container.duration is not None:
                end = (container.duration + (container.start_time or 0)) / 1e6
            else:
                end = first + (stream.frames or 1) / fps
            return Glance(width, height, fps, max(end - first, 1.0 / fps))
    raise VideoError(_no_frames(path, stream, None))


def probe(path, *, on_decode_error: str = "stop", video_stream="auto") -> VideoInfo:
    """Decode the whole video once: frame count, timestamps, size, SAR, rotation, audio, codec.

    ``video_stream``: "auto" takes the video stream the ffmpeg binary would
    (``choose_stream``; a file with several says which in the log), an int
    the stream of that index in the file. A header frame count that differs
    from the decoded count is logged, not an error (headers are estimates).
    A damaged file raises VideoError naming where decoding broke, unless
    ``on_decode_error="keep"``: then its decodable frames are the video
    (warning logged, ``decode_error`` set).
    """
    if on_decode_error not in ON_DECODE_ERROR:
        raise ValueError(f"on_decode_error must be one of {ON_DECODE_ERROR}, got {on_decode_error!r}")
    path = _check_file(path)
    with _open(path) as container:
        index = _video_stream(container, path, video_stream, notice=True).index
    pts, rotation, size, problem = _scan(path, index)
    with _open(path) as container:
        stream = _video_stream(container, path, index)
        if not pts:
            raise VideoError(_no_frames(path, stream, problem))
        if problem is not None:
            message = (f"{path}: the file is damaged: {problem}; {len(pts)} frames decoded in all "
                       f"(the container announced {stream.frames or 'no count'}).")
            if on_decode_error == "stop":
                raise VideoError(
                    f"{message} Set `on_decode_error: keep` in config.yaml to use the frames that decode, "
                    f"or {_REENCODE_HINT} (FFmpeg keeps the decodable frames too)."
                )
            log.warning("%s Keeping the %d frames that decode (on_decode_error: keep).", message, len(pts))
        if stream.frames and stream.frames != len(pts):
            log.info("%s: the container estimates %d frames; decoding gives %d (used).",
                     path, stream.frames, len(pts))
        if _untimed(container):
            log.info("%s: a raw %s stream without timestamps: frames are timed as FFmpeg times them, "
                     "%.3f fps", path, stream.codec_context.name, _rate(stream, pts)[0])
        time_base = stream.time_base
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_start = None
        if audio is not None and audio.start_time is not None:
            audio_start = float(audio.start_time * audio.time_base)
        fps, vfr = _rate(stream, pts)
        width, height = size if rotation % 180 == 0 else size[::-1]
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or Fraction(1)
        return VideoInfo(
            path=path, frame_count=len(pts), fps=fps, width=width, height=height,
            has_audio=audio is not None,
            timestamps=tuple(float(p * time_base) for p in pts), pts=tuple(pts),
            time_base=f"{time_base.numerator}/{time_base.denominator}", vfr=vfr,
            sar=f"{sar.numerator}/{sar.denominator}", rotation=rotation, audio_start=audio_start,
            codec=stream.codec_context.name, pixel_format=stream.codec_context.format.name
            if stream.codec_context.format else "", header_frame_count=int(stream.frames or 0),
            decode_error=problem, stream_index=stream.index,
        )


def _scan(path: str, index: int):
    """One full decode of stream ``index``: (pts list, rotation, coded size, first problem or None).

    On one decoder thread. With frame threads, whether a damaged stretch is
    reported at all, and how many of its frames come out, depend on the
    threads' timing: a busy machine could pass a damaged file as clean. One
    thread decides the same on every machine (as a one-core Slurm job does);
    read_frames then decodes clean files with threads, damaged ones with one.
    """
    with _open(path) as container:
        stream = _video_stream(container, path, index)
        _configure(stream, 1)
        clock = _Clock(container, stream)
        pts: list[int] = []
        rotation, problem, size = 0, None, None
        for frame, error in _decode(container, stream, path):
            if error is not None:
                problem = problem or f"{error} around {_where(pts, stream.time_base)}"
            if frame is None:
                continue
            if not clock.untimed and frame.pts is None and frame.dts is None:
                problem = problem or f"a frame without a timestamp at {_where(pts, stream.time_base)}"
            if not pts:
                rotation = _rotation(frame)
                size = (frame.width, frame.height)
            pts.append(clock(frame))
    return pts, rotation, size, problem


def read_frames(video, start: int = 0, stop: int | None = None, *, threads: int = 0) -> Iterator[np.ndarray]:
    """Yield frames ``start .. stop-1`` as RGB uint8 arrays (H x W x 3, display orientation).

    ``video`` is a ``VideoInfo`` (from ``probe`` or probe.json) or a path.
    With a ``VideoInfo`` its stream is read and frame ``start`` is reached by
    seeking to its timestamp, and every frame yielded is checked against the
    probed timestamps; a seek that lands past the frame is retried from further
    back, and where timestamps cannot identify frames (the file is damaged, or
    a raw stream without timestamps) it is decoded forward from its first
    frame. With a bare path the stream ffmpeg would pick is decoded forward
    from the first frame. Either way the frames are bit-identical to
    sequential decoding. If the video ends before ``stop``, VideoError is raised.
    ``threads``: decoder threads (0: FFmpeg's choice; damaged files: 1, as probed).
    """
    info = video if isinstance(video, VideoInfo) else None
    if info is not None and info.decode_error is not None:
        threads = 1
    path = _check_file(info.path if info else video)
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"bad frame range [{start}, {stop}) for {path}")
    if info is not None:
        stop = info.frame_count if stop is None else stop
        if stop > info.frame_count:
            raise VideoError(_ended_early(path, info.frame_count, start, stop))
    if stop == start:
        return
    with _open(path) as container:
        stream = _video_stream(container, path, _recorded_stream(info))
        _configure(stream, threads)
        if info is not None and Fraction(info.time_base) != stream.time_base:
            raise VideoError(_changed(path, start))
        to_rgb = RGBConverter()
        if info is not None and info.seekable and start > 0 and not _untimed(container):
            yield from _read_by_timestamp(container, stream, info, start, stop, threads, to_rgb)
            return
        clock = _Clock(container, stream)
        index = 0
        for frame, _ in _decode(container, stream, path):
            if frame is None:
                continue  # probe decided whether a damaged file is used; its count holds
            pts = clock(frame)
            if index >= start:
                if info is not None and info.seekable and pts != info.pts[index]:
                    raise VideoError(_changed(path, index))
                yield to_rgb(frame)
            index += 1
            if stop is not None and index >= stop:
                return
        if stop is not None or index <= start:
            raise VideoError(_ended_early(path, index, start, stop))


# --------------------------------------------------------------------------- helpers


def _read_by_timestamp(container, stream, info: VideoInfo, start: int, stop: int, threads: int, to_rgb
                       ) -> Iterator[np.ndarray]:
    """Frames [start, stop) found by pts after a seek; falls back to decoding from the start.

    After a seek, decoding must begin at a keyframe (frames before the first
    keyframe are dropped), and that keyframe must not lie after frame
    ``start`` (an inexact index, MPEG-TS, or open GOPs): else the seek is
    retried from further back.
    """
    target = info.pts[start]
    tick = Fraction(info.time_base)
    for back_seconds in (0, 1, 4, 16):
        container.seek(max(target - int(back_seconds / tick), info.pts[0]), stream=stream,
                       backward=True, any_frame=False)
        stream.codec_context.flush_buffers()
        frames = _frames_from_keyframe(container, stream, info.path)
        first = next(frames, None)
        while first is not None and first[0] < target:
            first = next(frames, None)
        if first is not None and first[0] == target:
            yield to_rgb(first[1])
            yield from _checked(frames, info, start + 1, stop, start, to_rgb)
            return
        frames.close()
        if first is None:
            break
    log.info("%s: seeking to frame %d was not exact; decoding from the first frame", info.path, start)
    with _open(info.path) as fresh:
        stream = _video_stream(fresh, info.path, _recorded_stream(info))
        _configure(stream, threads)
        clock = _Clock(fresh, stream)
        frames = ((clock(frame), frame) for frame, _ in _decode(fresh, stream, info.path) if frame is not None)
        for _ in range(start):
            if next(frames, None) is None:
                raise VideoError(_ended_early(info.path, 0, start, stop))
        yield from _checked(frames, info, start, stop, start, to_rgb)


def _frames_from_keyframe(container, stream, path):
    """(pts, frame) for the decoded frames after a seek, from the first keyframe on."""
    clock = _Clock(container, stream)
    synced = False
    for frame, _ in _decode(container, stream, path):
        if frame is None:
            continue
        synced = synced or frame.key_frame
        if synced:
            yield clock(frame), frame


def _checked(frames, info: VideoInfo, index: int, stop: int, start: int, to_rgb) -> Iterator[np.ndarray]:
    """Frames ``index .. stop-1`` from ``frames`` ((pts, frame) pairs), each checked against its probed pts."""
    for pts, frame in frames:
        if index >= stop:
            return
        if pts != info.pts[index]:
            raise VideoError(_changed(info.path, index))
        yield to_rgb(frame)
        index += 1
    if index < stop:
        raise VideoError(_ended_early(info.path, index, start, stop))


def _decode(container, stream, path):
    """(frame, problem) for every decoded frame and (None, problem) for other problems.

    ``problem`` is None for a clean frame. Reported: demuxer and decoder
    errors (FFmpegError), frames the decoder marks as corrupt, and a stream
    that ends before its container said it would (a cut-off file).
    """
    import av

    packets, last_end = 0, None
    demuxer = container.demux(stream)
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            break
        except av.error.FFmpegError as error:
            yield None, f"the container could not be read further ({error.strerror or error})"
            break
        if packet.size:
            packets += 1
            if packet.pts is not None:
                end = packet.pts + (packet.duration or 0)
                last_end = end if last_end is None else max(last_end, end)
        try:
            frames = packet.decode()  # the final empty packet flushes the decoder
        except av.error.FFmpegError as error:
            yield None, f"a packet could not be decoded ({error.strerror or error})"
            continue
        for frame in frames:  # a frame marked corrupt still has a (concealed) picture, as in FFmpeg
            yield frame, ("a corrupt frame" if frame.is_corrupt else None)
    cut = _cut_off(container, stream, packets, last_end)
    if cut:
        yield None, cut


def _cut_off(container, stream, packets: int, last_end) -> str | None:
    """Why the stream ended early, judged from the container's own index, or None.

    Indexed containers (MP4/MOV, AVI) list every packet, so fewer packets
    than listed means a cut file. Matroska from FFmpeg-based recorders (OBS)
    records each stream's duration in a DURATION tag.
    """
    indexed = any(name in container.format.name.split(",") for name in ("mov", "mp4", "avi"))
    if indexed and stream.frames and packets < stream.frames:
        return f"the file ends after {packets} of the {stream.frames} packets its index lists (cut off)"
    tag = stream.metadata.get("DURATION") if stream.metadata else None
    if tag and last_end is not None:
        try:
            hours, minutes, seconds = tag.split(":")
            duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
        got = float(last_end * stream.time_base)
        # The tag is the stream's end time (FFmpeg's muxer); half a second of slack.
        if got < duration - 0.5:
            return f"the stream ends at {got:.3f} s but its DURATION tag says {duration:.3f} s (cut off)"
    return None


def _where(pts: list[int], time_base) -> str:
    if not pts:
        return "the first frame"
    return f"{float(pts[-1] * time_base):.3f} s (after frame {len(pts) - 1})"


def _rate(stream, pts: list[int]) -> tuple[float, bool]:
    """(fps, vfr): a constant rate exactly, or the mean rate of a variable one."""
    steps = np.diff(np.asarray(pts, dtype=np.int64))
    tick = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if steps.size == 0:
        return (float(rate) if rate else 25.0), False
    # Constant when every step is the same up to timestamp rounding (one tick).
    vfr = int(steps.max() - steps.min()) > 1
    if not vfr and rate and abs(float(1 / rate) - float(steps.mean() * tick)) < float(tick) * 1.01:
        return float(rate), False
    return float(steps.size / (float((pts[-1] - pts[0]) * tick))), vfr


def _rotation(frame) -> int:
    """The frame's display rotation, counter-clockwise degrees in {0, 90, 180, 270}."""
    try:
        degrees = int(round(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):
        return 0
    return (round(degrees / 90) * 90) % 360


class RGBConverter:
    """Decoded frames to RGB arrays, byte for byte as ``ffmpeg -i VIDEO -pix_fmt rgb24`` gives them.

    The ffmpeg binary converts in its filter graph: it inserts a ``scale``
    filter with libswscale's default flags (bicubic) and ``interl=0`` (an
    interlaced frame is converted as one picture; no deinterlacing), which
    reads each frame's colour matrix, range and chroma siting. The same
    filter runs here. PyAV's own ``to_ndarray(format="rgb24")`` calls
    libswscale outside the filter, with bilinear chroma: it converted a frame
    flagged interlaced field by field (up to 195 levels off) and 10-bit frames
    with left-sited chroma, as x264 and x265 write them, up to 122 levels off,
    mostly in R and B. A rotated video is turned upright before the
    conversion, as ffmpeg does. The graph is rebuilt when the frames' format,
    size, colour tags or rotation change.
    """

    def __init__(self):
        self._key = None
        self._graph = self._source = self._sink = None

    def __call__(self, frame) -> np.ndarray:
        rotation = _rotation(frame)
        if frame.format.name == "rgb24" and not rotation:  # ffmpeg inserts no filter either
            return frame.to_ndarray()
        key = (frame.format.name, frame.width, frame.height, int(frame.colorspace), int(frame.color_range),
               rotation)
        if key != self._key:
            self._build(frame, rotation)
            self._key = key
        self._source.push(frame)
        return self._sink.pull().to_ndarray()

    def _build(self, frame, rotation: int) -> None:
        import av

        graph = av.filter.Graph()
        chain = [graph.add("buffer", video_size=f"{frame.width}x{frame.height}", pix_fmt=frame.format.name,
                           time_base=str(frame.time_base or Fraction(1, 1000)), pixel_aspect="1/1",
                           colorspace=str(int(frame.colorspace)), range=str(int(frame.color_range)))]
        # ffmpeg turns the picture upright first, in the source's pixel format
        # (its autorotate filters), then converts: chroma is resampled upright.
        for name, args in _UPRIGHT[rotation]:
            chain.append(graph.add(name, args))
        chain += [graph.add("scale", "flags=bicubic:interl=0"), graph.add("format", "pix_fmts=rgb24"),
                  graph.add("buffersink")]
        for upstream, downstream in zip(chain, chain[1:]):
            upstream.link_to(downstream)
        graph.configure()
        # The graph owns the filter contexts: it must live as long as they are used.
        self._graph, self._source, self._sink = graph, chain[0], chain[-1]


# Counter-clockwise display rotation -> the filters ffmpeg inserts to show it
# upright (fftools/ffmpeg_filter.c, autorotate).
_UPRIGHT = {0: [], 90: [("transpose", "cclock")], 180: [("hflip", ""), ("vflip", "")],
            270: [("transpose", "clock")]}


class _Clock:
    """Each decoded frame's presentation time in stream ticks, as the ffmpeg binary assigns it.

    ffmpeg (fftools/ffmpeg_dec.c) takes the decoder's timestamp (the frame's
    pts, else its packet's dts); a frame with neither gets the previous frame's
    time plus that frame's estimated duration, the first frame 0. Containers
    without timestamps (raw .h264/.hevc/.m2v elementary streams: FFmpeg's
    AVFMT_NOTIMESTAMPS) are timed that way throughout, each frame lasting what
    the codec's frame rate says (H.264/HEVC VUI timing), else its packet's
    duration (the raw demuxer's 25 fps).
    """

    def __init__(self, container, stream):
        self.untimed = _untimed(container)
        self._tick = stream.time_base
        self._average_rate = stream.average_rate
        self._codec = stream.codec_context
        self._last: int | None = None
        self._last_duration = 0

    def __call__(self, frame) -> int:
        pts = None if self.untimed else (frame.pts if frame.pts is not None else frame.dts)
        if pts is None:
            pts = 0 if self._last is None else self._last + self._last_duration
        self._last_duration = self._duration(frame, pts)
        self._last = pts
        return pts

    def _duration(self, frame, pts: int) -> int:
        """ffmpeg's estimate of how long this frame shows (video_duration_estimate), in ticks."""
        since_last = pts - self._last if self._last is not None else -1
        guessed = frame.duration == 1 and since_last > 2  # a made-up duration of one tick
        if frame.duration > 0 and not self.untimed and not guessed:
            return frame.duration
        codec_duration = 0
        rate = self._codec.framerate
        if rate and rate > 0:  # two fields at twice the frame rate (repeated fields are not exposed by PyAV)
            codec_duration = _ticks(Fraction(2) / (2 * rate), self._tick)
        if codec_duration > 0 and self.untimed:
            return codec_duration
        for candidate in (since_last, frame.duration, codec_duration):
            if candidate > 0:
                return candidate
        if self._average_rate:
            return max(1, _ticks(1 / Fraction(self._average_rate), self._tick))
        return max(self._last_duration, 1)


def _ticks(seconds: Fraction, tick: Fraction) -> int:
    """``seconds`` in ``tick`` units, rounded to the nearest (halves away from zero, as av_rescale_q)."""
    return int(Fraction(seconds) / tick + Fraction(1, 2))


def _untimed(container) -> bool:
    """Whether the container has no timestamps of its own (a raw elementary stream)."""
    import av

    return bool(container.format.flags & av.format.Flags.no_timestamps.value)


def _configure(stream, threads: int) -> None:
    stream.thread_type = "AUTO"  # frame and slice threads; the output is the same
    stream.codec_context.thread_count = int(threads)


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


class _open:
    """``av.open`` as a context manager whose failures are VideoErrors naming the file."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        import av

        try:
            self.container = av.open(self.path, metadata_errors="ignore")
        except av.error.FFmpegError as error:
            raise VideoError(_why_unreadable(self.path, error)) from None
        return self.container

    def __exit__(self, *exc_info):
        self.container.close()


def choose_stream(streams):
    """The video stream the ffmpeg binary maps by default, of ``streams`` (PyAV video streams).

    fftools/ffmpeg_mux_init.c (map_auto_video): the largest picture wins,
    width x height, where a stream marked default counts 5,000,000 pixels
    more; an attached picture (cover art) counts 1; on a tie the first.
    """
    import av

    def score(stream) -> int:
        disposition = int(stream.disposition)
        if disposition & av.stream.Disposition.attached_pic:
            return 1
        size = (stream.codec_context.width or 0) * (stream.codec_context.height or 0)
        return size + 5_000_000 * bool(disposition & av.stream.Disposition.default)

    best = None
    for stream in streams:
        if best is None or score(stream) > score(best):
            best = stream
    return best


def _video_stream(container, path: str, choice="auto", *, notice: bool = False):
    """The video stream to decode: ``choice`` "auto" (FFmpeg's), or a stream index in the file.

    With ``notice`` a file of several video streams logs which one is taken
    and how to take another.
    """
    videos = list(container.streams.video)
    if not videos:
        kind = "audio only" if container.streams.audio else "no streams at all, e.g. a recording of zero frames"
        raise VideoError(f"{path}: the file has no video stream ({kind}). Give a video file with frames.")
    if choice is _FIRST_VIDEO_STREAM:
        stream = videos[0]
    elif choice is None or str(choice) == "auto":
        stream = choose_stream(videos)
        if notice and len(videos) > 1:
            log.warning("%s has %d video streams: %s. Using stream #0:%d, the one FFmpeg plays by default; "
                        "to use another, set `video_stream: <index>` in config.yaml (the N of `Stream #0:N`).",
                        path, len(videos), "; ".join(_describe(s) for s in videos), stream.index)
    else:
        try:
            index = int(choice)
        except (TypeError, ValueError):
            raise VideoError(f"video_stream must be auto or a stream index, got {choice!r}; "
                             "fix it in config.yaml") from None
        matching = [s for s in videos if s.index == index]
        if not matching:
            raise VideoError(
                f"{path}: video_stream {index} is not a video stream of this file; its video streams are "
                f"{'; '.join(_describe(s) for s in videos)}. Set video_stream in config.yaml to one of "
                "their indexes, or to auto."
            )
        stream = matching[0]
    if stream.codec_context is None or not _decoder_exists(stream):
        raise VideoError(
            f"{path}: its video codec ({stream.codec_context.name if stream.codec_context else 'unknown'}) "
            "has no decoder in the FFmpeg of PyAV. Convert it with a tool that decodes it, e.g. "
            "`ffmpeg -i in -c:v libx264 -crf 18 -c:a aac out.mp4`."
        )
    return stream


def _describe(stream) -> str:
    """'#0:1 h264 1920x1080 (default)': a video stream as ``ffmpeg -i`` names it."""
    import av

    context = stream.codec_context
    marks = [name for name, flag in (("default", av.stream.Disposition.default),
                                     ("cover art", av.stream.Disposition.attached_pic))
             if int(stream.disposition) & flag]
    return (f"#0:{stream.index} {context.name if context else '?'} {context.width}x{context.height}"
            + (f" ({', '.join(marks)})" if marks else ""))


def _recorded_stream(info: VideoInfo | None):
    """The stream a probe record was made from: its index, or the first video stream for old records."""
    if info is None:
        return "auto"
    return info.stream_index if info.stream_index is not None else _FIRST_VIDEO_STREAM


def _decoder_exists(stream) -> bool:
    try:
        return stream.codec_context.codec.is_decoder
    except Exception:
        return False


def _why_unreadable(path: str, error) -> str:
    """A user-facing reason why FFmpeg cannot open ``path``."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[4:8] == b"ftyp":
        return (
            f"{path}: MP4/MOV file without a readable index ('moov atom'): the file is truncated "
            "(download or recording cut off). Copy or download it again; a cut recording can "
            "sometimes be recovered with untrunc."
        )
    return (
        f"{path}: not a readable video (not a video file, or damaged beyond its header). "
        f"FFmpeg says: {error.strerror or error}. Check the file."
    )


def _no_frames(path: str, stream, problem: str | None) -> str:
    detail = f" ({problem})" if problem else ""
    return (
        f"{path}: the {stream.codec_context.name} video stream has no decodable frames{detail}. "
        "The file is empty of pictures or damaged; check that it plays, or replace it."
    )


def _changed(path: str, index: int) -> str:
    return (
        f"{path}: frame {index} does not have the timestamp its probe recorded: the file "
        "changed after it was probed. Run the workflow again (it probes changed files anew)."
    )


def _ended_early(path: str, missing: int, start: int, stop: int | None) -> str:
    wanted = f"frames [{start}, {stop})" if stop is not None else f"frames from {start} on"
    return (
        f"{path}: decoding gives no frame {missing} (0-based), yet {wanted} were asked for: "
        "the file has fewer frames than that, or changed after it was probed."
    )
