"""What the workflow knows about a model, as plain data (no torch needed).

Each model declares one :class:`ModelDescription` in ``models/cards/<name>.py``
and ``models/__init__.py`` registers it. The rules, the planner, the
download step and prediction all read these facts from the registry, never
from a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Options that only some models use, and the value that stands for "does not
#: apply" (the schema's default), so that editing them for another model reruns nothing.
MODEL_OPTIONS = {"head": "partial", "scale": 1.0, "fixation_history": "center"}

#: DeepGaze MR's ways with the first frames of a video, which have no full
#: window (``predict.iter_log_density``).
HEAD_POLICIES = ("partial", "pad", "skip")

#: Backbone precisions (``predict.PRECISIONS`` maps them to torch dtypes).
#: Named here, torch-free, so that the command line parses without torch.
PRECISION_NAMES = ("fp32", "bf16", "fp16")

#: How a file's content is laid out (``OfficialFile.format``).
FILE_FORMATS = {
    "checkpoint_dict": "torch.save of a dict whose 'model_state_dict' maps names to tensors",
    "state_dict": "torch.save of a plain mapping of names to tensors",
    "probability_map": "an H x W probability map (torch tensor .pt or numpy .npy)",
    "log_density_npy": "numpy .npy holding an H x W log-density (logsumexp 0)",
}


@dataclass(frozen=True)
class OfficialFile:
    """One file the authors publish: a checkpoint or a center bias.

    ``sha256`` or ``git_blob_sha1`` pin the content when it is known before
    the first download (files in a git repository have a blob id). GitHub
    release assets publish neither: their sha256 is recorded at the first
    download and checked on every later use (``salience.weights``).
    """

    key: str
    filename: str
    url: str
    format: str
    content: str
    licence: str
    sha256: str | None = None
    git_blob_sha1: str | None = None

    def __post_init__(self):
        if self.format not in FILE_FORMATS:
            raise ValueError(f"{self.key}: unknown file format {self.format!r}")

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.git_blob_sha1)


@dataclass(frozen=True)
class ModelDescription:
    """Everything outside the architecture that the workflow needs to know about a model.

    ``builder``: ``"module:function"`` building the model from a checkpoint
    path (or ``None``: untrained). ``temporal_window``: frames the model sees
    per prediction (1: frame by frame, no warm-up for chunks).
    ``seconds_per_megapixel_frame``: GPU time estimate for job time limits.
    ``options``: which of :data:`MODEL_OPTIONS` apply. ``min_frame_side``:
    the shortest side (pixels, after ``scale``) its backbone's downsampling
    leaves at least one cell of (tests/unit/test_model_sizes.py finds it).
    """

    name: str
    title: str
    builder: str
    checkpoint: OfficialFile
    center_bias: OfficialFile
    temporal_window: int
    seconds_per_megapixel_frame: float
    options: frozenset[str]
    min_frame_side: int

    def __post_init__(self):
        unknown = set(self.options) - set(MODEL_OPTIONS)
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {sorted(unknown)}")
        if self.center_bias.format not in ("probability_map", "log_density_npy"):
            raise ValueError(f"{self.name}: the default center bias must be a map, not {self.center_bias.format}")

    @property
    def per_frame(self) -> bool:
        return self.temporal_window == 1

    def applies(self, option: str) -> bool:
        """Whether config key ``option`` (one of :data:`MODEL_OPTIONS`) shapes this model's maps."""
        if option not in MODEL_OPTIONS:
            raise KeyError(option)
        return option in self.options
