"""DeepGaze III (Kümmerer et al., JoV 2022): the facts the workflow needs."""

from ..description import ModelDescription, OfficialFile
from .mit1003 import CENTERBIAS_MIT1003, LICENCE, RELEASES

DEEPGAZE_III = ModelDescription(
    name="deepgaze_iii",
    title="DeepGaze III (per frame, scanpath model, MIT1003)",
    builder="salience.models.deepgaze_iii:deepgaze_iii",
    checkpoint=OfficialFile(
        key="deepgaze_iii",
        filename="deepgaze3.pth",
        url=f"{RELEASES}/v1.1.0/deepgaze3.pth",
        format="state_dict",
        content="DeepGaze III trained on MIT1003, DenseNet-201 included",
        licence=LICENCE,
    ),  # a release asset: sha256 recorded at the first download
    center_bias=CENTERBIAS_MIT1003,
    temporal_window=1,
    seconds_per_megapixel_frame=0.3,
    options=frozenset({"scale", "fixation_history"}),
    min_frame_side=58,
)
