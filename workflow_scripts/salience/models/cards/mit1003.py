"""Files that DeepGaze IIE and III share: the MIT1003 center bias, the release URL."""

from ..description import OfficialFile

RELEASES = "https://github.com/matthias-k/DeepGaze/releases/download"
# github.com/matthias-k/DeepGaze carries no licence file (its setup.py has the
# MIT classifier commented out): ask the authors before redistributing.
LICENCE = "no licence stated by github.com/matthias-k/DeepGaze; published for research use"

CENTERBIAS_MIT1003 = OfficialFile(
    key="centerbias_mit1003",
    filename="centerbias_mit1003.npy",
    url=f"{RELEASES}/v1.0.0/centerbias_mit1003.npy",
    format="log_density_npy",
    content="MIT1003 center bias of DeepGaze IIE/III, 1024 x 1024 log-density",
    licence=LICENCE,
)  # a release asset: no digest published, sha256 recorded at the first download
