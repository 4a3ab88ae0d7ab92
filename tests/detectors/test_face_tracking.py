"""FaceTracker on synthetic faces: matching, velocity prediction, the hold, the memory of lost faces,
and the snapshot contract."""
import numpy as np
import pytest

from detectors import Face, FaceTracker
from detectors.haar import LANDMARKS_IN_BOX

FPS = 30.0


def face_at(x, y, size=100.0, score=0.9):
    box = np.array([x, y, size, size], dtype=np.float32)
    return Face(box=box, landmarks=box[:2] + LANDMARKS_IN_BOX * size, score=score)


def feed(tracker, frames):
    """Run a list of per-frame face lists through the tracker at 30 fps; return each frame's tracks."""
    return [tracker.update(faces, index / FPS) for index, faces in enumerate(frames)]


def test_a_moving_face_keeps_its_id():
    history = feed(FaceTracker(), [[face_at(100 + 20 * i, 100)] for i in range(20)])
    assert {track.id for tracks in history for track in tracks} == {1}
    assert history[-1][0].age == 20 and history[-1][0].missed == 0


def test_two_faces_keep_their_own_ids():
    history = feed(FaceTracker(), [[face_at(50 + 5 * i, 100), face_at(400 - 5 * i, 120, size=80)]
                                   for i in range(20)])
    ids_by_size = [{track.face.box[2].round(): track.id for track in tracks} for tracks in history]
    assert all(ids == ids_by_size[0] for ids in ids_by_size) and len(ids_by_size[0]) == 2


def test_tracks_come_largest_first():
    (tracks,) = feed(FaceTracker(), [[face_at(0, 0, size=50), face_at(200, 0, size=150)]])
    assert [track.face.box[2] for track in tracks] == [150, 50]


def test_a_whip_pan_keeps_the_id():
    # The face moves 80% of its size in one frame: the boxes barely overlap, but it is the same face.
    history = feed(FaceTracker(), [[face_at(300, 100)], [face_at(220, 100)], [face_at(140, 100)]])
    assert [tracks[0].id for tracks in history] == [1, 1, 1]


def test_velocity_prediction_keeps_two_faces_apart_in_a_pan_that_speeds_up():
    # Two faces side by side, 150 px apart, in a pan that speeds up to 80 px a frame. In the last
    # frame each face has moved 0.8 of its size, and the left one's new box lies nearer the right
    # one's old box than its own: by overlap or distance alone the ids would swap. Moved on by the
    # speed measured over the frame before, each old box falls right on its own face.
    steps = [0, 20, 40, 60, 80]
    xs = np.cumsum(steps)
    history = feed(FaceTracker(), [[face_at(x, 100), face_at(x + 150, 100)] for x in xs])
    ids_left_to_right = [[t.id for t in sorted(tracks, key=lambda t: t.raw.box[0])] for tracks in history]
    assert ids_left_to_right == [[1, 2]] * len(steps)


def test_a_face_that_jumps_across_the_picture_is_a_new_track():
    history = feed(FaceTracker(max_missed=0), [[face_at(0, 100)], [face_at(400, 100)]])
    assert [tracks[0].id for tracks in history] == [1, 2]


def test_a_missing_face_is_held_for_max_missed_frames_then_no_longer_shown():
    still = face_at(100, 100)
    history = feed(FaceTracker(max_missed=2), [[still], [still], [], [], []])
    held = history[1][0]
    assert [(t.id, t.missed) for t in history[2]] == [(1, 1)]
    assert [(t.id, t.missed) for t in history[3]] == [(1, 2)]
    np.testing.assert_array_equal(history[3][0].face.landmarks, held.face.landmarks)
    assert history[4] == []


def test_a_face_back_within_the_hold_keeps_its_id_and_was_shown_throughout():
    still = face_at(100, 100)
    history = feed(FaceTracker(max_missed=2), [[still], [], [], [still]])
    assert [[t.id for t in tracks] for tracks in history] == [[1], [1], [1], [1]]


def test_a_face_back_after_the_hold_but_within_the_memory_gets_its_old_id():
    still = face_at(100, 100)
    history = feed(FaceTracker(max_missed=1, memory_s=1.0), [[still], [], [], [face_at(110, 105)]])
    assert [[t.id for t in tracks] for tracks in history] == [[1], [1], [], [1]]
    assert history[3][0].missed == 0 and history[3][0].age == 4


def test_a_face_back_after_the_memory_gets_a_new_id():
    still = face_at(100, 100)
    history = feed(FaceTracker(memory_s=0.5), [[still]] + [[]] * 20 + [[still]])  # Back after 0.7 s.
    assert history[-1][0].id == 2


def test_a_face_that_comes_back_is_shown_where_it_is_not_drawn_over_from_where_it_was():
    history = feed(FaceTracker(max_missed=0), [[face_at(100, 100)], [], [], [face_at(140, 100)]])
    back = history[-1][0]
    assert back.id == 1
    np.testing.assert_allclose(back.face.landmarks, back.raw.landmarks, atol=1e-4)


def test_a_lost_face_is_looked_for_where_it_was_not_where_its_motion_would_have_carried_it():
    # A face moving 40 px a frame is lost; 10 frames later another face appears exactly where that
    # motion would have carried it, 400 px away. It is someone else.
    moving = [[face_at(100 + 40 * i, 100)] for i in range(3)]
    history = feed(FaceTracker(max_missed=0), moving + [[]] * 9 + [[face_at(580, 100)]])
    assert history[-1][0].id == 2


def test_smoothing_settles_a_jittering_face():
    rng = np.random.default_rng(0)
    frames = [[face_at(*(200 + rng.normal(0, 2, size=2)))] for _ in range(60)]
    history = feed(FaceTracker(), frames)
    raw = np.array([tracks[0].raw.landmarks for tracks in history[20:]])
    smoothed = np.array([tracks[0].face.landmarks for tracks in history[20:]])
    assert np.abs(np.diff(smoothed, axis=0)).mean() < 0.5 * np.abs(np.diff(raw, axis=0)).mean()


def test_returned_tracks_do_not_change_with_later_updates():
    tracker = FaceTracker()
    first = tracker.update([face_at(100, 100)], 0.0)[0]
    tracker.update([face_at(120, 100)], 1 / FPS)
    assert first.raw.box[0] == 100 and first.age == 1


def test_timestamps_must_increase():
    tracker = FaceTracker()
    tracker.update([face_at(0, 0)], 1.0)
    with pytest.raises(ValueError, match="increase"):
        tracker.update([face_at(0, 0)], 1.0)


@pytest.mark.parametrize("settings", [{"iou_threshold": 0.0}, {"max_missed": -1}, {"memory_s": -1.0},
                                      {"min_cutoff": 0.0}])
def test_rejects_bad_settings(settings):
    with pytest.raises(ValueError):
        FaceTracker(**settings)
