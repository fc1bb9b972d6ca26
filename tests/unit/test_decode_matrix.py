"""Every pixel as the ffmpeg binary decodes it: ``read_frames`` against ``ffmpeg -pix_fmt rgb24``.

One tiny clip per pixel format, range, colour matrix tag and scan type users
bring (phones and cameras: 8-bit 4:2:0; OBS: 10-bit HEVC/AV1; broadcast .ts:
interlaced, 4:2:2; webcams: MJPEG; editing: ProRes; screen capture: RGB, GIF;
HDR tags; phones: rotated), each made
here with the ffmpeg binary. The yardstick is that binary's own plain
conversion, ``ffmpeg -i clip -pix_fmt rgb24 -f rawvideo -`` (no deinterlacing
filter), and every case must be within 2 levels of it.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from helpers.videos import ffmpeg, ffmpeg_exe

from salience import video

MAX_LEVELS = 2
FRAMES = 3

BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
BT601 = ["-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m"]
BT2020 = ["-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", "bt2020-10"]
HDR10 = ["-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", "smpte2084"]
X265 = ["-c:v", "libx265", "-x265-params", "log-level=error"]


def x264(pix_fmt: str, *extra: str) -> list[str]:
    return ["-c:v", "libx264", "-pix_fmt", pix_fmt, *extra]


def fields(order: str) -> list[str]:
    """Frames marked interlaced, top ("tff") or bottom ("bff") field first: the encoders code them so."""
    return ["-vf", f"setfield={order}", "-flags", "+ildct+ilme"]


def interlaced(pix_fmt: str, order: str) -> list[str]:
    """Interlaced H.264 (x264 field/MBAFF coding)."""
    return ["-c:v", "libx264", "-pix_fmt", pix_fmt, *fields(order), "-x264opts", "interlaced=1"]


# name -> (ffmpeg output options, file suffix, decoded pixel format, scan: "P", "T" or "B")
CASES = {
    # 8-bit
    "h264_yuv420p": (x264("yuv420p"), "mp4", "yuv420p", "P"),
    "h264_yuv420p_bt709": (x264("yuv420p", *BT709), "mp4", "yuv420p", "P"),
    "h264_yuv420p_bt601": (x264("yuv420p", *BT601), "mp4", "yuv420p", "P"),
    "h264_yuv420p_bt2020": (x264("yuv420p", *BT2020), "mkv", "yuv420p", "P"),
    # full range: FFmpeg's H.264 decoder calls 8-bit full range yuvj420p
    "h264_yuv420p_full_range": (x264("yuv420p", "-color_range", "pc"), "mp4", "yuvj420p", "P"),
    "h264_yuvj420p": (x264("yuvj420p"), "mp4", "yuvj420p", "P"),
    "h264_yuv422p": (x264("yuv422p"), "mkv", "yuv422p", "P"),
    "h264_yuv444p_bt709": (x264("yuv444p", *BT709), "mkv", "yuv444p", "P"),
    "h264_rgb": (["-c:v", "libx264rgb", "-pix_fmt", "rgb24"], "mkv", "gbrp", "P"),
    "hevc_gray": ([*X265, "-pix_fmt", "gray"], "mkv", "gray", "P"),
    "vp9_yuv420p": (["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"], "webm", "yuv420p", "P"),
    "av1_yuv420p": (["-c:v", "libaom-av1", "-cpu-used", "8"], "mkv", "yuv420p", "P"),
    "mjpeg_yuvj422p": (["-c:v", "mjpeg", "-pix_fmt", "yuvj422p"], "avi", "yuvj422p", "P"),
    "png_rgb24": (["-c:v", "png", "-pix_fmt", "rgb24"], "mkv", "rgb24", "P"),
    "png_rgb48": (["-c:v", "png", "-pix_fmt", "rgb48be"], "mkv", "rgb48be", "P"),
    "png_rgba": (["-c:v", "png", "-pix_fmt", "rgba"], "mkv", "rgba", "P"),  # alpha dropped, as by ffmpeg
    "gif": (["-c:v", "gif"], "gif", "bgra", "P"),
    # 10 and 12 bit
    "h264_yuv420p10": (x264("yuv420p10le"), "mp4", "yuv420p10le", "P"),
    "h264_yuv420p10_full_range": (x264("yuv420p10le", "-color_range", "pc"), "mkv", "yuv420p10le", "P"),
    "h264_yuv422p10": (x264("yuv422p10le"), "mkv", "yuv422p10le", "P"),
    "h264_yuv444p10": (x264("yuv444p10le"), "mkv", "yuv444p10le", "P"),
    "hevc_yuv420p10": ([*X265, "-pix_fmt", "yuv420p10le"], "mkv", "yuv420p10le", "P"),
    "hevc_yuv420p10_bt709": ([*X265, "-pix_fmt", "yuv420p10le", *BT709], "mp4", "yuv420p10le", "P"),
    "hevc_yuv420p10_bt2020": ([*X265, "-pix_fmt", "yuv420p10le", *BT2020], "mkv", "yuv420p10le", "P"),
    "hevc_yuv420p10_hdr10": ([*X265, "-pix_fmt", "yuv420p10le", *HDR10], "mkv", "yuv420p10le", "P"),
    "hevc_yuv422p10": ([*X265, "-pix_fmt", "yuv422p10le"], "mkv", "yuv422p10le", "P"),
    "hevc_yuv444p10": ([*X265, "-pix_fmt", "yuv444p10le"], "mkv", "yuv444p10le", "P"),
    "hevc_yuv420p12": ([*X265, "-pix_fmt", "yuv420p12le"], "mkv", "yuv420p12le", "P"),
    "vp9_yuv420p10": (["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p10le", "-deadline", "realtime",
                       "-cpu-used", "8"], "webm", "yuv420p10le", "P"),
    "av1_yuv420p10": (["-c:v", "libaom-av1", "-cpu-used", "8", "-pix_fmt", "yuv420p10le"], "mkv",
                      "yuv420p10le", "P"),
    "ffv1_gray10": (["-c:v", "ffv1", "-pix_fmt", "gray10le"], "mkv", "gray10le", "P"),
    "ffv1_yuv420p16": (["-c:v", "ffv1", "-pix_fmt", "yuv420p16le"], "mkv", "yuv420p16le", "P"),
    "prores_422_hq": (["-c:v", "prores_ks", "-profile:v", "3"], "mov", "yuv422p10le", "P"),
    "prores_4444_alpha": (["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"], "mov",
                          "yuva444p12le", "P"),
    # interlaced
    "h264_yuv420p_interlaced_tff": (interlaced("yuv420p", "tff"), "ts", "yuv420p", "T"),
    "h264_yuv420p_interlaced_bff": (interlaced("yuv420p", "bff"), "ts", "yuv420p", "B"),
    "h264_yuv420p_interlaced_tff_bt709": (interlaced("yuv420p", "tff") + BT709, "mkv", "yuv420p", "T"),
    "h264_yuv422p10_interlaced_tff": (interlaced("yuv422p10le", "tff"), "mkv", "yuv422p10le", "T"),
    "h264_yuv420p10_interlaced_bff": (interlaced("yuv420p10le", "bff"), "mkv", "yuv420p10le", "B"),
    "mpeg2_yuv420p_interlaced_tff": (["-c:v", "mpeg2video", "-q:v", "2", *fields("tff")], "ts", "yuv420p", "T"),
    "mpeg2_yuv422p_interlaced_bff": (["-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-q:v", "2", *fields("bff")],
                                     "ts", "yuv422p", "B"),
    # phone videos: stored sideways, shown upright (a display rotation); ffmpeg
    # turns the picture before converting it, so the chroma is resampled upright
    "h264_yuv420p_rotated_90": (x264("yuv420p"), "mp4", "yuv420p", "P"),
    "h264_yuv420p10_rotated_90": (x264("yuv420p10le"), "mp4", "yuv420p10le", "P"),
    "hevc_yuv420p10_rotated_180": ([*X265, "-pix_fmt", "yuv420p10le"], "mp4", "yuv420p10le", "P"),
    "hevc_yuv420p10_rotated_270": ([*X265, "-pix_fmt", "yuv420p10le"], "mp4", "yuv420p10le", "P"),
}


def rotation(name: str) -> int:
    """The counter-clockwise display rotation a case's name asks for (0: none)."""
    return int(name.rsplit("_rotated_", 1)[1]) if "_rotated_" in name else 0


