"""Rendering in segments: joined videos equal a one-job render (frames, timestamps, audio)."""

from __future__ import annotations


import av
import numpy as np
import pytest
import zarr

from helpers.videos import decoded, ffmpeg_errors, make_case, make_video

from salience import join, plan, store, video
from salience.frames import FrameRange
from salience.rendering import colour, export
from salience.rendering import videos as render
from salience.errors import VideoError
from salience.settings import Encoding, RenderStyle, Storage


def write_chunk_stores(folder, info, bounds):
    """Chunk stores as predict_chunk writes them: a blob moving across the frame."""
    height, width = info.height, info.width
    y, x = np.mgrid[0:height, 0:width]

    def frames(start, stop):
        for index in range(start, stop):
            log_density = -((x - width * index / info.frame_count) ** 2 + (y - height / 2) ** 2) / 60.0
            yield index, (log_density - np.log(np.exp(log_density).sum())).astype(np.float32)

    paths = []
    for start, stop in zip(bounds, bounds[1:]):
        path = folder / f"{FrameRange(start, stop, 0).name}.zarr"
        # shards of one frame: whole shards for any chunk bounds, as in a job
        store.write_frames(path, frames(start, stop), first=start, count=stop - start, height=height,
                           width=width, attrs={}, storage=Storage(shard_frames=1))
        paths.append(path)
    return paths


def render_in_segments(tmp_path, info, chunk_paths, bounds, name, **options):
    """render_segment per segment (each reading only its own chunk store), then join_videos."""
    heat, over = [], []
    for path, start, stop in zip(chunk_paths, bounds, bounds[1:]):
        segment = FrameRange(start, stop)
        heat.append(tmp_path / name / "heatmap" / f"{segment.name}.mp4")
        over.append(tmp_path / name / "overlay" / f"{segment.name}.mp4")
        render.render_segment([path], info, start, stop, heatmap_path=heat[-1], overlay_path=over[-1],
                              **options)
    outputs = tmp_path / f"{name}_heatmap.mp4", tmp_path / f"{name}_overlay.mp4"
    join.join_videos(heat, info, outputs[0])
    join.join_videos(over, info, outputs[1])
    return outputs


def test_plan_segments_stay_inside_chunks():
    chunks = [FrameRange(0, 300, 0), FrameRange(300, 600, 15), FrameRange(600, 650, 15)]
    assert plan.plan_segments(chunks) == [FrameRange(0, 300), FrameRange(300, 600),
                                              FrameRange(600, 650)]
    planned = plan.plan_segments(chunks, 120)
    assert [(s.start, s.stop) for s in planned] == [(0, 100), (100, 200), (200, 300), (300, 400),
                                                    (400, 500), (500, 600), (600, 650)]
    assert FrameRange.parse(planned[1].name) == planned[1]


