"""Two runners crossing in the same frames: flagged or separated, never one silent time.

Rendered footage, encoded to real files and decoded by OpenCV. Two runners in
different lanes whose bodies overlap along the line and who reach it within
a frame of each other merge into one blob; the detector must then either
report two crossings at distinct positions or flag the one it reports. A
single runner must not be flagged.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_camera_support import (
    bench_scene,
    detect_file,
    nth_close_pair,
    nth_single,
    render_and_detect,
)

from sensors.camera.render import Scene, render_clip
from sensors.camera.scenes import random_runner, random_scene
from sensors.camera.twobody import RIGID_BODY, UPPER_BODY, speed_split

FLAGS = {"occluded", "same_frame"}


@pytest.mark.parametrize(("seed", "lanes", "speeds_m_s"), [(401, (2, 3), (5.0, 7.5)),
                                                          (402, (1, 3), (8.0, 5.5))])
def test_two_runners_in_the_same_frames_are_never_one_silent_time(tmp_path, seed, lanes,
                                                                  speeds_m_s):
    rng = np.random.default_rng(seed)
    fps = 60.0
    a = random_runner(rng, 0.5, 360, lane=lanes[0], direction=1, speed_m_s=speeds_m_s[0])
    b = random_runner(rng, 0.5 + 0.4 / fps, 360, lane=lanes[1], direction=1,
                      speed_m_s=speeds_m_s[1])
    scene = Scene(fps=fps, duration_s=0.9, runners=(a, b), noise_sigma=2.0, seed=seed)
    truth = render_clip(tmp_path / "pair.mp4", scene)
    found = detect_file(tmp_path / "pair.mp4", scene.line)
    assert found, "the pair's crossing must be reported"
    flagged = any(FLAGS & set(c.flags) for c in found)
    apart = len(found) >= 2 and abs(found[0].position - found[1].position) > 0.05
    assert flagged or apart, f"silent single time for two runners: {found}"
    # Whatever is reported is still about the right moment.
    assert all(abs(c.time_s - truth.crossings[0].time_s) < 3 / fps for c in found)


@pytest.mark.parametrize(("seed", "harsh"), [(411, False), (412, True)])
def test_single_runner_is_not_flagged(tmp_path, seed, harsh):
    scene = random_scene(np.random.default_rng(seed), "single", 640, 360, fps=60,
                         duration_s=0.9, harsh=harsh)
    truth = render_clip(tmp_path / "one.mp4", scene)
    found = detect_file(tmp_path / "one.mp4", scene.line)
    assert len(found) == 1
    assert found[0].flags == ()
    assert abs(found[0].time_s - truth.crossings[0].time_s) < 0.75 / scene.fps


def test_overtaking_runner_in_a_nearer_lane_is_flagged(tmp_path):
    # A faster runner two lanes nearer reaches the line 20-60 ms after the far one; its
    # upper body lies below the far runner's hips, outside the upper-body check, and
    # the far runner's legs cover most of its torso: only a few heights stay rigid.
    scene = random_scene(np.random.default_rng(424), "occlusion", 640, 360, fps=60,
                         duration_s=0.9)
    truth = render_clip(tmp_path / "overtake.mp4", scene)
    found = detect_file(tmp_path / "overtake.mp4", scene.line)
    assert found, "the overtaking crossing must be reported"
    assert any(FLAGS & set(c.flags) for c in found), f"silent single time: {found}"
    first = truth.crossings[0].time_s
    assert all(abs(c.time_s - first) < 0.1 for c in found)


def test_crossing_timed_by_a_track_born_inside_another_body_is_flagged(tmp_path):
    # The 18th overtaking clip of the bench (seed 61): the torso piece tracked swaps
    # from the far runner to the near one just before the line, and the new track
    # times a crossing after one frame: it may belong to either runner.
    scene = bench_scene(61, 18, "occlusion", fps=60.0, duration_s=1.2)
    render_clip(tmp_path / "swap.mp4", scene)
    found = detect_file(tmp_path / "swap.mp4", scene.line)
    assert found, "the crossing must be reported"
    assert any(FLAGS & set(c.flags) for c in found), f"silent single time: {found}"


def test_two_tracks_claiming_the_runners_in_turn_still_report_a_flagged_crossing(tmp_path):
    # The 14th overtaking clip of the bench (seed 61): the far and the near runner are
    # claimed by two tracks in turn as their blobs touch and part, so each track skips
    # the line. Somebody crossed: it must be reported, flagged (it was lost). A body
    # tracked apart until the blobs touched may keep its own torso and be timed: such
    # a crossing may go unflagged only if its time is right.
    scene = bench_scene(61, 14, "occlusion", fps=60.0, duration_s=1.2)
    truth = render_clip(tmp_path / "turns.mp4", scene)
    found = detect_file(tmp_path / "turns.mp4", scene.line)
    assert any(FLAGS & set(c.flags) for c in found), found
    for c in found:
        error_s = min(abs(c.time_s - t.time_s) for t in truth.crossings)
        assert error_s < 0.05
        assert FLAGS & set(c.flags) or error_s < 0.25 / scene.fps, c


def test_single_runner_whose_foot_comes_loose_is_not_flagged(tmp_path):
    # The 23rd accuracy clip at 60 fps (bench seed 160): a foot came apart from the
    # body as a blob of its own for a frame next to the crossing, which used to read
    # as "two bodies in one blob".
    scene = bench_scene(160, 23, "single", fps=60, duration_s=1.0)
    truth = render_clip(tmp_path / "foot.mp4", scene)
    found = detect_file(tmp_path / "foot.mp4", scene.line)
    assert len(found) == 1
    assert found[0].flags == ()
    assert abs(found[0].time_s - truth.crossings[0].time_s) < 0.75 / scene.fps


def test_two_runners_touching_at_the_line_are_each_timed(tmp_path):
    # The 9th close pair of the held-out bench set (seed 931): lanes 4 and 1, 2.9 ms
    # apart, the near runner's head touching the far runner's legs in the strip. In one
    # blob the far torso vanished (opened for the near one's thickness) and the near
    # track, twice as tall, read as a walker: nothing was reported. Cut between the
    # two tracked bodies, each is timed, both flagged (same frame).
    scene = nth_close_pair(931, 9, 60.0)
    truth, found = render_and_detect(tmp_path, scene)
    assert len(found) == 2, found
    assert all("same_frame" in c.flags for c in found)
    for t in truth.crossings:
        mine = min(found, key=lambda c: abs(c.position - t.position))
        assert abs(mine.position - t.position) < 0.1
        assert abs(mine.time_s - t.time_s) < 0.5 / scene.fps


def test_runner_entering_in_two_pieces_is_one_body(tmp_path):
    # The 6th accuracy clip at 120 fps (bench seed 220): upper body and legs enter the
    # strip as two blobs for a few frames, apart along the line like two runners'
    # bodies; neither is a whole body, so the joined blob must not be cut in two.
    scene = bench_scene(220, 6, "single", fps=120, duration_s=1.0)
    truth = render_clip(tmp_path / "pieces.mp4", scene)
    found = detect_file(tmp_path / "pieces.mp4", scene.line)
    assert len(found) == 1, found
    assert found[0].flags == ()
    assert abs(found[0].time_s - truth.crossings[0].time_s) < 0.75 / scene.fps


def _edges(speeds_px_s: list[float], rows_per_speed: list[int], fps: float = 60.0,
           arm_rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Leading edges (frames x heights) of bodies moving at the given speeds, stacked by height."""
    t = np.arange(-7, 8) / fps
    cols = []
    for v, n in zip(speeds_px_s, rows_per_speed, strict=True):
        cols += [v * t + 0.3 * np.sin(5.0 * j) for j in range(n)]
    e = np.stack(cols, axis=1)
    if arm_rows is not None:
        # A swinging forearm leads a few heights in half the frames.
        lo, hi = arm_rows
        e[::2, lo:hi] += 12.0
    return t, e


