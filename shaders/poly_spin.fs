/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Nested spinning polygons: concentric outlines counter-rotate with the beat clock, gain sides with each bar, ripple outward with the bass history (outer rings react later), thicken with their band and snap to a star on the predicted beat",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "layers", "TYPE": "float", "DEFAULT": 10.0, "MIN": 3.0, "MAX": 16.0, "LABEL": "Layers"},
        {"NAME": "baseSides", "TYPE": "long", "DEFAULT": 3, "VALUES": [3, 4, 5, 6], "LABELS": ["3", "4", "5", "6"], "LABEL": "Base sides"},
        {"NAME": "spin", "TYPE": "float", "DEFAULT": 1.0, "MIN": -3.0, "MAX": 3.0, "LABEL": "Spin"},
        {"NAME": "colorA", "TYPE": "color", "DEFAULT": [1.0, 0.25, 0.55, 1.0], "LABEL": "Inner colour"},
        {"NAME": "colorB", "TYPE": "color", "DEFAULT": [0.2, 0.6, 1.0, 1.0], "LABEL": "Outer colour"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define PI 3.14159265
#define TAU 6.28318531

// a: the pixel's angle (any offset), r: its radius.
float polyDist(float a, float r, float n, float starAmt) {
    float s = TAU / n;
    float m = mod(a, s) - 0.5 * s;
    // Regular polygon radial distance; starAmt pinches the edges inward to a star.
    float poly = cos(m) * r / cos(0.5 * s);
    return mix(poly, r * (0.6 + 0.8 * abs(m) / s), starAmt);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;
    int nl = int(clamp(layers, 3.0, 16.0));
    float bars = floor(la_beats / 4.0);

    vec3 col = vec3(0.0);
    // Bass a moment ago (four taps of the history): outer layers follow later, so a ripple
    // runs outward.
    float h0 = IMG_NORM_PIXEL(la_history, vec2(1.0 - 0.5 / 256.0, 1.5 / 12.0)).r;
    float h1 = IMG_NORM_PIXEL(la_history, vec2(1.0 - 13.5 / 256.0, 1.5 / 12.0)).r;
    float h2 = IMG_NORM_PIXEL(la_history, vec2(1.0 - 26.5 / 256.0, 1.5 / 12.0)).r;
    float h3 = IMG_NORM_PIXEL(la_history, vec2(1.0 - 39.5 / 256.0, 1.5 / 12.0)).r;
    float pa = atan(p.x, p.y) + PI;
    float pr = length(p);
    for (int i = 0; i < 16; i++) {
        if (i >= nl) break;
        float fi = float(i);
        float k = fi / float(nl - 1);
        // Bass from the history, delayed more for the outer layers: a ripple runs outward.
        float hk = fi / 16.0 * 3.0;
        float bass = hk < 1.0 ? mix(h0, h1, hk) : (hk < 2.0 ? mix(h1, h2, hk - 1.0) : mix(h2, h3, hk - 2.0));
        float radius = 0.04 + 0.62 * k * k * (1.0 + 0.3 * react * bass) + 0.1 * k;
        float sides = float(baseSides) + mod(fi + bars, 4.0);
        float dir = mod(fi, 2.0) * 2.0 - 1.0;
        float ang = dir * spin * (0.15 * TIME * (1.0 + 0.3 * fi) + 0.25 * PI * la_beats / sides);
        float starAmt = react * la_beat_ahead * (mod(fi, 2.0) < 0.5 ? 1.0 : 0.0) * 0.6;
        float d = abs(polyDist(pa + ang, pr, sides, starAmt) - radius);
        float band = la_bands[int(min(fi * 8.0 / float(nl), 7.0))];
        float w = 0.002 + 0.01 * react * band + 0.002 * (1.0 - k);
        float line = smoothstep(w + 0.003, w, d);
        float glow = exp(-d * (60.0 - 30.0 * la_level));
        vec3 lc = mix(colorA.rgb, colorB.rgb, k);
        lc = mix(lc, vec3(1.0), 0.4 * la_hat * react * mod(fi + 1.0, 2.0));
        col += lc * (line * 1.2 + glow * 0.25);
    }
    // Centre pulse.
    float r = length(p);
    col += colorA.rgb * exp(-r * 20.0) * (0.3 + react * la_kick);
    col += colorB.rgb * 0.05 * (1.0 - smoothstep(0.0, 1.0, r));
    col = 1.0 - exp(-col * 1.3);
    gl_FragColor = vec4(col, 1.0);
}
