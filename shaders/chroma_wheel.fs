/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Harmony wheel: twelve petals on the circle of fifths grow with their pitch-class energy, the strongest note bursts outward, the wheel ticks one petal per beat, the core breathes with the bass and a ring of spectrum dots orbits outside",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "petalSize", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 2.0, "LABEL": "Petal size"},
        {"NAME": "fifths", "TYPE": "bool", "DEFAULT": true, "LABEL": "Circle of fifths"},
        {"NAME": "spin", "TYPE": "float", "DEFAULT": 1.0, "MIN": -2.0, "MAX": 2.0, "LABEL": "Spin"},
        {"NAME": "saturation", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Saturation"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define PI 3.14159265
#define TAU 6.28318531

vec3 hsv(float h, float s, float v) {
    vec3 k = clamp(abs(mod(h * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
    return v * mix(vec3(1.0), k, s);
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
    float r = length(p);

    // One petal step per beat (eased), plus a slow drift.
    float tick = (floor(la_beats) + smoothstep(0.0, 0.3, la_beat_phase)) * step(0.5, la_bpm);
    float rotA = spin * (0.05 * TIME + tick * TAU / 12.0);
    float a = atan(p.y, p.x) + rotA;
    float slot = mod(floor(a / TAU * 12.0 + 0.5), 12.0);
    float local = fract(a / TAU * 12.0 + 0.5) - 0.5;     // -0.5..0.5 across a petal

    // Which pitch class sits in this slot.
    int pc = fifths ? int(mod(slot * 7.0, 12.0)) : int(slot);
    float e = la_chroma[pc];
    float idle = 0.15 + 0.08 * sin(TIME * 0.9 + slot * 0.7);
    float energy = max(e * react, idle * (1.0 - la_level));
    bool strongest = pc == la_pitch_class;

    float inner = 0.1 + 0.04 * la_bass_smooth + 0.05 * react * la_kick;
    float outer = inner + petalSize * (0.07 + 0.28 * energy) + (strongest ? 0.06 * react * la_beat_ahead : 0.0);
    // Petal shape: rounded toward its tip.
    float shape = sqrt(max(1.0 - pow(abs(local) * 2.2, 2.0), 0.0));
    float tipR = inner + (outer - inner) * (0.5 + 0.5 * shape);
    float petal = smoothstep(0.005, 0.0, r - tipR) * smoothstep(inner - 0.005, inner, r)
                * smoothstep(0.5, 0.4, abs(local));
    float hue = slot / 12.0;
    vec3 pcol = hsv(hue, saturation * 0.85, 0.25 + 0.75 * energy);
    vec3 col = vec3(0.015, 0.01, 0.03);
    col += hsv(hue, saturation, 1.0) * 0.06 * smoothstep(0.8, 0.0, r);
    col = mix(col, pcol * (0.7 + 0.3 * (r - inner) / max(outer - inner, 1e-3)), petal);
    // Outline and the strongest note's burst.
    float edge = abs(r - tipR);
    col += hsv(hue, saturation * 0.5, 1.0) * smoothstep(0.006, 0.0, edge) * step(abs(local), 0.45) * 0.5;
    if (strongest) {
        col += hsv(hue, saturation * 0.6, 1.0) * exp(-abs(r - tipR - 0.03) * 30.0) * (0.4 + react * la_beat_ahead) * step(abs(local), 0.5);
    }
    // Core breathes with the bass.
    float core = smoothstep(inner, inner - 0.01, r);
    vec3 keyCol = la_pitch_class >= 0 ? hsv((fifths ? mod(float(la_pitch_class) * 7.0, 12.0) : float(la_pitch_class)) / 12.0, saturation, 1.0) : vec3(0.6);
    col = mix(col, keyCol * (0.35 + 0.65 * la_level) * (1.0 - 0.6 * r / max(inner, 1e-3)), core);

    // Orbiting spectrum dots.
    float ringR = 0.47;
    float oa = atan(p.y, p.x) - spin * (0.15 * TIME + 0.25 * la_beats);
    float n = 48.0;
    float di = floor(fract(oa / TAU) * n);
    float dc = (di + 0.5) / n * TAU;
    vec2 dp = vec2(cos(dc), sin(dc));
    float s = specLog(abs((di + 0.5) / n * 2.0 - 1.0));
    float dr = ringR + 0.06 * s * react;
    vec2 pr = vec2(cos(oa), sin(oa)) * r;
    float dd = length(pr - dp * dr);
    col += hsv(di / n, saturation * 0.7, 1.0) * smoothstep(0.012 + 0.01 * s, 0.004, dd) * (0.3 + s);

    gl_FragColor = vec4(col, 1.0);
}