@pytest.mark.parametrize("case, crf", [("cfr_audio.mp4", 0), ("vfr.mp4", 0), ("cfr_audio.mp4", 18)])
def test_segments_joined_equal_one_job(tmp_path, case, crf):
    """Four segments joined vs one render_videos job: frames, timestamps, audio, clean decode.

    At crf 0 x264 is lossless, so the decoded pixels are identical. At crf 18
    each segment restarts the encoder (a keyframe, its own rate control), so
    pixels differ within the encoder's rounding: checked against the
    uncompressed heatmap, both renders are equally close.
    """
    source = (make_video(tmp_path / case, frames=30, size="64x48", audio=True) if case.startswith("cfr")
              else make_case(case, tmp_path))
    info = video.probe(source)
    bounds = [info.frame_count * k // 4 for k in range(5)]  # four segments of unequal starts
    chunk_paths = write_chunk_stores(tmp_path, info, bounds)
    store.assemble(chunk_paths, tmp_path / "saliency.zarr", frame_count=info.frame_count, attrs={},
                   timestamps=list(info.times))
    single = tmp_path / "single_heatmap.mp4", tmp_path / "single_overlay.mp4"
    render.render_videos(tmp_path / "saliency.zarr", info, heatmap_path=single[0], overlay_path=single[1],
                         encoding=Encoding(crf=crf))
    joined = render_in_segments(tmp_path, info, chunk_paths, bounds, "joined", encoding=Encoding(crf=crf))

    for one, parts in zip(single, joined):
        assert ffmpeg_errors(parts) == "", parts
        (one_frames, one_audio), (part_frames, part_audio) = decoded(one), decoded(parts)
        assert len(part_frames) == len(one_frames) == info.frame_count
        assert [t for t, _ in part_frames] == [t for t, _ in one_frames]  # the source's times, VFR too
        with av.open(str(one)) as a, av.open(str(parts)) as b:  # what players and demuxers derive
            assert b.streams.video[0].average_rate == a.streams.video[0].average_rate
            assert b.streams.video[0].duration == a.streams.video[0].duration
        assert part_audio is not None and part_audio == pytest.approx(one_audio, abs=1e-3)
        assert part_audio == pytest.approx(info.duration, abs=0.05)  # from the first frame (earlier sound is cut)
        pixels = np.stack([f for _, f in part_frames]).astype(int), np.stack([f for _, f in one_frames]).astype(int)
        if crf == 0:
            np.testing.assert_array_equal(*pixels)
        else:
            reference = np.stack([colour.colorize(np.asarray(zarr.open_group(str(tmp_path / "saliency.zarr"))
                                                              ["log_density"][i]))
                                  for i in range(info.frame_count)]).astype(int)
            if "heatmap" in one.name:  # the overlay's reference would need the decoded source
                error_parts = np.abs(pixels[0] - reference).mean()
                error_one = np.abs(pixels[1] - reference).mean()
                assert error_parts < 2.5 and error_one < 2.5 and abs(error_parts - error_one) < 0.5
            psnr = 10 * np.log10(255.0**2 / np.mean((pixels[0] - pixels[1]) ** 2))
            print(f"{one.name}: joined vs one job PSNR {psnr:.1f} dB")
            assert psnr > 35


def test_join_refuses_segments_that_do_not_tile(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=12, size="64x48")
    info = video.probe(source)
    bounds = [0, 6, 12]
    chunk_paths = write_chunk_stores(tmp_path, info, bounds)
    parts = []
    for path, start, stop in zip(chunk_paths, bounds, bounds[1:]):
        parts.append(tmp_path / f"{FrameRange(start, stop).name}.mp4")
        render.render_segment([path], info, start, stop, heatmap_path=parts[-1])
    with pytest.raises(VideoError, match="frame 0 is due"):
        join.join_videos(parts[::-1], info, tmp_path / "out.mp4")
    with pytest.raises(VideoError, match="cover 6 frames"):
        join.join_videos(parts[:1], info, tmp_path / "out.mp4")
    assert not list(tmp_path.glob("*out*"))
    with pytest.raises(Exception, match="no store holds frame 11"):
        render.render_segment([chunk_paths[0]], info, 0, 12, heatmap_path=tmp_path / "x.mp4")


def test_exports_in_parts_equal_one_export(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=12, size="64x48")
    info = video.probe(source)
    bounds = [0, 5, 12]
    chunk_paths = write_chunk_stores(tmp_path, info, bounds)
    store.assemble(chunk_paths, tmp_path / "saliency.zarr", frame_count=12, attrs={}, timestamps=list(info.times))
    export.export_frames(tmp_path / "saliency.zarr", png_dir=tmp_path / "png_one", npy_dir=tmp_path / "npy_one")
    for kind in ("png", "npy"):
        parts = []
        for path, start, stop in zip(chunk_paths, bounds, bounds[1:]):
            parts.append(tmp_path / kind / FrameRange(start, stop).name)
            render.render_segment([path], info, start, stop, **{f"{kind}_dir": parts[-1]})
        (parts[0] / ".snakemake_timestamp").touch()  # Snakemake's marker in directory outputs
        join.join_dirs(parts, tmp_path / f"{kind}_joined")
        one = sorted(p.name for p in (tmp_path / f"{kind}_one").iterdir())
        assert sorted(p.name for p in (tmp_path / f"{kind}_joined").iterdir()) == one
        for name in one:
            assert (tmp_path / f"{kind}_joined" / name).read_bytes() == (tmp_path / f"{kind}_one" / name).read_bytes()
        assert all(part.is_dir() for part in parts)  # linked, not moved: a killed join can be redone


def test_global_normalization_in_segments_equals_one_job(tmp_path):
    """Segments coloured by the video's peak (density-peak over the chunk stores), crf 0: identical."""
    import json

    from salience.__main__ import main

    source = make_video(tmp_path / "clip.mp4", frames=12, size="64x48")
    info = video.probe(source)
    bounds = [0, 5, 12]
    chunk_paths = write_chunk_stores(tmp_path, info, bounds)
    store.assemble(chunk_paths, tmp_path / "saliency.zarr", frame_count=12, attrs={}, timestamps=list(info.times))
    assert main(["density-peak", *map(str, chunk_paths), "--output", str(tmp_path / "peak.json")]) == 0
    vmax = colour.global_density_max(zarr.open_group(str(tmp_path / "saliency.zarr"))["log_density"])
    assert json.loads((tmp_path / "peak.json").read_text())["density_max"] == vmax
    single = tmp_path / "one_h.mp4", tmp_path / "one_o.mp4"
    render.render_videos(tmp_path / "saliency.zarr", info, heatmap_path=single[0], overlay_path=single[1],
                         style=RenderStyle(normalization="global"), encoding=Encoding(crf=0))
    joined = render_in_segments(tmp_path, info, chunk_paths, bounds, "parts", encoding=Encoding(crf=0), vmax=vmax)
    for one, parts in zip(single, joined):
        np.testing.assert_array_equal(np.stack([f for _, f in decoded(parts)[0]]),
                                      np.stack([f for _, f in decoded(one)[0]]))
