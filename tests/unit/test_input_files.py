"""Files the config names, read as users' tools write them; a wrong file is refused without echoing it."""

from __future__ import annotations

import numpy as np
import pytest

from salience.errors import ConfigError
from salience.evaluation.aoi import read_aoi_csv
from salience.evaluation.tables import TableError
from salience.evaluation.trackers import read_recording
from salience.models.center_bias import check_center_bias_file, load_center_bias, log_density_from_probability
from salience.models.per_frame import FixationHistory

SECRET = "root:$6$kq1Vd0Hs$Zr9cXSECRETHASH:19700:0:99999:7:::"


def test_a_fixation_history_from_a_spreadsheet_with_bom_and_crlf(tmp_path):
    path = tmp_path / "history.csv"
    path.write_bytes("\ufeffframe,x,y\r\n0,10.5,20\r\n1,11,21\r\n".encode("utf-8"))
    history = FixationHistory(str(path))
    assert history.gaze == {0: (10.5, 20.0), 1: (11.0, 21.0)}
    x, y = history(2, 1, 48, 64)
    assert x[0, :2].tolist() == [11.0, 10.5] and y[0, :2].tolist() == [21.0, 20.0]


def test_a_fixation_history_frame_must_be_a_whole_number(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("frame,x,y\n0.5,1,2\n")
    with pytest.raises(ConfigError, match=r"line 2, column 'frame'.*config 'fixation_history'"):
        FixationHistory(str(path))


@pytest.mark.parametrize("read", [read_recording, read_aoi_csv, lambda p: FixationHistory(str(p))])
def test_a_file_that_is_not_a_csv_is_refused_without_echoing_it(tmp_path, read):
    shadow = tmp_path / "shadow"
    shadow.write_text(SECRET + "\ndaemon:*:19700:0:99999:7:::\n")
    with pytest.raises((TableError, ConfigError)) as error:
        read(shadow)
    message = str(error.value)
    assert str(shadow) in message and "right file" in message
    rest = message.replace(str(shadow), "")
    assert "SECRETHASH" not in rest and "root:" not in rest and "$6$" not in rest and "daemon" not in rest


@pytest.mark.parametrize("read", [read_recording, read_aoi_csv, lambda p: FixationHistory(str(p))])
def test_a_binary_file_is_refused_in_one_line(tmp_path, read):
    blob = tmp_path / "clip.mp4"
    blob.write_bytes(bytes(range(256)) * 8)
    with pytest.raises((TableError, ConfigError), match="not an? .*(CSV|eye-tracking file)"):
        read(blob)


def test_a_real_header_is_still_quoted(tmp_path):
    path = tmp_path / "gaze.csv"
    path.write_text("time,gx,gy\n0,1,2\n")
    with pytest.raises(TableError, match="its header: time,gx,gy"):
        read_recording(path)


def test_center_bias_values_beyond_float32_keep_their_shape(tmp_path):
    shape = np.outer(np.hanning(12) + 0.01, np.hanning(16) + 0.01)
    path = tmp_path / "huge.npy"
    np.save(path, shape * 1e300)  # float64: every value above float32's maximum (3.4e38)
    check_center_bias_file(path)
    loaded = load_center_bias(path, "probability_map").log_density(24, 32)
    expected = log_density_from_probability(shape, 24, 32)
    assert np.isfinite(loaded.numpy()).all()
    np.testing.assert_allclose(loaded.numpy(), expected.numpy(), atol=1e-5)
    assert loaded.max() - loaded.min() > 1  # not uniform


def test_an_eyelink_edf_file_is_refused_with_the_conversion_to_make(tmp_path):
    edf = tmp_path / "P01.edf"
    edf.write_bytes(b"SR_RESEARCH_COMPRESSED\x00\x01\x02" * 64)
    with pytest.raises(TableError, match=r"P01\.edf: an EyeLink EDF file \(binary\); convert it with .*edf2asc"):
        read_recording(edf)
