"""The IoU tracker keeps one id per face while it moves, and lets ids go after a long absence."""
import pytest

from fercsv.vision.tracking import IoUTracker, iou


def test_iou_of_known_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (0, 5, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_two_faces_moving_keep_their_ids_in_any_order():
    t = IoUTracker()
    left, right = (10, 50, 60, 60), (300, 40, 60, 60)
    assert t.update([left, right]) == [0, 1]
    for step in range(1, 20):
        a = (10 + 4 * step, 50, 60, 60)
        b = (300, 40 + 3 * step, 60, 60)
        boxes = [a, b] if step % 2 else [b, a]  # the detector orders by size, which may flip
        ids = t.update(boxes)
        assert ids == ([0, 1] if step % 2 else [1, 0])


def test_short_gap_keeps_the_id_a_long_one_starts_a_new_person():
    t = IoUTracker(max_missed=2)
    face = (100, 100, 50, 50)
    assert t.update([face]) == [0]
    assert t.update([]) == [] and t.update([]) == []
    assert t.update([face]) == [0]          # missed two frames: still the same person
    for _ in range(3):
        t.update([])
    assert t.update([face]) == [1]          # gone too long: a new track


def test_a_new_face_far_away_is_a_new_track_and_one_box_takes_one_track():
    t = IoUTracker()
    assert t.update([(0, 0, 40, 40)]) == [0]
    assert t.update([(2, 0, 40, 40), (200, 200, 40, 40)]) == [0, 1]
    # two boxes overlapping the same old track: the better overlap wins, the other starts anew
    t2 = IoUTracker()
    t2.update([(0, 0, 40, 40)])
    assert t2.update([(20, 0, 40, 40), (1, 0, 40, 40)]) == [1, 0]
