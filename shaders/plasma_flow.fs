/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Liquid plasma: domain-warped marbling whose warp deepens with the bass and surges on kicks, the flow direction turns on every beat, snares etch ridges into it, and the palette slides to the current musical key",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "scale", "TYPE": "float", "DEFAULT": 2.5, "MIN": 0.5, "MAX": 8.0, "LABEL": "Scale"},
        {"NAME": "warpAmount", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Warp"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define TAU 6.28318531

float hash21(vec2 p) {
    p = fract(p * vec2(127.619, 157.583));
    p += dot(p, p + 19.19);
    return fract(p.x * p.y);
}

float vnoise(vec2 p) {
    vec2 i = floor(p);
    vec2 f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = hash21(i);
    float b = hash21(i + vec2(1.0, 0.0));
    float c = hash21(i + vec2(0.0, 1.0));
    float d = hash21(i + vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

float fbm(vec2 p) {
    float s = 0.0;
    float a = 0.5;
    mat2 m = mat2(1.6, 1.2, -1.2, 1.6);
    for (int i = 0; i < 4; i++) {
        s += a * vnoise(p);
        p = m * p;
        a *= 0.5;
    }
    return s;
}

vec3 hsv(float h, float s, float v) {
    vec3 k = clamp(abs(mod(h * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
    return v * mix(vec3(1.0), k, s);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0) * scale;
    float react = reactivity;
    float t = TIME * 0.15 * speed;

    // The flow direction turns a quarter on each beat (eased).
    float turn = (floor(la_beats) + smoothstep(0.0, 0.5, la_beat_phase)) * 1.5708 * step(0.5, la_bpm);
    vec2 flow = vec2(cos(turn), sin(turn)) * (t + 0.3 * la_beats * step(0.5, la_bpm));

    float warp = warpAmount * (1.0 + 1.5 * react * la_bass_smooth + 1.2 * react * la_kick);
    vec2 q = vec2(fbm(p + flow), fbm(p + vec2(5.2, 1.3) - flow));
    vec2 r = vec2(fbm(p + warp * 2.0 * q + vec2(1.7, 9.2) + 0.6 * t),
                  fbm(p + warp * 2.0 * q + vec2(8.3, 2.8) - 0.5 * t));
    float f = fbm(p + warp * 2.5 * r);

    // Snares etch ridges into the plasma.
    float ridge = 1.0 - abs(2.0 * f - 1.0);
    f = mix(f, ridge * ridge, clamp(react * la_snare, 0.0, 1.0) * 0.8);

    // Key hue from the chroma vector.
    vec2 cv = vec2(0.0);
    for (int k = 0; k < 12; k++) {
        float ang = mod(float(k) * 7.0, 12.0) * TAU / 12.0;   // circle of fifths
        cv += la_chroma[k] * vec2(cos(ang), sin(ang));
    }
    float keyHue = length(cv) > 0.05 ? atan(cv.y, cv.x) / TAU : 0.55 + 0.05 * sin(TIME * 0.05);
    float hue = keyHue + hueShift;

    vec3 c1 = hsv(hue, 0.75, 0.85);
    vec3 c2 = hsv(hue + 0.45, 0.6, 0.8);
    vec3 col = mix(hsv(hue + 0.7, 0.8, 0.06), c1, smoothstep(0.3, 0.7, f));
    col = mix(col, c2 * (0.4 + 0.6 * f), smoothstep(0.45, 0.75, r.x) * 0.85);
    col *= 0.55 + 0.6 * smoothstep(0.3, 0.8, r.y);
    col = mix(col, vec3(1.0, 0.97, 0.9), smoothstep(0.8, 0.97, f) * (0.3 + 0.5 * la_level));
    // Veins light up with the highs.
    col += c2 * smoothstep(0.02, 0.0, abs(r.x - 0.5)) * (0.15 + 0.8 * react * la_high);
    // Brightness swell on the predicted beat.
    col *= 0.75 + 0.25 * la_level_smooth + 0.35 * react * la_beat_ahead;

    gl_FragColor = vec4(col, 1.0);
}
