"""DeepGaze saliency for full-length, full-resolution videos.

Modules, one per step of the workflow:

- ``salience.models``   the model ports (DeepGaze MR, IIE, III) and ``build_model``
- ``salience.weights``  official checkpoints: download once, verify, or take a local path
- ``salience.video``    frame-exact video reading and probing
- ``salience.predict``  streaming prediction in bounded memory, exact chunks
- ``salience.store``    the zarr store of per-frame log-densities
- ``salience.render``   heatmap and overlay videos
"""

__version__ = "0.1.0"
