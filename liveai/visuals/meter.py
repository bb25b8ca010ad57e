"""A minimal scene that proves the process split: input level, band bars and the spectrum.

Left strip: the RMS level (green to red). Top half: the 8 band levels. Bottom half: the
512-bin spectrum row. A red frame around everything while the input is lost (running on silence).
"""

from __future__ import annotations

import moderngl
import numpy as np

from liveai.frame import INPUT_LOST, N_BANDS, SPECTRUM_BINS

_VERTEX = """
#version 330
in vec2 in_pos;
out vec2 uv;
void main() {
    uv = in_pos * 0.5 + 0.5;
    gl_Position = vec4(in_pos, 0.0, 1.0);
}
"""

_FRAGMENT = """
#version 330
uniform sampler2D spectrum;   // SPECTRUM_BINS x 1, R32F, 0..1
uniform float level;          // 0..1
uniform float bands[N_BANDS]; // 0..1
uniform int input_lost;
in vec2 uv;
out vec4 color;

vec3 heat(float v) { return mix(vec3(0.1, 0.9, 0.35), vec3(1.0, 0.25, 0.1), v); }

void main() {
    vec3 c = vec3(0.02, 0.02, 0.05);
    if (uv.x < 0.06) {
        if (uv.y < level) c = heat(uv.y);
    } else {
        float x = (uv.x - 0.06) / 0.94;
        if (uv.y >= 0.5) {
            int b = int(min(floor(x * float(N_BANDS)), float(N_BANDS - 1)));
            float cell = fract(x * float(N_BANDS));
            float h = (uv.y - 0.5) * 2.0;
            if (cell > 0.08 && cell < 0.92 && h < bands[b]) c = heat(h) * 0.9;
        } else {
            // log-ish frequency axis so the bass is not squeezed into a few pixels
            float s = texture(spectrum, vec2(x * x, 0.5)).r;
            if (uv.y * 2.0 < s) c = mix(vec3(0.2, 0.4, 1.0), vec3(0.9, 0.3, 1.0), uv.y * 2.0);
        }
    }
    if (input_lost == 1) {
        vec2 d = min(uv, 1.0 - uv);
        if (min(d.x, d.y) < 0.015) c = vec3(0.9, 0.05, 0.05);
    }
    color = vec4(c, 1.0);
}
""".replace("N_BANDS", str(N_BANDS))


class MeterScene:
    """Draws the meter for one FeatureFrame.

    Parameters
    ----------
    ctx : moderngl.Context
        A GL 3.3 core context (window or EGL).
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        quad = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4")
        self.vbo = ctx.buffer(quad.tobytes())
        self.vao = ctx.vertex_array(self.program, [(self.vbo, "2f", "in_pos")])
        self.texture = ctx.texture((SPECTRUM_BINS, 1), 1, dtype="f4")
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = False
        self.program["spectrum"].value = 0

    def render(self, frame: np.ndarray) -> None:
        """Draw into the bound framebuffer."""
        self.texture.write(np.ascontiguousarray(frame["spectrum"], dtype="f4").tobytes())
        self.texture.use(0)
        self.program["level"].value = float(frame["level"])
        self.program["bands"].value = tuple(float(v) for v in frame["band_level"])
        self.program["input_lost"].value = int(frame["input_state"] == INPUT_LOST)
        self.ctx.clear(0.0, 0.0, 0.0)
        self.vao.render(moderngl.TRIANGLE_STRIP)

    def release(self) -> None:
        """Free the GL objects."""
        for obj in (self.vao, self.vbo, self.texture, self.program):
            obj.release()
