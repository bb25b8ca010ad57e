"""Draw a crossfade in a real glfw window and save what the window shows (run by a test).

Usage: python tests/window_probe.py OUTDIR  (needs DISPLAY, e.g. Xvfb)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from liveai.config import AutopilotConfig, SceneConfig, TransitionConfig, VisualsConfig
from liveai.visuals.check import synthetic_frame
from liveai.visuals.projector import _Window
from liveai.visuals.scene import RenderClock
from liveai.visuals.show import VisualShow


def main(out: Path) -> int:
    scenes = []
    for name, rgb in (("red", "1.0, 0.0, 0.0"), ("blue", "0.0, 0.0, 1.0")):
        f = out / f"{name}.fs"
        f.write_text('/*{"INPUTS": []}*/\n' f"void main() {{ gl_FragColor = vec4({rgb}, 1.0); }}\n")
        scenes.append(SceneConfig(file=str(f)))
    win = _Window(320, 180, "", False, True)
    cfg = VisualsConfig(scenes=scenes, overlay=True, autopilot=AutopilotConfig(enabled=False),
                        transition=TransitionConfig(duration=0.5, unit="seconds",
                                                    quantize="none"))
    show = VisualShow(win.ctx, cfg, out)
    for i in range(40):
        if i == 5:
            show.request("blue")
        clock = RenderClock(i / 30, 1 / 30 if i else 0.0, i, (2026.0, 1.0, 1.0, 0.0))
        win.begin()
        show.render(synthetic_frame(i, True), clock, win.target, win.size)
        w, h = win.size
        pic = np.frombuffer(win.ctx.screen.read(components=3), dtype=np.uint8).reshape(h, w, 3)
        Image.fromarray(np.ascontiguousarray(pic[::-1])).save(out / f"shot_{i:02d}.png")
        win.present()
    show.release()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
