"""Projection targets from untrusted photos: type sniffed from the bytes, bombs refused before decoding,
photos turned upright, the largest face found and aligned at the generator's resolution."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from app.projection.targets import (
    UPLOAD_SIDE,
    ImageTooLarge,
    NoFaceFound,
    PhotosBusy,
    PhotoSlots,
    TargetError,
    UnsupportedImage,
    aligned_target,
    decode_image,
    prealigned_target,
    sniff_format,
)
from tests.app.projection_helpers import png_declaring


def encode(image_rgb: np.ndarray, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image_rgb).save(out, format=fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut(shared_file) -> bytes:
    return shared_file("media/images/astronaut.png").read_bytes()


@pytest.mark.parametrize("fmt, name", [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP")])
def test_the_type_is_told_from_the_bytes(fmt, name):
    assert sniff_format(encode(np.zeros((8, 8, 3), np.uint8), fmt)) == name


@pytest.mark.parametrize("data", [b"GIF89a" + b"\0" * 32, b"<html>not a photo</html>", b"%PDF-1.7",
                                  b"BM" + b"\0" * 64])
def test_other_types_are_unsupported(data):
    with pytest.raises(UnsupportedImage, match="not a JPEG, PNG or WebP"):
        decode_image(data)
    assert UnsupportedImage.status == 415


def test_a_photo_decodes_to_bgr_as_opencv_reads_it(astronaut):
    assert np.array_equal(decode_image(astronaut), cv2.imdecode(np.frombuffer(astronaut, np.uint8), cv2.IMREAD_COLOR))


def test_an_exif_rotated_photo_is_turned_upright():
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:10] = 255                                       # white at the top
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(tall, k=1)))   # stored as 20 rows x 40 columns
    exif = Image.Exif()
    exif[0x0112] = 6                                      # "rotate 90 degrees clockwise to view"
    out = io.BytesIO()
    sideways.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    upright = decode_image(out.getvalue())
    assert upright.shape == (40, 20, 3)
    assert upright[:8].mean() > 200 and upright[12:].mean() < 50


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = png_declaring(8000, 8000)          # 64 megapixels: 192 MB once decoded, from a 1 KB file
    assert len(bomb) < 2000
    with pytest.raises(ImageTooLarge, match="8000x8000 pixels; at most 40,000,000"):
        decode_image(bomb)


def test_a_bomb_beyond_pillows_guard_is_refused_too():
    with pytest.raises(ImageTooLarge, match="too many pixels"):
        decode_image(png_declaring(30000, 30000))


def test_pillows_own_limit_counts_as_a_refusal(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageTooLarge):
        decode_image(png_declaring(100, 100))


def test_the_pixel_cap_can_be_lowered():
    with pytest.raises(ImageTooLarge, match="at most 100 pixels"):
        decode_image(encode(np.zeros((20, 20, 3), np.uint8), "PNG"), max_pixels=100)


def test_a_truncated_image_is_a_clear_error(astronaut):
    jpeg = encode(np.asarray(Image.open(io.BytesIO(astronaut)).convert("RGB")), "JPEG")
    with pytest.raises(TargetError, match="cannot be decoded"):
        decode_image(jpeg[: len(jpeg) // 3])


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(30), b"\xff\xd8\xff" + b"junk" * 8,
                                  b"RIFF\0\0\0\0WEBPjunk"])
def test_an_image_pillow_cannot_identify_is_refused_without_a_memory_address(data):
    with pytest.raises(TargetError) as caught:
        decode_image(data)
    assert str(caught.value).endswith("cannot be decoded (truncated or damaged?): cannot identify image file")


def test_an_empty_upload_is_a_clear_error():
    with pytest.raises(TargetError, match="empty"):
        decode_image(b"")


def test_the_largest_face_is_aligned_at_the_generators_resolution(face_finder, shared_file):
    photo = decode_image(shared_file("media/images/office_three_people.jpg").read_bytes())
    target = face_finder.target(photo, "upload:office.jpg")
    size = face_finder.resolution
    assert target.image.shape == (size, size, 3) and target.image.dtype == np.uint8
    assert target.source == "upload:office.jpg"
    faces = face_finder.faces(photo)
    largest = max(faces, key=lambda face: float(face.box[2] * face.box[3]))
    assert len(faces) == 3
    assert np.array_equal(target.image, aligned_target(photo, largest.landmarks, size, "x").image)


def test_a_photo_without_a_face_is_refused_with_a_hint(face_finder, shared_file):
    photo = decode_image(shared_file("media/images/noface_cat.png").read_bytes())
    with pytest.raises(NoFaceFound, match="no face found in the image; use a photo"):
        face_finder.target(photo, "upload:cat.png")
    assert NoFaceFound.status == 422


def test_a_prealigned_face_must_have_the_generators_size():
    assert prealigned_target(np.zeros((32, 32, 3), np.uint8), 32, "remote").image.shape == (32, 32, 3)
    with pytest.raises(TargetError, match="exactly 32x32"):
        prealigned_target(np.zeros((64, 64, 3), np.uint8), 32, "remote")


# --- the cost of a photo ---------------------------------------------------------------------------------

def test_an_upload_larger_than_the_working_size_is_scaled_down_to_fit_it_keeping_its_shape():
    photo = encode(np.full((300, 200, 3), (10, 20, 30), np.uint8), "JPEG", quality=95)
    scaled = decode_image(photo, max_side=60)
    assert scaled.shape == (60, 40, 3)
    assert np.abs(scaled.reshape(-1, 3).mean(axis=0) - (30, 20, 10)).max() < 3      # still BGR


def test_a_photo_can_be_read_at_full_size(astronaut):
    assert decode_image(astronaut, max_side=None).shape == (512, 512, 3)
    wider = encode(np.zeros((8, UPLOAD_SIDE + 100, 3), np.uint8), "PNG")     # wider than an upload may be
    assert decode_image(wider).shape[1] == UPLOAD_SIDE
    assert decode_image(wider, max_side=None).shape == (8, UPLOAD_SIDE + 100, 3)


def test_a_palette_image_decodes_to_its_colours():
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 200, 100, 50])
    out = io.BytesIO()
    palette.save(out, format="PNG")
    assert (decode_image(out.getvalue()) == (50, 100, 200)).all()


def test_a_decoded_photo_is_writable():
    assert decode_image(encode(np.zeros((8, 8, 3), np.uint8), "PNG")).flags.writeable


def test_photos_beyond_the_slot_limit_are_refused_at_once_with_a_retry_hint():
    slots = PhotoSlots(2)
    with slots.hold(), slots.hold():
        with pytest.raises(PhotosBusy, match="2 photos are being read") as refused:
            with slots.hold():
                pass
    assert refused.value.status == 503 and refused.value.retry_after_s > 0


def test_a_slot_is_free_again_when_reading_its_photo_fails():
    slots = PhotoSlots(1)
    with pytest.raises(TargetError):
        with slots.hold():
            decode_image(b"")
    with slots.hold():
        pass
