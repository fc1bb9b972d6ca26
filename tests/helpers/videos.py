"""Tiny real video files for tests, encoded with imageio-ffmpeg's ffmpeg."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import numpy as np



def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg (has libx264, AV1/HEVC/VP9 encoders, aac)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg binary of imageio-ffmpeg quietly; fail on error."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def stream_info(path) -> str:
    """ffmpeg's description of a file's streams (codec, pixel format, audio)."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr


def decode_all(path) -> list[np.ndarray]:
    """Every frame by plain sequential, single-threaded decoding (PyAV), RGB, display orientation.

    The reference for seeking tests: no seeks, no threads, no timestamps;
    packets that fail to decode are skipped, as FFmpeg does. The stream is
    the one FFmpeg picks, converted to RGB as the ffmpeg binary converts it
    (test_decode_matrix holds that conversion to the binary's).
    """
    import av

    from salience.video import RGBConverter, choose_stream

    frames = []
    to_rgb = RGBConverter()
    with av.open(str(path)) as container:
        stream = choose_stream(container.streams.video)
        stream.codec_context.thread_count = 1
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                continue  # a damaged packet: FFmpeg goes on with the next
            frames += [to_rgb(frame) for frame in decoded]
    return frames


def frame_times(path) -> list[float]:
    """Each video frame's presentation time (s) as the ffmpeg binary reports it (showinfo).

    Of the video stream the binary picks itself (no -map): its default choice.
    """
    stderr = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-copyts", "-i", str(path), "-an", "-sn",
                             "-vf", "showinfo", "-fps_mode", "passthrough", "-f", "null", "-"],
                            capture_output=True, text=True).stderr
    return [float(t) for t in re.findall(r"pts_time:\s*([-0-9.e]+)", stderr)]


def make_video(path: str | Path, *, frames: int = 40, size: str = "64x48", fps: int = 25,
               audio: bool = False, source: str = "testsrc2") -> Path:
    """H.264 (with B-frames, several GOPs) in the container of ``path``'s suffix."""
    path = Path(path)
    args = ["-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    ffmpeg(*args, str(path))
    return path


def make_late_ts(path: str | Path, *, frames: int = 14, lead: float = 0.2, offset: float = 1.48) -> Path:
    """An MPEG-TS as OBS records one: its clock starts at ``offset`` s, the sound ``lead`` s before the picture."""
    ffmpeg("-itsoffset", str(lead), *_lavfi(), *[a.format(seconds=frames / 25 + 1) for a in _SINE],
           "-frames:v", str(frames), *_H264, "-c:a", "aac", "-output_ts_offset", str(offset), str(path))
    return Path(path)


def probe_record(path: str | Path, *, frames: int, size: str = "64x48", fps: int = 25) -> Path:
    """``path`` (a probe.json) as the probe step writes it, of a video made beside it with these frames."""
    from salience.atomic import write_json
    from salience.video import probe

    path = Path(path)
    clip = make_video(path.with_name(path.stem + "_source.mp4"), frames=frames, size=size, fps=fps)
    write_json(path, probe(clip).to_dict())
    return path


def make_video_without_ffmpeg(path: str | Path, *, frames: int = 40, size: str = "64x48", fps: int = 25) -> Path:
    """``make_video`` through PyAV alone (no audio): for the GPU machine, which has no ffmpeg binary."""
    from fractions import Fraction

    import av

    path = Path(path)
    width, height = (int(n) for n in size.split("x"))
    with av.open(f"testsrc2=size={size}:rate={fps}", format="lavfi") as pattern, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"bf": "3", "g": "12"}
        for index, frame in enumerate(pattern.decode(video=0)):
            if index == frames:
                break
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


# --------------------------------------------------------------------------- the recordings matrix

_H264 = ["-c:v", "libx264", "-bf", "2", "-g", "8", "-pix_fmt", "yuv420p"]
_SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration={seconds}"]


def _lavfi(size: str = "64x48", rate: int = 25) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]


def _vfr(path: Path, audio: bool) -> None:
    # 5 frames at 10 fps, then 15 frames at 30 fps: one stream, two rates.
    graph = ("testsrc2=size=64x48:rate=10:duration=0.5[a];testsrc2=size=64x48:rate=30:duration=0.5[b];"
             "[a][b]concat=n=2:v=1:a=0,settb=1/1000[v]")
    args = ["-filter_complex", graph]
    if audio:
        args += [a.format(seconds=1) for a in _SINE]
    args += ["-map", "[v]"] + (["-map", "0:a"] if audio else [])
    args += _H264 + ["-fps_mode", "vfr"] + (["-c:a", "aac"] if audio else [])
    ffmpeg(*args, str(path))


