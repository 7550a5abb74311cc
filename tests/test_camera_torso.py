"""The torso finder on drawn masks: what a blob's opening keeps (torso.py)."""

from __future__ import annotations

import cv2
import numpy as np

from sensors.camera.torso import find_torsos


def _runner_mask(torso_rows: int) -> np.ndarray:
    """A side-view silhouette in strip coordinates (rows across the line, columns along).

    Head at columns 22-34, a torso ``torso_rows`` thick at columns 35-75, two thin
    legs down to column 140: a body 121 columns tall.
    """
    mask = np.zeros((60, 160), np.uint8)
    top = 30 - torso_rows // 2
    mask[top : top + torso_rows, 35:76] = 1
    cv2.circle(mask, (28, 30), 6, 1, -1)
    cv2.line(mask, (75, 26), (140, 12), 1, 3)
    cv2.line(mask, (75, 34), (140, 48), 1, 3)
    return mask


def test_a_torso_thinner_than_the_hinted_thickness_is_still_found():
    # A tracker passes the thickest radius it saw lately for the same body; in a frame
    # where an arm covers part of the torso the body is thinner, and an opening sized
    # for the hint erased it whole: a frame with a runner in it and no torso (a 30 fps
    # pair then lost its track at the line).
    mask = _runner_mask(torso_rows=12)
    difference = mask.astype(np.float32) * 60.0
    alone = find_torsos(mask, difference, 18, 9)
    hinted = find_torsos(mask, difference, 18, 9, radius_hint={(35, 75): 10.0})
    assert len(alone) == 1 and 35 <= alone[0].centroid_col <= 75 and alone[0].col_hi <= 80
    assert len(hinted) == 1, "the hinted opening erased the body"
    assert hinted[0].col_lo >= 20 and hinted[0].col_hi <= 80
    assert hinted[0].radius < 10.0


def test_a_torso_that_survives_the_hinted_opening_keeps_the_hinted_thickness():
    # What the hint is for: the opening stays the size of the body seen lately while
    # this frame shows less of it (a torso partly inside the strip).
    mask = _runner_mask(torso_rows=20)
    difference = mask.astype(np.float32) * 60.0
    found = find_torsos(mask, difference, 18, 9, radius_hint={(35, 75): 12.0})
    assert len(found) == 1 and 35 <= found[0].centroid_col <= 75
    assert found[0].radius == 12.0
