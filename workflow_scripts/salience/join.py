"""Joining segment videos (and export directories) without re-encoding.

A video's heatmap and overlay are rendered as segments ``[start, stop)`` of
frames, each by its own job, each an H.264 stream that starts with a
keyframe (every segment is a fresh encoder), written on a timeline that
starts at its own first frame. ``join_videos`` copies their packets, in
order, into one file, shifting each segment by its first frame's place on
the output timeline (integer ticks from the probe, so every frame keeps the
source's exact timestamp, variable rates included), and muxes the source's
audio once, over the whole timeline, exactly as a one-job render does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from fractions import Fraction

from .atomic import StagedDir, remove_stale_temporaries, staged_file
from .errors import VideoError
from .frames import FrameRange
from .video import VideoInfo


def join_videos(segment_paths: Sequence, info: VideoInfo, output, *, audio: bool = True) -> None:
    """Concatenate segment videos (``render_segment``'s) into ``output`` without re-encoding.

    ``segment_paths`` are in frame order and named ``<start>-<stop>.<ext>``;
    they must tile the video's frames. Packets are copied; the timestamps of
    segment ``[start, stop)`` are shifted by ``pts[start]`` minus the
    output's origin, so frame i is at the source's timestamp i as in a
    one-job render, and every frame must be there exactly once. Decoding
    timestamps are laid out anew over the whole file, as one encoder lays
    them out (packet i decodes at the presentation time of frame i - d, d
    the largest reordering delay of any segment): each segment's own would
    jump at the joins and make players and demuxers misjudge the rate. The
    source's first audio stream is encoded once over the whole timeline
    (``encode``'s audio path). The file appears atomically; then the
    temporaries that killed segment jobs left beside the segments go
    (``sweep_segment_folders``).
    """
    import av

    from .encode import _MP4_FAMILY, _AudioCopy, _format_of

    segments = [FrameRange.parse(os.path.splitext(os.path.basename(os.fspath(p)))[0]) for p in segment_paths]
    _check_tiling(segments, info.frame_count, output)
    output = os.fspath(output)
    suffix = os.path.splitext(output)[1] or ".mp4"
    with_audio = bool(audio and info.has_audio)
    time_base = Fraction(info.time_base)
    origin_ticks = round(Fraction(info.origin) / time_base)
    frame_pts = [p - origin_ticks for p in info.pts]  # the output's presentation times, frame order
    delay = _reorder_delay(segment_paths, segments, info, frame_pts, time_base)
    first_step = frame_pts[1] - frame_pts[0] if len(frame_pts) > 1 else 1
    options = {"movflags": "+faststart"} if suffix.lower() in _MP4_FAMILY else {}
    with staged_file(output, keep_extension=True) as temp:
        with av.open(temp, "w", format=_format_of(suffix), options=options) as out:
            video_out = extradata = audio_copy = None
            decoded = 0  # packets muxed so far: the decode-order index
            for path, segment in zip(segment_paths, segments):
                with av.open(os.fspath(path)) as source:
                    stream = source.streams.video[0]
                    if video_out is None:
                        video_out = out.add_stream_from_template(stream)
                        video_out.time_base = time_base
                        if info.rotation % 360:
                            video_out.set_display_rotation(info.rotation % 360)
                        extradata = stream.codec_context.extradata
                        audio_copy = (_AudioCopy(info, out, info.origin)
                                      if with_audio else None)
                    elif stream.codec_context.extradata != extradata:
                        raise VideoError(f"{path}: encoded with other parameters than the first segment "
                                         f"({segment_paths[0]}); render all segments with the same settings")
                    shift = frame_pts[segment.start]
                    for packet in source.demux(stream):
                        if packet.size == 0:
                            continue  # the demuxer's end marker
                        pts = _ticks(packet.pts, stream.time_base, time_base, path) + shift
                        if decoded >= delay:
                            dts = frame_pts[decoded - delay]
                        else:
                            dts = frame_pts[0] - (delay - decoded) * first_step
                        # A duration is a hint (the last frame's display time): rounded.
                        duration = round((packet.duration or 0) * Fraction(stream.time_base) / time_base)
                        packet.pts, packet.dts, packet.time_base = pts, dts, time_base
                        packet.duration = duration
                        packet.stream = video_out
                        out.mux(packet)
                        decoded += 1
            if audio_copy is not None:
                audio_copy.copy(until=info.end_time)

    sweep_segment_folders(segment_paths)

def _reorder_delay(segment_paths, segments, info: VideoInfo, frame_pts, time_base) -> int:
    """The largest (decode index - display index) over every packet: frames held back for B-frames.

    Also checks that each segment holds exactly its frames, at their times.
    """
    import av

    delay = 0
    for path, segment in zip(segment_paths, segments):
        with av.open(os.fspath(path)) as source:
            stream = source.streams.video[0]
            shift = frame_pts[segment.start]
            shown = [_ticks(p.pts, stream.time_base, time_base, path) + shift
                     for p in source.demux(stream) if p.size]
        expected = frame_pts[segment.start:segment.stop]
        if sorted(shown) != expected:
            raise VideoError(f"{path}: holds {len(shown)} frames, not the {len(expected)} of segment "
                             f"{segment.name} at the times of {info.path}; render it again")
        rank = {pts: index for index, pts in enumerate(expected)}
        delay = max([delay] + [index - rank[pts] for index, pts in enumerate(shown)])
    return delay


def join_dirs(part_dirs: Sequence, output) -> None:
    """One directory holding the files of every part directory, published atomically.

    Files are hard-linked (copied where the file system refuses links), so
    the parts stay whole until the join is done: a killed join can be redone.
    Hidden files (Snakemake's markers) are left out; two parts holding one name
    is an error. Then the temporaries of killed part jobs go (``sweep_segment_folders``).
    """
    with StagedDir(output) as staged:
        for part in part_dirs:
            for entry in sorted(e for e in os.listdir(part) if not e.startswith(".")):
                target = staged.file(entry)
                if os.path.lexists(target):
                    raise FileExistsError(f"{entry} is in two parts ({part} and an earlier one)")
                source = os.path.join(part, entry)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
    sweep_segment_folders(part_dirs)


def sweep_segment_folders(parts: Sequence) -> list[str]:
    """Remove the stale temporaries in the folders of ``parts``; their paths.

    A segment job killed mid-write leaves its hidden temporary; the next
    writer of the same segment removes it, but a changed plan (another
    ``segment_frames``) has no such writer. Once a video's segments are
    joined, nothing of that video writes there; a live writer's temporary is
    left alone (``atomic``'s locks).
    """
    folders = {os.path.dirname(os.path.abspath(os.fspath(part))) for part in parts}
    return [path for folder in sorted(folders) for path in remove_stale_temporaries(folder)]


def _ticks(value, source_base, target_base: Fraction, path) -> int:
    """A timestamp in another time base, exactly (segments are written in the target's)."""
    if value is None:
        raise VideoError(f"{path}: a packet without a timestamp; render the segment again")
    exact = value * Fraction(source_base) / target_base
    if exact.denominator != 1:
        raise VideoError(f"{path}: its time base {source_base} cannot hold the source's timestamps "
                         f"({target_base}) exactly")
    return int(exact)


def _check_tiling(segments: Sequence[FrameRange], frame_count: int, output) -> None:
    expected = 0
    for segment in segments:
        if segment.start != expected:
            raise VideoError(f"{output}: segment {segment.name} starts at frame {segment.start}, "
                             f"frame {expected} is due: the segments must tile the video in order")
        expected = segment.stop
    if expected != frame_count:
        raise VideoError(f"{output}: the segments cover {expected} frames, the video has {frame_count}")
