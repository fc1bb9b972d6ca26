"""DeepGaze saliency for full-length, full-resolution videos.

The face of the package is ``salience.open`` / ``density`` / ``frame_at``
(``salience.dataset``). Behind it, one module per job:

- ``models``     the model registry (one description per model, torch-free), the
                 ports (DeepGaze MR, IIE, III), ``build_model``, checkpoint loading
- ``weights``    downloads once, verifies, records what prediction loads
- ``plan``, ``frames``  videos, chunks and segments (``FrameRange``), resources
- ``video``, ``encode``, ``join``  decoding and probing, the H.264 writer, joining
- ``predict``    streaming prediction and the prediction job; ``device`` its device
- ``store``      the zarr store of per-frame log-densities (``open_store``)
- ``rendering``  colours, heatmap and overlay videos, exports, AOI outlines,
                 whether a render is current
- ``evaluation`` everything that compares the maps with people
- ``settings``, ``atomic``, ``background``, ``errors``, ``config_checks``: the
  defaults, atomic outputs, background iteration, errors, DAG-time checks
"""

__version__ = "0.1.0"


def open(path):  # noqa: A001 - the notebook API: salience.open(path)
    """A saliency store as a labelled xarray Dataset (see ``salience.dataset``)."""
    from .dataset import open as open_dataset

    return open_dataset(path)


def density(dataset, frame: int):
    """Frame ``frame`` of a Dataset from ``salience.open`` as probabilities per pixel."""
    from .dataset import density as frame_density

    return frame_density(dataset, frame)


def frame_at(dataset, seconds: float) -> int:
    """The frame on screen at ``seconds`` in a Dataset from ``salience.open``."""
    from .dataset import frame_at as frame_at_time

    return frame_at_time(dataset, seconds)
