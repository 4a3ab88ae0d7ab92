"""Face datasets from the real photos and clips in ../shared/media, checked against faces.json."""
import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from app.training.dataset_builder import (
    BLURRED,
    CUT_OFF,
    DUPLICATE,
    TOO_SMALL,
    DatasetOptions,
    DatasetSourceError,
    NoUsableFaces,
    build_dataset,
)
from app.training.dataset_zip import DatasetZipWriter, image_name
from app.training.face_quality import DUPLICATE_THRESHOLD, square_side, thumbnail
from detectors import create_detector
from detectors.alignment import alignment_matrix
from stylegan2.metrics import ImageDataset

YUNET = "weights/face_detection_yunet_2026may.onnx"
CONFERENCE = "media/videos/conference_group_3s.mp4"


@pytest.fixture(scope="module")
def detector(shared_file):
    return create_detector("yunet", shared_file(YUNET))


@pytest.fixture(scope="module")
def annotations(shared_file):
    return json.loads(shared_file("media/faces.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stills(shared_file, detector, tmp_path_factory):
    """The dataset of every still in media/images at 256x256: (report, zip path)."""
    out = tmp_path_factory.mktemp("stills") / "faces.zip"
    return build_dataset([shared_file("media/images")], out, detector, DatasetOptions(size=256)), out


@pytest.fixture(scope="module")
def conference(shared_file, detector, tmp_path_factory):
    """The dataset of the 3-second conference clip (five people, 90 frames) at 64x64: (report, zip path)."""
    out = tmp_path_factory.mktemp("conference") / "faces.zip"
    return build_dataset([shared_file(CONFERENCE)], out, detector, DatasetOptions(size=64)), out


def zip_images(path):
    with zipfile.ZipFile(path) as archive:
        return {name: np.asarray(Image.open(io.BytesIO(archive.read(name))))
                for name in archive.namelist() if name.endswith(".png")}


# --- what is found and kept ---------------------------------------------------------------------------------

def test_faces_found_in_each_still_match_faces_json(stills, annotations, shared_file):
    report, _ = stills
    found = {name: report.found[str(shared_file(f"media/{name}"))] for name in annotations["images"]}
    assert found == {name: image["yunet_count"] for name, image in annotations["images"].items()}


def test_faces_found_in_every_frame_of_a_clip_match_faces_json(conference, annotations):
    report, _ = conference
    listed = annotations["videos"]["videos/conference_group_3s.mp4"]
    assert report.frames == int(listed["frame_count"]) == 90
    assert report.faces_found == sum(len(frame["faces"]) for frame in listed["frames"])


def test_every_face_found_is_kept_or_left_out_for_one_reason(stills, conference):
    for report, _ in (stills, conference):
        assert report.kept + sum(report.skipped.values()) == report.faces_found
        assert set(report.skipped) <= {TOO_SMALL, CUT_OFF, BLURRED, DUPLICATE}


def test_faces_whose_square_is_under_half_the_size_are_too_small(stills, annotations):
    """faces.json's own landmarks give the square each face spans: under 128 source pixels for a 256 dataset."""
    small = sum(square_side(alignment_matrix(np.array(face["landmarks"]), 256), 256) < 128
                for image in annotations["images"].values() for face in image["faces"])
    report, _ = stills
    assert small > 30 and abs(report.skipped[TOO_SMALL] - small) <= 1


def test_stills_are_never_near_duplicates(stills):
    report, _ = stills
    assert report.skipped[DUPLICATE] == 0 and report.kept > 5


def test_near_duplicate_frames_of_a_clip_are_dropped(conference):
    report, out = conference
    assert report.skipped[DUPLICATE] > 0.8 * report.faces_found
    assert 5 <= report.kept < 0.2 * report.faces_found
    thumbnails = [thumbnail(image[:, :, ::-1]) for image in zip_images(out).values()]
    distances = [np.abs(a - b).mean() for i, a in enumerate(thumbnails) for b in thumbnails[i + 1:]]
    assert min(distances) >= DUPLICATE_THRESHOLD


def test_frame_step_searches_every_nth_frame(shared_file, detector, tmp_path):
    report = build_dataset([shared_file(CONFERENCE)], tmp_path / "faces.zip", detector,
                           DatasetOptions(size=64, frame_step=4))
    assert report.frames == 23 and report.videos == 1


# --- the zip ------------------------------------------------------------------------------------------------

def test_every_png_is_a_size_by_size_rgb_face(stills, conference):
    for (report, out), size in ((stills, 256), (conference, 64)):
        images = zip_images(out)
        assert len(images) == report.kept
        assert all(image.shape == (size, size, 3) and image.dtype == np.uint8 for image in images.values())


def test_zip_layout_is_nvidias(stills):
    """As dataset_tool.py writes it: stored (uncompressed) entries 00000/img00000000.png ... in order, then
    dataset.json with no labels; as training/dataset.py reads it: PNGs in sorted order, all one shape."""
    report, out = stills
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names == [image_name(i) for i in range(report.kept)] + ["dataset.json"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        assert json.loads(archive.read("dataset.json")) == {"labels": None}
    batch, = ImageDataset(out).batches(report.kept)
    assert batch.shape == (report.kept, 3, 256, 256)


def test_image_names_put_a_thousand_images_in_each_folder():
    assert [image_name(i) for i in (0, 999, 1000, 123456)] == [
        "00000/img00000000.png", "00000/img00000999.png", "00001/img00001000.png", "00123/img00123456.png"]


def test_the_zip_writer_refuses_an_image_of_another_size(tmp_path):
    with DatasetZipWriter(tmp_path / "faces.zip", 64) as writer:
        with pytest.raises(ValueError, match="expected a uint8 RGB image of 64x64"):
            writer.add(np.zeros((32, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


# --- sources that give nothing ------------------------------------------------------------------------------

def copy_media(shared_file, folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(shared_file(f"media/images/{name}"), folder / name)
    return folder


def test_a_folder_with_no_face_says_so_and_writes_no_zip(shared_file, detector, tmp_path):
    folder = copy_media(shared_file, tmp_path / "photos", "noface_cat.png", "noface_fruits.jpg")
    (folder / "notes.txt").write_text("not a photo")
    with pytest.raises(NoUsableFaces) as raised:
        build_dataset([folder], tmp_path / "out" / "faces.zip", detector)
    message = str(raised.value)
    assert "no face could go into the dataset, so nothing was written" in message
    assert "No face found in 2 file(s)" in message and "noface_cat.png" in message
    assert "Could not read 1 file(s)" in message and "notes.txt (neither a photo" in message
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_folder_of_unreadable_files_says_so_and_writes_no_zip(detector, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    (folder / "clip.mp4").write_bytes(b"not a video")
    with pytest.raises(NoUsableFaces, match=r"Could not read 2 file\(s\):.*broken.jpg \(the JPEG image cannot be "
                                            r"decoded.*clip.mp4 \(cannot be opened as a video"):
        build_dataset([folder], tmp_path / "faces.zip", detector)
    assert not (tmp_path / "faces.zip").exists()


def test_unreadable_files_beside_faces_are_named_but_not_fatal(shared_file, detector, tmp_path):
    folder = copy_media(shared_file, tmp_path / "photos", "astronaut.png")
    (folder / "notes.txt").write_text("not a photo")
    report = build_dataset([folder], tmp_path / "faces.zip", detector)
    assert report.kept == 1 and (tmp_path / "faces.zip").is_file()
    assert [name for name, _ in report.unreadable] == [str(folder / "notes.txt")]


def test_a_failed_build_leaves_an_existing_zip_as_it_was(shared_file, detector, tmp_path):
    folder = copy_media(shared_file, tmp_path / "photos", "noface_cat.png")
    (tmp_path / "faces.zip").write_bytes(b"an earlier dataset")
    with pytest.raises(NoUsableFaces):
        build_dataset([folder], tmp_path / "faces.zip", detector)
    assert (tmp_path / "faces.zip").read_bytes() == b"an earlier dataset"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.zip", "photos"]


@pytest.mark.parametrize("options, out, match", [
    (DatasetOptions(size=100), "faces.zip", "power of two from 32 to 1024"),
    (DatasetOptions(size=2048), "faces.zip", "power of two from 32 to 1024"),
    (DatasetOptions(frame_step=0), "faces.zip", "frame step must be at least 1"),
    (DatasetOptions(), "faces.tar", "must be a .zip file"),
])
def test_bad_options_are_refused_before_anything_is_read(options, out, match, detector, tmp_path):
    with pytest.raises(DatasetSourceError, match=match):
        build_dataset([tmp_path], tmp_path / out, detector, options)


def test_a_missing_source_is_refused(detector, tmp_path):
    with pytest.raises(DatasetSourceError, match="absent.*does not exist"):
        build_dataset([tmp_path / "absent"], tmp_path / "faces.zip", detector)


def test_progress_counts_photos_and_frames_up_to_the_total(shared_file, detector, tmp_path):
    folder = copy_media(shared_file, tmp_path / "photos", "astronaut.png", "luciano.png")
    calls = []
    build_dataset([folder, shared_file(CONFERENCE)], tmp_path / "faces.zip", detector,
                  DatasetOptions(size=64, frame_step=10), progress=lambda done, total: calls.append((done, total)))
    assert {total for _, total in calls} == {92}
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and calls[-1] == (92, 92)
