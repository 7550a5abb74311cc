"""The athlete lifecycle as a transition table.

Rule: every status change of an athlete goes through ``next_status``; nothing
else in the core assigns a status. The table is the one source for the core,
its tests and the diagram in ``docs/core.md`` (``mermaid()`` draws it), so the
three cannot drift apart.

Statuses: ``waiting`` (on the roster, no start yet), ``running``,
``finished`` (the plan's last mark was crossed), ``dnf`` (the coach said so,
or the session ended while running). Triggers are what the core observed.
A late finish reading turns a ``dnf`` into ``finished`` (the reading proves
the runner got there); a finish that is taken back (its reading was moved to
another athlete) returns a ``finished`` runner to ``running``.
"""

from __future__ import annotations

WAITING = "waiting"
RUNNING = "running"
FINISHED = "finished"
DNF = "dnf"
STATUSES: tuple[str, ...] = (WAITING, RUNNING, FINISHED, DNF)

#: Triggers the core feeds into the table.
TRIGGERS: tuple[str, ...] = (
    "start", "detected_start", "false_start", "finish", "unfinish", "dnf", "session_end",
)

#: (status, trigger) -> next status. A pair that is missing is not allowed: the
#: core ignores the input and says why in a ``Notice``.
TRANSITIONS: dict[tuple[str, str], str] = {
    (WAITING, "start"): RUNNING,
    (WAITING, "detected_start"): RUNNING,
    (WAITING, "false_start"): WAITING,
    (WAITING, "dnf"): DNF,
    (WAITING, "session_end"): WAITING,
    (RUNNING, "start"): RUNNING,  # a gun time replaces a detected start
    (RUNNING, "false_start"): WAITING,
    (RUNNING, "finish"): FINISHED,
    (RUNNING, "dnf"): DNF,
    (RUNNING, "session_end"): DNF,
    (FINISHED, "finish"): FINISHED,  # a better finish reading (correction)
    (FINISHED, "unfinish"): RUNNING,
    (FINISHED, "session_end"): FINISHED,
    (DNF, "finish"): FINISHED,
    (DNF, "false_start"): WAITING,
    (DNF, "session_end"): DNF,
}


def next_status(status: str, trigger: str) -> str | None:
    """The status after ``trigger`` in ``status``, or ``None`` if the table forbids it."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown lifecycle trigger {trigger!r} (one of {', '.join(TRIGGERS)})")
    return TRANSITIONS.get((status, trigger))


def mermaid() -> str:
    """The table as a Mermaid state diagram (what ``docs/core.md`` shows)."""
    lines = ["stateDiagram-v2", f"    [*] --> {WAITING}"]
    for (source, trigger), target in TRANSITIONS.items():
        lines.append(f"    {source} --> {target}: {trigger}")
    lines.append(f"    {FINISHED} --> [*]")
    return "\n".join(lines)
