"""DeepGaze MR (Tangemann et al., ECCV 2020): the facts the workflow needs."""

from ..description import ModelDescription, OfficialFile

# Files tracked in the authors' git repository: their blob ids pin the content.
_REPO = "https://github.com/mtangemann/deepgazemr/raw/master/data"
_LICENCE = "MIT licence (LICENSE of github.com/mtangemann/deepgazemr, (c) 2020 Matthias Tangemann)"

DEEPGAZE_MR = ModelDescription(
    name="deepgaze_mr",
    title="DeepGaze MR (video, LEDOV)",
    builder="salience.models.deepgaze_mr:deepgaze_mr",
    checkpoint=OfficialFile(
        key="deepgaze_mr",
        filename="deepgazemr-ledov.pt",
        url=f"{_REPO}/deepgazemr-ledov.pt",
        format="checkpoint_dict",
        content="DeepGaze MR trained on LEDOV, VGG19 included",
        licence=_LICENCE,
        git_blob_sha1="c871bf5f68425c596f90dc8e9cc6fbca6e9d9b8b",
    ),
    center_bias=OfficialFile(
        key="centerbias_ledov",
        filename="center-bias-ledov.pt",
        url=f"{_REPO}/center-bias-ledov.pt",
        format="probability_map",
        content="LEDOV center bias, H x W probability map (torch tensor)",
        licence=_LICENCE,
        git_blob_sha1="d28729b8c69029a54da26b60dc6064de03255bdb",
    ),
    temporal_window=16,  # the current frame and 15 past frames
    seconds_per_megapixel_frame=0.25,  # VGG19 on an older GPU (about 0.5 s per 1080p frame)
    options=frozenset({"head"}),
    min_frame_side=16,
)
