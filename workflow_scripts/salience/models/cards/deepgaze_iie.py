"""DeepGaze IIE (Linardos et al., ICCV 2021): the facts the workflow needs."""

from ..description import ModelDescription, OfficialFile
from .mit1003 import CENTERBIAS_MIT1003, LICENCE, RELEASES

DEEPGAZE_IIE = ModelDescription(
    name="deepgaze_iie",
    title="DeepGaze IIE (per frame, MIT1003)",
    builder="salience.models.deepgaze_iie:deepgaze_iie",
    checkpoint=OfficialFile(
        key="deepgaze_iie",
        filename="deepgaze2e.pth",
        url=f"{RELEASES}/v1.0.0/deepgaze2e.pth",
        format="state_dict",
        content="DeepGaze IIE trained on MIT1003, the four backbones included (about 400 MB)",
        licence=LICENCE,
    ),  # a release asset: sha256 recorded at the first download
    center_bias=CENTERBIAS_MIT1003,
    temporal_window=1,
    seconds_per_megapixel_frame=0.6,  # four backbones
    options=frozenset({"scale"}),
    min_frame_side=64,
)
