"""salience.render: colours, blending, and real H.264 outputs checked by decoding them."""

from __future__ import annotations

import math
import os
import re
import subprocess

import cv2
import numpy as np
import pytest
import zarr

from helpers.videos import decode_all, ffmpeg, ffmpeg_exe

from salience import encode, video
from salience.rendering import colour
from salience.rendering import videos as render
from salience.errors import ConfigError, VideoError
from salience.settings import Encoding, RenderStyle

FRAMES = 20
SOURCE_SIZE = (96, 64)  # width, height



def ffmpeg_streams(path) -> str:
    """The stream lines of ``ffmpeg -i path``."""
    stderr = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True).stderr
    return "\n".join(line for line in stderr.splitlines() if "Stream #" in line)


def make_source(path, *, width=96, height=64, rate="25", audio=False, codec=("-c:v", "libx264", "-pix_fmt", "yuv420p")):
    # testsrc2 rounds sizes to even: make an even picture, crop it in RGB.
    even = f"{width + width % 2}x{height + height % 2}"
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={even}:rate={rate},format=rgb24,crop={width}:{height}:0:0"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
        codec = (*codec, "-c:a", "aac", "-shortest")
    ffmpeg(*inputs, "-frames:v", str(FRAMES), *codec, str(path))
    return path


def blob_log_density(height, width, index, frames):
    """A normalized log-density with one peak that moves with the frame index."""
    y, x = np.mgrid[0:height, 0:width]
    cx = 10 + (width - 20) * index / max(frames - 1, 1)
    cy = height / 2
    log_density = -((x - cx) ** 2 + (y - cy) ** 2) / (2 * 6.0**2)
    log_density -= np.log(np.exp(log_density).sum())
    return log_density.astype(np.float32), (int(round(cy)), int(round(cx)))


def make_store(path, frames=FRAMES, height=64, width=96, fps=25.0):
    """A saliency store as the prediction step writes it; returns the peak positions."""
    group = zarr.open_group(str(path), mode="w")
    array = group.create_array("log_density", shape=(frames, height, width), chunks=(1, height, width),
                               dtype="float32")
    peaks = []
    for index in range(frames):
        array[index], peak = blob_log_density(height, width, index, frames)
        peaks.append(peak)
    group.attrs["fps"] = fps
    return path, peaks



def hidden_leftovers(folder) -> list[str]:
    return [name for name in os.listdir(folder) if ".partial" in name]


# --------------------------------------------------------------------------- colour


def test_colorize_puts_top_colour_at_density_max():
    log_density, (py, px) = blob_log_density(64, 96, 3, 10)
    lut = colour.colormap_lut("inferno")
    heat = colour.colorize(log_density)
    assert heat.dtype == np.uint8 and heat.shape == (64, 96, 3)
    assert tuple(heat[py, px]) == tuple(lut[255])
    assert tuple(heat[0, 95]) == tuple(lut[0])  # far from the peak: density ~ 0
    # the table is the matplotlib colormap itself
    import matplotlib

    top = np.round(np.array(matplotlib.colormaps["viridis"](1.0)[:3]) * 255).astype(np.uint8)
    assert tuple(colour.colorize(log_density, cmap="viridis")[py, px]) == tuple(top)


def test_frame_and_global_normalization_differ():
    strong, _ = blob_log_density(32, 48, 0, 2)
    # a weaker frame: its peak density is 0.6 of the strong frame's
    weak = strong + np.float32(math.log(0.6))
    weak[0, 0] = -np.inf  # no mass there
    store = np.stack([strong, weak])
    vmax = colour.global_density_max(store)
    assert vmax == pytest.approx(float(np.exp(strong.max())), rel=1e-6)
    lut = colour.colormap_lut("inferno")
    peak = np.unravel_index(np.argmax(strong), strong.shape)
    # per frame: both frames reach the top colour
    assert tuple(colour.colorize(weak)[peak]) == tuple(lut[255])
    # global: the weak frame's peak sits at 0.6 of the colormap (0.6 * 255 = 153)
    assert tuple(colour.colorize(weak, vmax=vmax)[peak]) == tuple(lut[153])
    assert tuple(colour.colorize(strong, vmax=vmax)[peak]) == tuple(lut[255])
    # global with a vmax below the frame's max clips to the top colour
    assert tuple(colour.colorize(strong, vmax=vmax / 4)[peak]) == tuple(lut[255])
    assert tuple(colour.colorize(weak)[0, 0]) == tuple(lut[0])


def test_blend():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    heat = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    assert np.array_equal(colour.blend(frame, heat, 0.0), frame)
    assert np.array_equal(colour.blend(frame, heat, 1.0), heat)
    half = colour.blend(frame, heat, 0.5).astype(int)
    assert np.abs(half - (frame.astype(int) + heat) / 2).max() <= 1
    with pytest.raises(ValueError):
        colour.blend(frame, heat, 1.5)


