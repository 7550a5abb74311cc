"""Torsos to tracks, frame by frame: which torso is whose, and which bodies are apart.

The detector measures the torsos in each frame's strip (torso.py) and hands
them here with the tracks so far; ``associate`` extends the tracks (pure: the
samples are made by the caller, which knows the strip's geometry and the
clock). ``bodies_apart`` and ``stacked_last`` say, from the tracks, which
blobs of the next frame to cut between two bodies (find_torsos' ``bodies``
and ``stacked_before``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice

from sensors.camera.torso import TorsoObservation
from sensors.camera.tracks import (
    Sample,
    Track,
    along_overlap,
    body_overlap,
    body_sized,
    centre_speed_px_s,
    near_across,
    sign_change_frame,
)

__all__ = ["associate", "bodies_apart", "stacked_last"]

#: A track keeps at most this many recent frames while it has not crossed.
MAX_TRACK_SAMPLES = 256
#: A body tracked on its own for this many frames keeps its own torso when it
#: touches another body (find_torsos' ``bodies``).
APART_FRAMES = 3
#: A torso no track claimed joins the track whose body (blob) it shares this much of
#: (over the shorter), the blob's height unchanged within as much (``_claim_swapped``).
SWAP_BODY_OVERLAP = 0.8
#: Two pieces move together when their centres' speeds across the line, over their
#: last ``SPEED_FRAMES`` frames, differ by at most this fraction (``_together``).
TOGETHER, SPEED_FRAMES = 0.15, 6
#: A whole body is at least this many times as tall as its widest part's half
#: depth (about 7 as measured here; an upper body or a pair of legs alone, 3 or 4).
WHOLE_BODY_RADII = 5.5


def associate(tracks: list[Track], torsos: list[TorsoObservation], index: int,
              sample: Callable[[TorsoObservation], Sample], next_id: int) -> int:
    """Extend ``tracks`` with frame ``index``'s ``torsos``; returns the next free track id.

    A torso joins the track whose last torso it overlaps most along the line
    (at least 0.3 of the shorter) and lies where that track's torso should be
    across it; two tracks claiming one torso, or one track two body-sized
    ones, note a merge; what no track claims starts a track (``sample`` makes
    its ``Sample``). Every track's crossing frame is then decided again.
    """
    claims: dict[int, list[int]] = {}
    for i, obs in enumerate(torsos):
        best, best_overlap = None, 0.0
        for k, track in enumerate(tracks):
            if not track.samples or not near_across(track, obs):
                continue
            o = along_overlap(obs, track.last)
            if o > best_overlap:
                best, best_overlap = k, o
        if best is not None and best_overlap >= 0.3:
            claims.setdefault(best, []).append(i)
    _claim_swapped(tracks, torsos, claims, index)
    claimed_by: dict[int, list[int]] = {}
    for k, idxs in claims.items():
        # The track keeps the piece most like its torso: the largest, weighed by
        # how much of it lies where its torso was along the line.
        idxs.sort(key=lambda i: -torsos[i].area * along_overlap(torsos[i], tracks[k].last))
        claimed_by.setdefault(idxs[0], []).append(k)
        if any(body_sized(torsos[i], torsos[idxs[0]]) for i in idxs[1:]):
            # One body came apart into two body-sized ones (two runners parting);
            # a limb or a shadow coming loose is no second body.
            tracks[k].merge_frames.append(index)
    used = set()
    for i, ks in claimed_by.items():
        # Two tracks ran into one blob: two bodies only if both were body-sized.
        lasts = sorted((tracks[k].last for k in ks), key=lambda o: -o.area)
        two_bodies = any(body_sized(o, lasts[0]) for o in lasts[1:])
        for k in ks:
            track = tracks[k]
            track.samples.append(sample(torsos[i]))
            if len(track.samples) > MAX_TRACK_SAMPLES and track.crossing_frame is None:
                # Someone standing in the strip: keep memory and per-frame work bounded.
                del track.samples[: len(track.samples) - MAX_TRACK_SAMPLES]
                track.scan = None
            track.missed = 0
            track.radius = max(0.8 * track.radius, torsos[i].radius)
            if two_bodies:
                track.merge_frames.append(index)
        used.add(i)
    for k, track in enumerate(tracks):
        if k not in claims:
            track.missed += 1
    for i, obs in enumerate(torsos):
        if i not in used:
            track = Track(next_id, radius=obs.radius)
            track.alone = not any(
                t.samples and along_overlap(obs, t.last) > 0 for t in tracks
            )
            track.beside = any(
                t.samples and body_overlap(obs, t.last) >= 0.5 for t in tracks
            )
            next_id += 1
            track.samples.append(sample(obs))
            tracks.append(track)
    for track in tracks:
        if not track.done:
            # Re-decided every frame: the direction firms up as the body moves.
            track.crossing_frame = sign_change_frame(track)
    return next_id


def _claim_swapped(tracks: list[Track], torsos: list[TorsoObservation],
                   claims: dict[int, list[int]], index: int) -> None:
    """Give a torso no track claimed to the track whose whole body it shares.

    Two runners whose bodies merged into one blob before they entered the
    strip are one blob, and the torso measured in it is the larger of their
    two: it swaps between them from frame to frame, far apart along the
    line. Tracked by torsos alone, each swap started a new track and ended
    one, neither saw its runner reach the line, and two runners gave
    nothing. The blob stays where it was: its track keeps it, and the swap
    is noted (``Track.swaps``: the crossing is flagged ``occluded``). A track
    that claimed only pieces too small to be a body beside this torso (a foot
    come loose, nearest to where the swapped torso was) gives them up for it:
    keeping the foot, it lost its runner, whose torso began a track first
    seen past the line (a 30 fps pair gave nothing).
    """
    taken = {i for idxs in claims.values() for i in idxs}
    for i, obs in enumerate(torsos):
        if i in taken:
            continue
        for k, track in enumerate(tracks):
            if ((k not in claims or not any(body_sized(torsos[j], obs) for j in claims[k]))
                    and track.samples and not track.done
                    and track.missed == 0 and near_across(track, obs)
                    and body_overlap(obs, track.last) >= SWAP_BODY_OVERLAP
                    and abs(obs.height - track.last.height)
                    <= (1 - SWAP_BODY_OVERLAP) * track.last.height):
                claims[k] = [i]
                track.swaps.append(index)
                break


def bodies_apart(tracks: list[Track]) -> list[tuple[int, int]]:
    """Torso columns of two or more bodies that were apart in the last frame.

    One is a body tracked for ``APART_FRAMES`` frames; another is anything
    seen last frame wholly outside the extent that body had over those
    frames (a head below a far runner's feet is a nearer runner's head) and
    either new there or a whole body itself. A runner's own head, limbs or
    entering parts lie inside its extent, two pieces of one runner entering
    the strip are not yet a tracked body, and a piece seen on its own for
    ``APART_FRAMES`` frames without becoming a whole body, moving with the
    body, is part of it: a runner's upper body entering ahead of its torso,
    beside its legs (cut between them, one runner came out as two
    crossings).
    """
    seen = _seen_last_frame(tracks)
    if len(seen) < 2:
        return []
    # Only what was seen whole speaks: a cut part's extent ends at the cut
    # (not so a part cut between two stacked torsos: each is a whole body).
    whole = {t.track_id: list(islice((x.obs for x in reversed(t.samples)
                                      if not x.obs.cut or x.obs.stacked),
                                     APART_FRAMES)) for t in seen}
    extent = {}
    for t in seen:
        recent = whole[t.track_id]
        if len(recent) < APART_FRAMES:
            continue
        lo = min(o.body_lo for o in recent)
        hi = max(o.body_lo + o.height for o in recent)
        if hi - lo >= WHOLE_BODY_RADII * max(o.radius for o in recent):
            extent[t.track_id] = (lo, hi)  # not an upper body or legs entering the strip
    pairs = set()
    for a in seen:
        if a.track_id not in extent:
            continue
        lo, hi = extent[a.track_id]
        for b in seen:
            recent = whole[b.track_id]
            if b is a or not recent or (len(recent) >= APART_FRAMES
                                        and b.track_id not in extent and _together(a, b)):
                continue
            if recent[0].body_lo >= hi or recent[0].body_lo + recent[0].height <= lo:
                pairs.update((a.track_id, b.track_id))
    return [(t.last.col_lo, t.last.col_hi) for t in seen if t.track_id in pairs]


def _together(a: Track, b: Track) -> bool:
    """Do the two bodies' centres move across the line at one speed (within ``TOGETHER``)?

    Pieces of one runner do; a runner overtaking another at the line does not
    (the near runner's head, seen apart for frames before it touched the far
    runner's feet, is no piece of the far runner).
    """
    va = centre_speed_px_s(a.samples[-SPEED_FRAMES:], 1.0)
    vb = centre_speed_px_s(b.samples[-SPEED_FRAMES:], 1.0)
    return abs(va - vb) <= TOGETHER * max(abs(va), abs(vb))


def stacked_last(tracks: list[Track]) -> list[tuple[int, int]]:
    """Column ranges of the blobs seen holding two stacked torsos in the last frame."""
    return [(t.last.body_lo, t.last.body_lo + t.last.height - 1)
            for t in _seen_last_frame(tracks) if t.last.stacked]


def _seen_last_frame(tracks: list[Track]) -> list[Track]:
    """The tracks still waiting to cross that had a torso in the last frame."""
    return [t for t in tracks if t.samples and t.missed == 0 and not t.done]