def test_speed_split_tells_one_rigid_upper_body_from_two():
    t, one = _edges([420.0], [80], arm_rows=(20, 24))
    single = speed_split(t, one, head_col=0, height_cols=80, head_first=True)
    assert single is not None and not single.two_bodies(UPPER_BODY)
    t, two = _edges([420.0, 470.0], [25, 55])
    pair = speed_split(t, two, head_col=0, height_cols=80, head_first=True)
    assert pair is not None and pair.two_bodies(UPPER_BODY)
    assert 0.25 <= pair.at_fraction <= 0.35
    # Head at the high column end (the line drawn bottom to top): same answer.
    flipped = speed_split(t, two[:, ::-1], head_col=79, height_cols=80, head_first=False)
    assert flipped is not None and flipped.two_bodies(UPPER_BODY)
    # No "up" (a line closer to horizontal): no claim either way.
    assert speed_split(t, two, head_col=40, height_cols=80, head_first=None) is None


def test_rigid_heights_find_a_second_body_below_the_far_ones_hips():
    t = np.arange(-7, 8) / 60.0
    rng = np.random.default_rng(3)
    heights = 100
    e = np.empty((len(t), heights))
    for j in range(heights):
        if j < 50:      # far runner: head, torso, hips, rigid at 450 px/s
            e[:, j] = 450.0 * t
        elif j < 58:    # far runner's shins: swinging, not rigid
            e[:, j] = 450.0 * t + 25.0 * np.sin(20.0 * t + j)
        elif j < 72:    # near runner's head and torso: rigid at 720 px/s
            e[:, j] = 720.0 * t - 20.0
        else:           # near runner's legs
            e[:, j] = 720.0 * t + 30.0 * np.sin(20.0 * t + 0.3 * j)
    e += rng.normal(0.0, 0.3, e.shape)
    upper = speed_split(t, e, head_col=0, height_cols=heights, head_first=True)
    assert upper is not None and not upper.two_bodies(UPPER_BODY)
    rigid = speed_split(t, e, 0, heights, True, RIGID_BODY, sample_px=2.0)
    assert rigid is not None and rigid.two_bodies(RIGID_BODY)
    assert 0.5 <= rigid.at_fraction <= 0.6
    # One runner: the same legs below a rigid upper body give no second group.
    one = e.copy()
    one[:, 58:72] = 450.0 * t[:, None] + 25.0 * np.sin(20.0 * t[:, None] + np.arange(14))
    single = speed_split(t, one, 0, heights, True, RIGID_BODY, sample_px=2.0)
    assert single is None or not single.two_bodies(RIGID_BODY)


