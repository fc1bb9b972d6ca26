"""How ``salience.predict`` runs an image model (DeepGaze IIE, III) frame by frame.

:class:`FrameByFrame` is mixed into the per-frame models; :class:`FixationHistory`
gives DeepGaze III the previous fixations of each frame (the frame center, or
a viewer's gaze read from a CSV file).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from ..errors import ConfigError
from .center_bias import as_log_density


def _renormalized(log_density: torch.Tensor) -> torch.Tensor:
    return log_density - log_density.flatten(-2).logsumexp(-1)[..., None, None]


class FixationHistory:
    """Where the viewer looked before each frame: DeepGaze III's scanpath input.

    ``"center"``: every previous fixation at the frame center (no knowledge
    of the viewer). A CSV file with columns ``frame,x,y`` (pixels of the
    source video, one row per frame, e.g. from an eye tracker): the history
    of frame i is the gaze at frames i-1, i-2, i-3, i-4; frames without a row
    (and frames before the video) count as missing fixations.
    """

    def __init__(self, spec: str = "center"):
        self.spec = spec
        self.gaze: dict[int, tuple[float, float]] = {}
        if spec != "center":
            self.gaze = self._read_csv(Path(spec))

    @staticmethod
    def _read_csv(path: Path) -> dict[int, tuple[float, float]]:
        """Frame -> (x, y), read strictly (spreadsheet exports too: a BOM, CRLF line ends)."""
        from ..evaluation.tables import TableError, read_table

        if not path.is_file():
            raise ConfigError(f"fixation history file {path} does not exist (config 'fixation_history')")
        try:
            table = read_table(path, required=("frame", "x", "y"), what="fixation history")
        except TableError as error:
            raise ConfigError(f"{error} (config 'fixation_history')") from None
        gaze = {}
        for row, frame in enumerate(table.columns["frame"]):
            if not float(frame).is_integer():
                raise ConfigError(f"{table.where(row, 'frame')}: {frame} is not a frame number "
                                  "(config 'fixation_history')")
            gaze[int(frame)] = (float(table.columns["x"][row]), float(table.columns["y"][row]))
        return gaze

    def __call__(self, first_index: int, count: int, height: int, width: int, scale: float = 1.0):
        """``x_hist``, ``y_hist`` (count x 4, most recent first) for frames first_index.."""
        fixations = 4
        if self.spec == "center":
            x = torch.full((count, fixations), width / 2 * scale)
            y = torch.full((count, fixations), height / 2 * scale)
            return x, y
        x = torch.full((count, fixations), float("nan"))
        y = torch.full((count, fixations), float("nan"))
        for row in range(count):
            for back in range(fixations):
                point = self.gaze.get(first_index + row - back - 1)
                if point is not None:
                    x[row, back], y[row, back] = point[0] * scale, point[1] * scale
        return x, y


class FrameByFrame:
    """What ``salience.predict`` needs of a per-frame model (mixed into IIE and III).

    ``scale`` resizes frames before the model (the models were trained on
    images of about 1024 px on the long side at 35 px per degree of visual
    angle) and the predicted log-density back to the frame size; 1.0 keeps
    full resolution. ``center_bias``: the map used when prediction is given
    none (None: uniform); prediction passes the recorded center bias itself.
    """

    window_length = 1
    scale: float = 1.0
    center_bias = None
    fixation_history: FixationHistory | None = None

    def log_center_bias(self, height: int, width: int, center_bias=None) -> torch.Tensor:
        """H x W log center bias: ``center_bias`` (a probability map or a
        :class:`~salience.models.center_bias.CenterBias`), else the model's own."""
        return as_log_density(self.center_bias if center_bias is None else center_bias, height, width)

    def predict_frames(self, frames: torch.Tensor, log_center_bias: torch.Tensor, *, first_index: int):
        """N x 3 x H x W frames in [0, 1] → N x H x W log-densities."""
        count, _, height, width = frames.shape
        images = frames * 255.0  # these models take 0..255
        center_bias = log_center_bias
        if self.scale != 1.0:
            size = (max(1, round(height * self.scale)), max(1, round(width * self.scale)))
            images = F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
            center_bias = _renormalized(F.interpolate(log_center_bias[None, None], size=size)[0, 0])
        center_bias = center_bias.expand(count, *center_bias.shape)
        history = {}
        if self.uses_fixation_history:
            policy = self.fixation_history or FixationHistory("center")
            x_hist, y_hist = policy(first_index, count, height, width, self.scale)
            history = {"x_hist": x_hist.to(frames.device), "y_hist": y_hist.to(frames.device)}
        out = self(images, center_bias, **history)[:, 0].float()
        if self.scale != 1.0:
            out = F.interpolate(out[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]
            out = _renormalized(out)
        return out
