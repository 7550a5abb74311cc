"""``trackside detect VIDEO --line X1,Y1,X2,Y2``: time torso crossings in a video file."""

from __future__ import annotations

import json
import logging
import sys

import click

log = logging.getLogger(__name__)


@click.command()
@click.argument("video")
@click.option("--line", "line_text", required=True, help="The virtual line: X1,Y1,X2,Y2 in pixels.")
@click.option("--timestamps", type=click.Path(dir_okay=False), default=None,
              help="File with one frame time (seconds) per line.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per crossing.")
@click.option("--slit-dir", type=click.Path(file_okay=False), default=None,
              help="Write a slit-scan PNG per crossing here.")
@click.option("--readout-ms", type=float, default=0.0, help="Rolling-shutter readout per frame.")
def detect(video: str, line_text: str, timestamps: str | None, as_json: bool,
           slit_dir: str | None, readout_ms: float) -> None:
    """Print one line per torso crossing of the line in VIDEO (time on the video's timeline)."""
    from sensors.camera.detector import Detector, DetectorSettings
    from sensors.camera.line import Line, LineError
    from sensors.camera.slit import SlitRecorder, save_png
    from sensors.camera.source import FrameSource, SourceError, read_timestamps

    try:
        line = Line.parse(line_text)
        times = read_timestamps(timestamps) if timestamps else None
        source = FrameSource(video, timestamps=times, live=False)
        detector = Detector(line, DetectorSettings(readout_s=readout_ms / 1000.0))
        slits = SlitRecorder(line) if slit_dir else None
        n = 0
        checked = False

        def show(c) -> None:
            if as_json:
                click.echo(json.dumps({
                    "time_s": round(c.time_s, 6), "frame": c.frame,
                    "position": round(c.position, 4), "direction": c.direction_name,
                    "confidence": c.confidence, "flags": list(c.flags),
                }))
            else:
                flags = f"  [{', '.join(c.flags)}]" if c.flags else ""
                click.echo(f"{c.time_s:10.4f} s  frame {c.frame:6d}  position {c.position:.2f}"
                           f"  {c.direction_name}  confidence {c.confidence:.2f}{flags}")

        def keep(images) -> None:
            for img in images:
                save_png(f"{slit_dir}/crossing_{img.crossing_time_s:.4f}.png", img)

        for frame in source.frames():
            if not checked:
                line.check_inside(frame.image.shape[1], frame.image.shape[0])
                checked = True
            found = detector.feed(frame.image, frame.time_s)
            if slits:
                keep(slits.feed(frame.image, frame.time_s))
            for c in found:
                show(c)
                n += 1
                if slits:
                    slits.add(c.time_s, max(0, detector.frames - 1 - c.frame))
        for c in detector.flush():
            show(c)
            n += 1
            if slits:
                slits.add(c.time_s, detector.frames)
        if slits:
            keep(slits.flush())
        if not checked:
            raise SourceError(f"{video}: no frames could be decoded")
        h = source.health()
        if h.dropped_frames:
            click.echo(f"warning: {h.dropped_frames} frame(s) missing in {h.gaps} gap(s)", err=True)
        log.info("%d crossing(s) in %d frames", n, h.frames)
    except (LineError, SourceError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
