/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Neon polygon tunnel: the tunnel lunges forward on each beat, kicks blow the walls outward, the far end corkscrews on the predicted beat, snares recolour the rings and hats sparkle on the walls",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "twist", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Twist"},
        {"NAME": "sides", "TYPE": "long", "DEFAULT": 6, "VALUES": [3, 4, 5, 6, 8, 12], "LABELS": ["Triangle", "Square", "Pentagon", "Hexagon", "Octagon", "Round-ish"], "LABEL": "Wall sides"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define PI 3.14159265
#define TAU 6.28318531

float hash21(vec2 p) {
    p = fract(p * vec2(123.34, 456.21));
    p += dot(p, p + 45.32);
    return fract(p.x * p.y);
}

vec3 neon(float h) {
    return 0.5 + 0.5 * cos(TAU * (h + vec3(0.0, 0.33, 0.67)));
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;

    // The vanishing point drifts on its own and jolts sideways with the kick.
    vec2 drift = 0.12 * vec2(sin(TIME * 0.31), cos(TIME * 0.23));
    drift += react * 0.06 * la_kick * vec2(cos(la_beats * 2.1), sin(la_beats * 1.7));
    p -= drift;

    float n = float(max(sides, 3));
    float seg = TAU / n;
    float a = atan(p.y, p.x);
    float rr = length(p);

    // Kicks push the walls outward: the same pixel is then "deeper".
    rr /= 1.0 + 0.35 * react * la_kick;

    // Approximate depth from the round radius first, to twist deeper parts more.
    float z0 = 0.35 / max(rr, 1e-3);
    float rot = twist * (0.08 * z0 * sin(TIME * 0.21) + 0.25 * TIME * 0.1)
              + twist * react * 0.22 * z0 * la_beat_ahead
              + twist * 0.5 * PI * floor(la_beats) / n;
    float m = mod(a + rot, seg);
    float polyR = rr * cos(m - 0.5 * seg) / cos(0.5 * seg);
    float z = 0.35 / max(polyR, 1e-3);

    // Travel: free-running with TIME, plus a smooth lunge of half a ring on every beat.
    float lunge = floor(la_beats) + smoothstep(0.0, 0.35, la_beat_phase);
    float travel = TIME * 0.6 * speed + react * 0.5 * lunge * step(0.5, la_bpm) ;
    float zz = z * 0.8 + travel;

    float ringId = floor(zz);
    float f = fract(zz) - 0.5;
    float width = 0.035 + 0.09 * react * la_bass + 0.03 * la_level;
    float ring = smoothstep(width, width * 0.3, abs(f));
    float ringGlow = exp(-abs(f) * 9.0) * (0.25 + 0.75 * la_bass);

    // Rails along the polygon's corners.
    float edge = min(m, seg - m) * rr;
    float rail = smoothstep(0.012, 0.0, edge) + 0.4 * exp(-edge * 60.0);

    // Wall panels: faint grid between rails.
    float panel = smoothstep(0.04, 0.0, abs(fract(m / seg * 4.0) - 0.5) * seg * rr * 0.25);

    float hue = hueShift + 0.03 * TIME + 0.11 * ringId + 0.5 * step(0.3, la_snare) * react;
    vec3 col = neon(hue) * (ring * 1.3 + ringGlow * 0.7);
    col += neon(hue + 0.5) * rail * (0.5 + 0.8 * la_mid);
    col += neon(hue + 0.25) * panel * 0.08;

    // Hat sparkle on the walls.
    vec2 sg = vec2((a + rot) / TAU * 48.0, zz * 4.0);
    vec2 cell = floor(sg);
    vec2 fc = fract(sg) - 0.5;
    float sp = step(0.85, hash21(cell + floor(TIME * 12.0))) * smoothstep(0.25, 0.0, length(fc));
    col += vec3(0.9, 0.95, 1.0) * sp * react * (0.15 + la_hat) * 1.5;

    // Depth fog toward the far end, and a light at the end that breathes with the level.
    float fog = exp(-z * 0.13);
    col *= fog;
    col += neon(hue + 0.6) * (0.08 + 0.5 * la_level_smooth + 0.6 * la_beat_ahead * react) * exp(-rr * 9.0);
    // A flash in the rings on the predicted beat.
    col += neon(hue) * ring * fog * la_beat_ahead * 0.6 * react;

    col = col / (1.0 + 0.4 * col);
    gl_FragColor = vec4(col, 1.0);
}