@pytest.mark.parametrize(("seed", "nth"), [(931, 5), (31, 17)])
def test_a_small_speed_difference_adds_up_over_the_longer_window(tmp_path, seed, nth):
    # Same-frame pairs of the bench (seed 31, the 17th) and the held-out bench
    # (seed 931, the 5th), bodies stacked along the line. Over 0.12 s either side
    # of the crossing their upper bodies' heights differ by 8-9 % (under the 10 %
    # a single runner's arm swing can show there); over 0.2 s by 9.5 and 12 %,
    # where single runners stay under 7 % (threshold 9 %).
    truth, found = render_and_detect(tmp_path, nth_close_pair(seed, nth, 60.0))
    assert len(found) == 1 and FLAGS & set(found[0].flags), found
    assert min(abs(found[0].time_s - c.time_s) for c in truth.crossings) < 2 / 60.0


@pytest.mark.parametrize(("seed", "nth", "fps"), [(7003, 2, 30.0), (7004, 2, 120.0),
                                                  (8003, 13, 30.0), (8003, 7, 30.0),
                                                  (9001, 29, 60.0), (9001, 34, 60.0)])
def test_two_runners_in_one_blob_are_reported_flagged_not_lost(tmp_path, seed, nth, fps):
    # Close pairs of seeds no threshold was chosen on; each gave nothing at all.
    # The 2nd at 30 and at 120 fps: lanes far apart, the far runner's feet on the
    # near one's head all the way, one blob from the first frame. The torso measured
    # in it (the larger) swapped between them from frame to frame; each swap began a
    # new track, and no track saw its runner reach the line. The blob's track now
    # keeps the swapped torso, flagged. The 13th at 30 fps: as the blobs merged, a
    # foot came loose beside the near runner's torso and took its track (the larger
    # piece), and the torso began a track first seen past the line. A track now
    # keeps the piece most like its torso (area weighed by its overlap with it).
    # The 7th at 30 fps: the same with the foot the only piece near the track's
    # torso; a track that claimed only pieces too small to be a body now gives
    # them up for the whole body it shares (association.py, _claim_swapped).
    # The 29th at 60 fps (seed 9001): lanes 1 and 4, the far runner's feet on the
    # near one's head; the blob, two runners tall, made the pair's speed look like
    # a walker's (1.07 heights a second). Two torsos seen stacked: half of it.
    # The 34th (lanes 1 and 3): two tracks took the blob in turn at the line, and
    # the check that the track moved like a runner before, in the blob's height,
    # failed the same way (0.87 heights a second); now in half of it.
    truth, found = render_and_detect(tmp_path, nth_close_pair(seed, nth, fps))
    assert found, "two runners crossed: something must be reported"
    assert all(FLAGS & set(c.flags) for c in found), found
    for c in found:
        assert min(abs(c.time_s - t.time_s) for t in truth.crossings) < 3 / fps, c


@pytest.mark.parametrize(("seed", "count", "fps"), [(720, 23, 120.0), (840, 30, 240.0)])
def test_a_single_runner_whose_blob_comes_apart_stays_one_crossing(tmp_path, seed, count, fps):
    # Single runners of fresh seeds (every fourth in harsh light; the last of
    # ``count``). At 120 fps the blob holds two torso-like pieces far apart along
    # the line in one frame near the crossing: cut there, the halves became two
    # tracks and two crossings; a blob is cut between stacked torsos only when it
    # held them in the frame before too. At 240 fps head and shoulders enter the
    # strip as a blob of their own, beside the legs, 9 frames before the torso joins
    # them: taken for two bodies touching, the joined blob was cut between them for
    # 50 frames (two crossings, -2.7 and +5.1 ms); a piece seen on its own for
    # frames, never a whole body, moving with the body beside it, is part of it.
    truth, found = render_and_detect(tmp_path, nth_single(seed, count, fps))
    assert len(found) == 1 and found[0].flags == (), found
    assert abs(found[0].time_s - truth.crossings[0].time_s) < 0.75 / fps