def test_unknown_colormap_is_a_config_error():
    with pytest.raises(ConfigError, match="colormap"):
        colour.colorize(np.zeros((4, 4), np.float32), cmap="no-such-map")


def test_fps_fraction():
    from fractions import Fraction

    assert encode.fps_fraction(30000 / 1001) == Fraction(30000, 1001)
    assert encode.fps_fraction(25.0) == 25
    assert encode.fps_fraction(23.976023976023978) == Fraction(24000, 1001)
    assert encode.fps_fraction(12.5) == Fraction(25, 2)


# --------------------------------------------------------------------------- videos


@pytest.mark.parametrize("with_audio", [True, False])
def test_render_videos_end_to_end(tmp_path, with_audio):
    # The silent source runs at the NTSC rate, to check fps is carried exactly.
    rate = "25" if with_audio else "30000/1001"
    source = make_source(tmp_path / "source.mp4", rate=rate, audio=with_audio)
    store, peaks = make_store(tmp_path / "saliency.zarr")
    out = tmp_path / "out"
    heatmap, overlay = out / "heatmap.mp4", out / "overlay.mp4"
    render.render_videos(store, source, heatmap_path=heatmap, overlay_path=overlay,
                         png_dir=out / "png", npy_dir=out / "npy", style=RenderStyle(opacity=0.5))

    source_info = video.probe(source)
    source_frames = decode_all(source)
    for path in (heatmap, overlay):
        info = video.probe(path)
        assert info.frame_count == FRAMES
        assert info.timestamps == pytest.approx(source_info.timestamps, abs=1e-3)
        assert (info.width, info.height) == SOURCE_SIZE
        assert info.fps == pytest.approx(source_info.fps, rel=1e-9)
        assert info.has_audio == with_audio
        streams = ffmpeg_streams(path)
        assert re.search(r"Video: h264 .*yuv420p", streams), streams
        assert ("Audio: aac" in streams) == with_audio
    assert "29.97 fps" in ffmpeg_streams(heatmap) or with_audio

    # Frame i of each output comes from store frame i (the moving peak) and source frame i.
    lut = colour.colormap_lut("inferno")
    log_density = zarr.open_group(str(store), mode="r")["log_density"]
    for index, (heat, over) in enumerate(zip(decode_all(heatmap), decode_all(overlay))):
        expected_heat = colour.colorize(log_density[index])
        assert np.abs(heat.astype(int) - expected_heat).mean() < 6
        brightest = np.unravel_index(np.argmax(heat.astype(int).sum(axis=2)), heat.shape[:2])
        assert abs(brightest[1] - peaks[index][1]) <= 2 and abs(brightest[0] - peaks[index][0]) <= 2
        expected_over = colour.blend(source_frames[index], expected_heat, 0.5)
        assert np.abs(over.astype(int) - expected_over).mean() < 8
        assert np.abs(heat[peaks[index]].astype(int) - lut[255]).max() < 24

    pngs = sorted(os.listdir(out / "png"))
    assert pngs == [f"frame_{i:06d}.png" for i in range(FRAMES)]
    png = cv2.cvtColor(cv2.imread(str(out / "png" / pngs[7])), cv2.COLOR_BGR2RGB)
    assert np.array_equal(png, colour.colorize(log_density[7]))
    npys = sorted(os.listdir(out / "npy"))
    assert npys == [f"frame_{i:06d}.npy" for i in range(FRAMES)]
    assert np.array_equal(np.load(out / "npy" / npys[-1]), log_density[FRAMES - 1])
    assert hidden_leftovers(out) == []


def test_audio_can_be_dropped(tmp_path):
    source = make_source(tmp_path / "source.mp4", audio=True)
    store, _ = make_store(tmp_path / "saliency.zarr")
    render.render_videos(store, source, heatmap_path=tmp_path / "h.mp4", overlay_path=tmp_path / "o.mp4",
                         encoding=Encoding(audio=False), style=RenderStyle(normalization="global"))
    assert not video.probe(tmp_path / "h.mp4").has_audio
    assert video.probe(tmp_path / "o.mp4").frame_count == FRAMES


