"""DeepGaze saliency for full-length, full-resolution videos.

Modules, one per step of the workflow:

- ``salience.models``   the model registry (one description per model, torch-free),
                        the ports (DeepGaze MR, IIE, III) and ``build_model``
- ``salience.weights``  the files a model needs: download once, verify, record for prediction
- ``salience.config_checks``  files named in the config, checked when the DAG is built
- ``salience.video``    frame-exact video reading and probing
- ``salience.predict``  streaming prediction in bounded memory, exact chunks
- ``salience.prefetch`` decoding on a background thread
- ``salience.store``    the zarr store of per-frame log-densities
- ``salience.render``   heatmap and overlay videos
- ``salience.dataset``  ``salience.open(path)``: a store as a labelled xarray Dataset
- eye-tracking data: ``gaze`` (CSV to frames, empirical density), ``metrics``,
  ``evaluate`` (metrics.csv, summary), ``aoi``, ``concentration``,
  ``human_video``, ``snapshots``, ``figures``, ``tables`` (strict CSV reading),
  ``eyetracking_files`` (config), ``cli_evaluation`` (their commands)
"""

import os as _os

__version__ = "0.1.0"

# Quiet OpenCV and its FFmpeg: a bad video gets one clear VideoError instead
# of library warnings on stderr. Set before any module loads OpenCV; a user's
# own setting wins.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def export_to_subprocesses() -> None:
    """Put this package on ``PYTHONPATH`` so that jobs started from here import it.

    Used by the Snakefile: the rules call ``python -m salience`` without the
    package being installed. An existing ``PYTHONPATH`` (module systems set
    one) is kept behind it.
    """
    import os
    from pathlib import Path

    here = str(Path(__file__).resolve().parent.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if here not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([here, *paths])


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
