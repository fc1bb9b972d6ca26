"""Settings that own their defaults: how maps are coloured, how videos are encoded, what reruns what.

The config schema's defaults (``schemas/config.schema.yaml``), the values of
the shipped ``config.yaml``, the command line's defaults and the function
signatures all come from here or are held equal to it by
``tests/unit/test_settings.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

NORMALIZATIONS = ("frame", "global")


@dataclass(frozen=True)
class RenderStyle:
    """How a map is coloured and laid over the video (config ``render:``).

    ``colormap``: any matplotlib colormap; ``normalization``: "frame" (each
    frame's densest pixel gets the top colour) or "global" (the video's);
    ``opacity``: of the heatmap over the video, 0..1.
    """

    colormap: str = "inferno"
    normalization: str = "frame"
    opacity: float = 0.5


@dataclass(frozen=True)
class Encoding:
    """How the H.264 videos are encoded (config ``render:``).

    ``crf``: x264's quality, 0 lossless .. 51 worst (18 looks lossless);
    ``preset``: x264's speed against size; ``threads``: x264 threads per
    video (0: x264's choice); ``audio``: carry the source's audio over.
    """

    crf: int = 18
    preset: str = "medium"
    threads: int = 0
    audio: bool = True


@dataclass(frozen=True)
class Storage:
    """How a store's maps are written: ``dtype`` (``store.STORE_DTYPES``), frames per
    shard file, and writer threads (None: ``store.WRITE_THREADS``)."""

    dtype: str = "float32"
    shard_frames: int = 20
    threads: int | None = None


@dataclass(frozen=True)
class Prediction:
    """How a prediction job runs (config keys of the same names; ``python -m salience predict``).

    Torch-free: the command line parses without torch. ``threads``: CPU
    threads for torch and the store's writers (None: torch's choice).
    """

    head: str = "partial"
    precision: str = "fp32"
    batch_size: int = 4
    device: str = "auto"
    threads: int | None = None
    scale: float = 1.0
    fixation_history: str = "center"
    store_dtype: str = Storage.dtype
    shard_frames: int = Storage.shard_frames

    @property
    def storage(self) -> Storage:
        return Storage(self.store_dtype, self.shard_frames, self.threads)


#: Config keys whose values shape the predicted maps: changing one reruns
#: prediction (common.smk leaves out those that do not apply to the model).
PREDICTION_KEYS = ("model", "weights", "center_bias", "head", "precision", "chunk_frames", "scale",
                   "fixation_history", "store_dtype")


# --- the command line's options for them ----------------------------------------

def add_style_options(parser, *, normalization: bool = False) -> None:
    """``--colormap``, ``--opacity`` (and ``--normalization``), defaults from :class:`RenderStyle`."""
    parser.add_argument("--colormap", default=RenderStyle.colormap, help="any matplotlib colormap name")
    parser.add_argument("--opacity", type=float, default=RenderStyle.opacity, help="heatmap over the video, 0..1")
    if normalization:
        parser.add_argument("--normalization", choices=NORMALIZATIONS, default=RenderStyle.normalization)


def style_from(args) -> RenderStyle:
    """The :class:`RenderStyle` of parsed options (``add_style_options``)."""
    return RenderStyle(colormap=args.colormap, opacity=args.opacity,
                       normalization=getattr(args, "normalization", RenderStyle.normalization))


def add_encoding_options(parser, *, preset: bool = False, audio: bool = False) -> None:
    """``--crf`` (and ``--preset``, ``--threads``, ``--no-audio``), defaults from :class:`Encoding`."""
    parser.add_argument("--crf", type=int, default=Encoding.crf, help="x264 quality: 0 lossless .. 51 worst")
    if preset:
        parser.add_argument("--preset", default=Encoding.preset, help="x264 preset (speed against size)")
        parser.add_argument("--threads", type=int, default=Encoding.threads,
                            help="x264 threads per video (0: x264's choice)")
    if audio:
        parser.add_argument("--no-audio", dest="audio", action="store_false")


def encoding_from(args) -> Encoding:
    """The :class:`Encoding` of parsed options (``add_encoding_options``)."""
    return Encoding(crf=args.crf, preset=getattr(args, "preset", Encoding.preset),
                    threads=getattr(args, "threads", Encoding.threads), audio=getattr(args, "audio", Encoding.audio))