@pytest.mark.parametrize(("seed", "nth", "fps"), [(7001, 13, 60.0), (7003, 11, 30.0)])
def test_a_nearer_runner_below_the_far_ones_hips_at_another_speed_is_flagged(tmp_path, seed,
                                                                            nth, fps):
    # Same-frame pairs of fresh seeds, lanes two apart: the near runner's upper body
    # lies below the far one's hips, so only the rigid heights see it, and they move
    # 19-20 % apart (over 0.12 s). The rigid rule's old 20 % left both silent; single
    # runners' rigid heights differ by 6.7 % at most (290 clips), hence 12 %.
    truth, found = render_and_detect(tmp_path, nth_close_pair(seed, nth, fps))
    flagged = any(FLAGS & set(c.flags) for c in found)
    separated = len(found) >= 2 and abs(found[0].position - found[1].position) > 0.05
    assert flagged or separated, f"silent single time for two runners: {found}"
    for c in found:
        assert min(abs(c.time_s - t.time_s) for t in truth.crossings) < 2 / fps, c


def test_an_overtaking_runner_seen_apart_first_leaves_the_far_runner_its_own_time(tmp_path):
    # The 9th overtaking clip of seed 8002: the near, faster runner's head is seen
    # apart from the far runner for frames before it touches the far one's feet, and
    # is no whole body yet. It moves at its own speed, so it is a second runner (not
    # a piece of the far one's body, as above): the blob is cut between them, the far
    # runner is timed on its own and the near one flagged.
    scene = bench_scene(8002, 9, "occlusion", fps=60.0, duration_s=1.2)
    truth, found = render_and_detect(tmp_path, scene)
    assert len(found) == 2 and abs(found[0].position - found[1].position) > 0.1, found
    far = min(found, key=lambda c: c.time_s)
    assert abs(far.time_s - truth.crossings[0].time_s) < 0.5 / scene.fps
    assert any(FLAGS & set(c.flags) for c in found)


@pytest.mark.parametrize(("seed", "nth", "fps"), [(7001, 5, 60.0), (7004, 5, 120.0)])
def test_a_leading_edge_leaping_between_two_bodies_is_flagged(tmp_path, seed, nth, fps):
    # Same-frame pairs of fresh seeds, lanes 2 and 3 at 60 fps, 1 and 3 at 120 fps: one
    # blob, one track, and no shape or speed rule saw two bodies; each was a silent
    # single time. Each frame's estimate of when the edge reaches the line spreads
    # over 11 and 7.5 strip samples (a single runner's: 3.5 at the 95th percentile).
    truth, found = render_and_detect(tmp_path, nth_close_pair(seed, nth, fps))
    assert found and all(FLAGS & set(c.flags) for c in found), found
    for c in found:
        assert min(abs(c.time_s - t.time_s) for t in truth.crossings) < 2 / fps, c


def test_a_track_appearing_in_the_body_of_one_lost_short_of_the_line_is_reported(tmp_path):
    # The 26th overtaking clip of seed 8002: the two runners merge before the line, the
    # far runner's track and then the near one's are lost in the merged blob short of
    # it, and the far torso comes back as a track first seen past the line. Such a
    # track used to be dismissed as a ghost; born in the body of a track lost the
    # frame before, short of the line, it carries that body's crossing, flagged.
    scene = bench_scene(8002, 26, "occlusion", fps=60.0, duration_s=1.2)
    truth, found = render_and_detect(tmp_path, scene)
    assert found, "two runners crossed: something must be reported"
    assert all(FLAGS & set(c.flags) for c in found), found
    first = truth.crossings[0].time_s
    assert all(abs(c.time_s - first) < 0.1 for c in found)


def test_a_track_that_gave_no_crossing_is_not_solved_again_every_frame(tmp_path, monkeypatch):
    # The 18th same-frame pair at 120 fps of seed 10004 (lanes 1 and 4): the merged
    # pair's track gives no crossing while it is still seen, and was solved again at
    # every frame, 29 times at 5-7 ms each: a quarter of the detector's time over the
    # clip, at 120 fps more than a frame's budget each time. Now as the track grows.
    from sensors.camera.solve import CrossingSolver

    calls = []
    solve = CrossingSolver.solve

    def counted(self, track, *args):
        calls.append(track.track_id)
        return solve(self, track, *args)

    monkeypatch.setattr(CrossingSolver, "solve", counted)
    render_and_detect(tmp_path, nth_close_pair(10004, 18, 120.0))
    assert calls, "the merged track must be solved at least once"
    assert max(calls.count(k) for k in set(calls)) <= 8, calls