def _corrupt(path: Path) -> None:
    """28 frames of H.264 in .mkv with a run of packets in the middle overwritten by junk."""
    clean = path.with_name("clean_" + path.name)
    ffmpeg(*_lavfi(), "-frames:v", "28", *_H264, str(clean))
    data = bytearray(clean.read_bytes())
    start = len(data) // 2
    data[start:start + len(data) // 8] = bytes((i * 73 + 11) % 256 for i in range(len(data) // 8))
    path.write_bytes(bytes(data))
    clean.unlink()


def _two_streams(path: Path, default: int) -> None:
    """.mkv with two video streams of other sizes and rates: 96x64, 14 frames at 25 fps; 64x48, 9 at 20 fps.

    ``default``: the stream marked default. FFmpeg picks the larger picture,
    unless the smaller is marked default (it then counts 5,000,000 pixels more).
    """
    parts = [path.with_name(f"part{i}_{path.name}") for i in (0, 1)]
    ffmpeg(*_lavfi("96x64", 25), "-frames:v", "14", *_H264, str(parts[0]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=20", "-frames:v", "9", *_H264, str(parts[1]))
    ffmpeg("-i", str(parts[0]), "-i", str(parts[1]), "-map", "0:v", "-map", "1:v", "-c", "copy",
           "-disposition:v:0", "default" if default == 0 else "0",
           "-disposition:v:1", "default" if default == 1 else "0", str(path))
    for part in parts:
        part.unlink()


def _cover_art(path: Path) -> None:
    """.mp4 with a 320x240 cover picture (attached pic) beside a 64x48 video: FFmpeg skips the cover."""
    cover = path.with_name("cover_" + path.name + ".png")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", str(cover))
    ffmpeg("-i", str(cover), *_lavfi(), "-map", "0", "-map", "1", "-frames:v:1", "14", "-c:v:0", "png",
           "-disposition:v:0", "attached_pic", *[a.replace("-c:v", "-c:v:1") for a in _H264], str(path))
    cover.unlink()


def _rotated(path: Path) -> None:
    plain = path.with_name("plain_" + path.name)
    ffmpeg(*_lavfi(), "-frames:v", "14", *_H264, str(plain))
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(path))
    plain.unlink()


# name -> recipe(path). Each is a kind of file users bring; all tiny.
CASES = {
    # OBS: .mkv whose audio starts 0.2 s before the first video frame
    "obs.mkv": lambda p: ffmpeg("-itsoffset", "0.2", *_lavfi(), *[a.format(seconds=0.8) for a in _SINE],
                                "-frames:v", "14", *_H264, "-c:a", "aac", str(p)),
    "audio.ts": lambda p: ffmpeg(*_lavfi(), *[a.format(seconds=1) for a in _SINE], "-frames:v", "14",
                                 *_H264, "-c:a", "aac", "-shortest", str(p)),
    "vfr.mp4": lambda p: _vfr(p, audio=True),
    "vfr_mkv.mkv": lambda p: _vfr(p, audio=False),
    "av1.mp4": lambda p: ffmpeg(*_lavfi(), "-frames:v", "14", "-c:v", "libaom-av1", "-cpu-used", "8",
                                "-g", "8", "-pix_fmt", "yuv420p", str(p)),
    "hevc10.mkv": lambda p: ffmpeg(*_lavfi(), "-frames:v", "14", "-c:v", "libx265", "-pix_fmt", "yuv420p10le",
                                   "-x265-params", "log-level=error:keyint=8", str(p)),
    "vp9.webm": lambda p: ffmpeg(*_lavfi(), *[a.format(seconds=1) for a in _SINE], "-frames:v", "14",
                                 "-c:v", "libvpx-vp9", "-g", "8", "-deadline", "realtime", "-cpu-used", "8",
                                 "-c:a", "libopus", "-shortest", str(p)),
    "rotated.mp4": _rotated,
    "sar.mp4": lambda p: ffmpeg(*_lavfi(), "-frames:v", "14", "-vf", "setsar=2/1", *_H264, str(p)),
    # odd sizes need 4:4:4 in H.264 (testsrc2 itself rounds sizes to even)
    "odd.mp4": lambda p: ffmpeg(*_lavfi("162x92"), "-frames:v", "12", "-vf", "format=yuv444p,crop=161:91:0:0",
                                "-c:v", "libx264", "-g", "8", "-pix_fmt", "yuv444p", str(p)),
    "gray.mkv": lambda p: ffmpeg(*_lavfi(), "-frames:v", "14", "-c:v", "libx265", "-pix_fmt", "gray",
                                 "-x265-params", "log-level=error:keyint=8", str(p)),
    "one.mp4": lambda p: ffmpeg(*_lavfi(), "-frames:v", "1", *_H264, str(p)),
    "corrupt.mkv": _corrupt,
    # raw elementary streams (no container, no timestamps): FFmpeg times them by
    # the stream's own timing (VUI: 30 fps here), else at 25 fps
    "raw_h264.h264": lambda p: ffmpeg(*_lavfi(rate=30), "-frames:v", "20", *_H264, str(p)),
    "raw_untimed.h264": lambda p: ffmpeg(*_lavfi(rate=30), "-frames:v", "20", "-c:v", "libopenh264", str(p)),
    "raw_hevc.hevc": lambda p: ffmpeg(*_lavfi(rate=30), "-frames:v", "20", "-c:v", "libx265",
                                      "-x265-params", "log-level=error:keyint=8", str(p)),
    # two video streams: FFmpeg's pick is the larger one, or the smaller one marked default
    "two_streams.mkv": lambda p: _two_streams(p, default=0),
    "two_streams_small_default.mkv": lambda p: _two_streams(p, default=1),
    "cover_art.mp4": _cover_art,
}


def make_case(name: str, folder: str | Path) -> Path:
    """The file ``CASES[name]`` in ``folder``."""
    path = Path(folder) / name
    CASES[name](path)
    return path


def decoded(path):
    """(pts seconds, RGB frame) of every video frame, and the audio stream's duration (None: no audio)."""
    with av.open(str(path)) as container:
        frames = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = None
        if container.streams.audio:
            samples = [f for f in container.decode(audio=0)]
            audio = samples[-1].time + samples[-1].samples / samples[-1].sample_rate - samples[0].time
    return frames, audio


def ffmpeg_errors(path) -> str:
    """What ``ffmpeg -v error`` says while decoding every stream of the file (empty: nothing)."""
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True)
    return result.stderr + ("" if result.returncode == 0 else f"exit {result.returncode}")