def test_odd_frame_size_is_padded_to_even(tmp_path):
    source = make_source(tmp_path / "odd.avi", width=95, height=63, codec=("-c:v", "mjpeg", "-pix_fmt", "yuvj444p"))
    store, _ = make_store(tmp_path / "saliency.zarr", height=63, width=95)
    heatmap, overlay = tmp_path / "h.mp4", tmp_path / "o.mp4"
    render.render_videos(store, source, heatmap_path=heatmap, overlay_path=overlay)
    assert video.probe(source).padded_size == (96, 64)  # what probe.json says of the outputs
    for path in (heatmap, overlay):
        info = video.probe(path)
        assert (info.width, info.height, info.frame_count) == (96, 64, FRAMES)
        frame = decode_all(path)[0].astype(int)
        # the padding repeats the last column/row (up to 4:2:0 chroma and compression)
        assert np.abs(frame[:, 95] - frame[:, 94]).mean() < 12 and np.abs(frame[63, :] - frame[62, :]).mean() < 12


def test_store_resized_to_the_video(tmp_path):
    source = make_source(tmp_path / "source.mkv")
    store, _ = make_store(tmp_path / "saliency.zarr", height=32, width=48)
    render.render_videos(store, source, heatmap_path=tmp_path / "h.mp4", overlay_path=tmp_path / "o.mp4")
    info = video.probe(tmp_path / "h.mp4")
    assert (info.width, info.height, info.frame_count) == (96, 64, FRAMES)


def test_exception_mid_write_leaves_no_file(tmp_path):
    info = video.probe(make_source(tmp_path / "source.mp4", audio=True))
    out = tmp_path / "out"
    frame = np.zeros((64, 96, 3), np.uint8)
    with pytest.raises(RuntimeError, match="boom"):
        with encode.H264Writer(out / "heatmap.mp4", info) as writer:
            for _ in range(5):
                writer.write(frame)
            raise RuntimeError("boom")
    assert os.listdir(out) == []


def test_exception_mid_render_leaves_no_outputs(tmp_path, monkeypatch):
    source = make_source(tmp_path / "source.mp4", audio=True)
    store, _ = make_store(tmp_path / "saliency.zarr")
    out = tmp_path / "out"
    out.mkdir()
    real_blend, calls = colour.blend, []

    def failing_blend(*args):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("killed mid-render")
        return real_blend(*args)

    monkeypatch.setattr(render, "blend", failing_blend)
    with pytest.raises(RuntimeError, match="killed mid-render"):
        render.render_videos(store, source, heatmap_path=out / "h.mp4", overlay_path=out / "o.mp4",
                             png_dir=out / "png", npy_dir=out / "npy")
    assert os.listdir(out) == []


def test_encoder_failure_names_the_file_and_leaves_nothing(tmp_path):
    info = video.probe(make_source(tmp_path / "source.mp4"))
    out = tmp_path / "out"
    path = out / "heatmap.mp4"
    with pytest.raises(VideoError) as error:
        with encode.H264Writer(path, info, Encoding(preset="no-such-preset")) as writer:
            for _ in range(FRAMES):
                writer.write(np.zeros((64, 96, 3), np.uint8))
    assert str(path) in str(error.value)
    assert os.listdir(out) == []


def test_frame_count_mismatch_is_refused(tmp_path):
    source = make_source(tmp_path / "source.mp4")
    store, _ = make_store(tmp_path / "saliency.zarr", frames=FRAMES - 3)
    with pytest.raises(VideoError, match=f"holds {FRAMES - 3} frames") as error:
        render.render_videos(store, source, heatmap_path=tmp_path / "h.mp4", overlay_path=tmp_path / "o.mp4")
    assert str(source) in str(error.value)
    assert not (tmp_path / "h.mp4").exists() and not (tmp_path / "o.mp4").exists()


def test_frame_count_mismatch_in_mpeg_ts_is_refused_before_any_output(tmp_path):
    # .ts has no frame count in its header: the probe's full decode gives it.
    source = make_source(tmp_path / "source.ts")
    store, _ = make_store(tmp_path / "saliency.zarr", frames=FRAMES - 3)
    with pytest.raises(VideoError, match="Re-run the prediction"):
        render.render_videos(store, source, heatmap_path=tmp_path / "h.mp4", overlay_path=tmp_path / "o.mp4",
                             png_dir=tmp_path / "png")
    assert sorted(os.listdir(tmp_path)) == ["saliency.zarr", "source.ts"]


def test_rerender_replaces_exports(tmp_path):
    source = make_source(tmp_path / "source.mp4")
    store, _ = make_store(tmp_path / "saliency.zarr")
    (tmp_path / "png").mkdir()
    (tmp_path / "png" / "stale.txt").write_text("old")
    for _ in range(2):
        render.render_videos(store, source, heatmap_path=tmp_path / "h.mp4", overlay_path=tmp_path / "o.mp4",
                             png_dir=tmp_path / "png")
    assert len(os.listdir(tmp_path / "png")) == FRAMES
    assert hidden_leftovers(tmp_path) == []
