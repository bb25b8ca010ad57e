/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Crystal kaleidoscope: folded fractal shards rotate with the beat clock, gain mirror segments through the bar, bloom outward on the bass, shatter on the snare, and the spectrum rims every shard",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "segments", "TYPE": "float", "DEFAULT": 6.0, "MIN": 2.0, "MAX": 16.0, "LABEL": "Mirror segments"},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 3.0, "LABEL": "Zoom"},
        {"NAME": "spin", "TYPE": "float", "DEFAULT": 1.0, "MIN": -3.0, "MAX": 3.0, "LABEL": "Spin"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define PI 3.14159265
#define TAU 6.28318531

mat2 rot(float a) {
    float c = cos(a), s = sin(a);
    return mat2(c, -s, s, c);
}

vec3 pal(float t) {
    return clamp(0.5 + 0.6 * cos(TAU * (t + vec3(0.0, 0.33, 0.67))), 0.0, 1.0);
}

// Spectrum on a log-frequency axis: x = 0 (lowest bins) .. 1 (top), with a gentle tilt
// so the highs (weaker in most music) still show.
float specLog(float x) {
    x = clamp(x, 0.0, 1.0);
    return IMG_NORM_PIXEL(la_spectrum, vec2(exp2(mix(1.0, 9.0, x)) / 512.0, 0.5)).r * (0.85 + 0.5 * x);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;

    // Zoom punch on the kick.
    p *= (1.6 / zoom) * (1.0 - 0.18 * react * la_kick);
    p *= rot(spin * (0.07 * TIME + 0.125 * PI * la_beats * step(0.5, la_bpm)));

    // More mirror segments as the bar goes on (back to the base on the downbeat).
    float extra = la_beat_in_bar >= 0 ? float(la_beat_in_bar) * step(0.5, react) : 0.0;
    float n = floor(segments) + extra;
    float seg = TAU / n;
    float a = atan(p.y, p.x);
    float r = length(p);
    a = mod(a, seg);
    a = abs(a - 0.5 * seg);
    vec2 q = r * vec2(cos(a), sin(a));

    // Folding iterations: the fold offset blooms with the bass, the angle drifts with time.
    float bloom = 0.35 + 0.3 * react * la_bass_smooth + 0.15 * react * la_beat_ahead;
    float shard = 0.0;
    float trap = 10.0;
    float trapId = 0.0;
    for (int i = 0; i < 5; i++) {
        q = abs(q) - bloom * (0.9 - 0.1 * float(i));
        q *= rot(0.5 + 0.15 * sin(TIME * 0.2 + float(i)) + 0.4 * react * la_snare);
        q *= 1.3;
        float t = (abs(q.y) + 0.3 * abs(q.x)) / pow(1.3, float(i) * 0.5);
        if (t < trap) { trap = t; trapId = float(i); }
        shard += exp(-abs(q.x) * 6.0);
    }
    float d = length(q) / pow(1.3, 5.0);

    // Spectrum rims: the spectrum sampled along the radius decides the rim thickness.
    float spec = specLog(r * 0.7);
    float rim = smoothstep(0.05 + 0.2 * spec * react, 0.0, trap) * 0.6;

    float hue = hueShift + 0.04 * TIME + r * 0.5 + 0.17 * trapId;
    vec3 base = pal(hue + 0.5) * 0.2 * (0.5 + 0.5 * sin(d * 40.0 - TIME * 2.0));
    vec3 col = base;
    col += pal(hue) * rim * (0.6 + 0.9 * la_mid * react);
    col += pal(hue + 0.33) * smoothstep(0.03, 0.0, trap) * 1.2;
    col += vec3(1.0) * smoothstep(0.012, 0.0, trap) * (0.4 + 1.2 * la_hat * react);
    // Dark vignette and a glowing core on the predicted beat.
    col *= smoothstep(1.7, 0.2, r);
    col += pal(hue + 0.2) * exp(-r * 5.0) * (0.15 + 1.2 * react * la_beat_ahead);
    col = col / (1.0 + 0.5 * col);
    gl_FragColor = vec4(col, 1.0);
}