def make_clip(name: str, folder) -> str:
    options, suffix, _, _ = CASES[name]
    path = folder / f"{name}.{suffix}"
    coded = path.with_name(f"coded_{path.name}") if rotation(name) else path
    # testsrc2: colour bars, gradients and moving edges, every channel at every level
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", str(FRAMES), *options, str(coded))
    if rotation(name):
        ffmpeg("-display_rotation", str(rotation(name)), "-i", str(coded), "-c", "copy", str(path))
    return str(path)


def ffmpeg_rgb(path: str, width: int, height: int) -> np.ndarray:
    """Every frame as the ffmpeg binary converts it to RGB24 by default: frames x H x W x 3."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", path, "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def ffmpeg_scan(path: str) -> set[str]:
    """How the ffmpeg binary flags the decoded frames: P progressive, T/B interlaced top/bottom first."""
    stderr = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-vf", "showinfo",
                             "-f", "null", "-"], capture_output=True, text=True).stderr
    return set(re.findall(r" i:([PTB]) ", stderr))


def worst_difference(frames: np.ndarray, reference: np.ndarray) -> int:
    return int(np.abs(frames.astype(np.int16) - reference.astype(np.int16)).max())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pixel_formats")
    return {name: make_clip(name, folder) for name in CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_frames_equal_ffmpeg_rgb24(clips, name):
    _, _, pixel_format, scan = CASES[name]
    path = clips[name]
    info = video.probe(path)
    # the clip is what its name says, as FFmpeg decodes it
    assert info.pixel_format == pixel_format
    assert ffmpeg_scan(path) == {scan}
    assert info.rotation == rotation(name)
    frames = np.stack(list(video.read_frames(info)))
    reference = ffmpeg_rgb(path, info.width, info.height)  # ffmpeg shows it upright too
    assert frames.shape == reference.shape == (FRAMES, *((64, 48) if rotation(name) % 180 else (48, 64)), 3)
    worst = worst_difference(frames, reference)
    assert worst <= MAX_LEVELS, f"{name}: up to {worst} levels from ffmpeg's RGB"


def test_frames_reached_by_seeking_are_converted_alike(clips):
    """The conversion holds for frames found by timestamp (a chunk's first frame), interlaced too."""
    for name in ("h264_yuv420p10", "h264_yuv420p_interlaced_bff"):
        info = video.probe(clips[name])
        whole = list(video.read_frames(info))
        assert all(np.array_equal(a, b) for a, b in zip(video.read_frames(info, 1), whole[1:]))
