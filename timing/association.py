"""Assigning anonymous crossings to athletes by predicted arrival time.

Theory of operation. A camera that cannot identify reports "someone crossed
``mark`` at t". The core groups one sensor's anonymous crossings of a mark
that are close in time (a pack) and assigns the whole group at once: the cost
of giving crossing i to athlete a is |t_i - a's predicted arrival| (or the
gap to a's own identified reading of that mark, when an RFID tag already saw
them there). The assignment minimising the total cost is found with the
Hungarian algorithm, with one "nobody" column per crossing so a crossing far
from every prediction stays unassigned rather than being forced on someone.

Lane evidence. A camera whose node knows which lanes its line spans reports a
lane estimate with each anonymous crossing; each lane between it and the
athlete's lane adds a fixed number of seconds to that pairing's cost, capped
(``lane_cost_s``). Time stays in charge: the
cap bounds how much time difference a lane can outweigh, so two runners who
cross a few tenths apart are told apart by their lanes, while a crossing that
clearly matches one runner's predicted arrival stays theirs. A crossing
without an estimate costs time only.

An assignment is *ambiguous* when swapping it with another (or giving the
crossing to an unassigned athlete instead) would cost less than
``ambiguity_margin_s`` more: the two orders were nearly equally likely.
"""

from __future__ import annotations

import math

#: Cost of an impossible pairing (never chosen over "nobody").
IMPOSSIBLE = 1e9
#: Cost of leaving a crossing unassigned (chosen only if every athlete is impossible).
NOBODY = 1e6


def lane_cost_s(estimate: float | None, lane: int, per_lane_s: float, max_s: float) -> float:
    """Seconds added to a pairing whose lane estimate is ``estimate`` for an athlete in ``lane``.

    Zero without an estimate; else ``per_lane_s`` per lane of difference, at most
    ``max_s``. Convex up to the cap, so for a pack the cheapest assignment by lane
    pairs crossings and athletes in lane order even when every estimate is off by
    the same amount (a camera's lane mapping a little out).
    """
    if estimate is None:
        return 0.0
    return min(max_s, per_lane_s * abs(estimate - lane))


def hungarian(cost: list[list[float]]) -> list[int]:
    """Minimum-cost assignment of rows to distinct columns (rows <= columns).

    Returns, for each row, its column. O(rows^2 * columns); potentials method.
    """
    n_rows = len(cost)
    if n_rows == 0:
        return []
    n_cols = len(cost[0])
    if n_cols < n_rows:
        raise ValueError("hungarian needs at least as many columns as rows")
    u = [0.0] * (n_rows + 1)
    v = [0.0] * (n_cols + 1)
    owner = [0] * (n_cols + 1)  # column -> row (1-based), 0 = free
    way = [0] * (n_cols + 1)
    for i in range(1, n_rows + 1):
        owner[0] = i
        j0 = 0
        minv = [math.inf] * (n_cols + 1)
        used = [False] * (n_cols + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            delta = math.inf
            j1 = 0
            row = cost[i0 - 1]
            ui0 = u[i0]
            for j in range(1, n_cols + 1):
                if not used[j]:
                    cur = row[j - 1] - ui0 - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n_cols + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while True:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
            if j0 == 0:
                break
    result = [-1] * n_rows
    for j in range(1, n_cols + 1):
        if owner[j]:
            result[owner[j] - 1] = j - 1
    return result


def assign(cost: list[list[float]], margin_s: float) -> list[tuple[int | None, bool]]:
    """Assign rows (crossings) to columns (athletes) or to nobody.

    ``cost[i][a]`` is seconds, or ``IMPOSSIBLE``. Returns per row
    ``(column or None, ambiguous)``.
    """
    n_rows = len(cost)
    if n_rows == 0:
        return []
    n_ath = len(cost[0])
    padded = [row + [NOBODY] * n_rows for row in cost]
    cols = hungarian(padded)
    chosen: list[int | None] = [c if c < n_ath and cost[i][c] < IMPOSSIBLE else None
                                for i, c in enumerate(cols)]
    taken = {c: i for i, c in enumerate(chosen) if c is not None}
    out: list[tuple[int | None, bool]] = []
    for i, a in enumerate(chosen):
        if a is None:
            out.append((None, False))
            continue
        ambiguous = False
        for b in range(n_ath):
            if b == a or cost[i][b] >= IMPOSSIBLE:
                continue
            j = taken.get(b)
            if j is None:
                delta = cost[i][b] - cost[i][a]
            elif cost[j][a] >= IMPOSSIBLE:
                continue
            else:
                delta = cost[i][b] + cost[j][a] - cost[i][a] - cost[j][b]
            if delta < margin_s:
                ambiguous = True
                break
        out.append((a, ambiguous))
    return out
