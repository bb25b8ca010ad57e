/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Glossy metaballs: eight liquid blobs, one per frequency band, swell with their band, orbit on the beat clock, get pulled together on the predicted beat and flung apart by kicks, with an iridescent sheen that shifts with the key",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "blobSize", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 2.5, "LABEL": "Blob size"},
        {"NAME": "orbit", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Orbit radius"},
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define TAU 6.28318531

vec2 ballPos(int i, float t, float spread) {
    float fi = float(i);
    float a = fi * TAU / 8.0 + t * (0.3 + 0.07 * fi) * (mod(fi, 2.0) * 2.0 - 1.0);
    float r = (0.22 + 0.12 * sin(t * 0.7 + fi * 1.3)) * spread;
    return vec2(cos(a) * 1.6, sin(a * (1.0 + 0.1 * fi) + 0.4 * t)) * r;
}

float field(vec2 p, float t, float spread, out float w0) {
    float f = 0.0;
    w0 = 0.0;
    for (int i = 0; i < 8; i++) {
        vec2 c = ballPos(i, t, spread);
        float rad = blobSize * (0.055 + 0.07 * la_bands[i] * reactivity + 0.015 * sin(t + float(i)));
        vec2 d = p - c;
        float v = rad * rad / (dot(d, d) + 1e-4);
        f += v;
        w0 += v * float(i);
    }
    w0 /= max(f, 1e-4);
    return f;
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;
    float t = TIME * 0.6 * speed + 0.5 * la_beats * step(0.5, la_bpm);
    float spread = orbit * (1.0 - 0.55 * react * la_beat_ahead + 0.6 * react * la_kick);

    float idx;
    float f = field(p, t, spread, idx);
    float e = 1.5 / res.y;
    float dummy;
    float fx = field(p + vec2(e, 0.0), t, spread, dummy);
    float fy = field(p + vec2(0.0, e), t, spread, dummy);
    vec2 g = vec2(fx - f, fy - f) / e;

    // Background: dark, with contour ripples of the field.
    float hue = hueShift + 0.05 * TIME + (la_pitch_class >= 0 ? float(la_pitch_class) / 12.0 : 0.0);
    vec3 bg = vec3(0.02, 0.015, 0.04);
    float rings = 0.5 + 0.5 * sin(f * 18.0 - TIME * 2.0 - la_beats * TAU * 0.5);
    bg += (0.5 + 0.5 * cos(TAU * (hue + 0.6 + vec3(0.0, 0.33, 0.67)))) * rings * 0.08 * smoothstep(0.2, 0.9, f);

    // Surface: treat the field as a height to light the blob.
    float inside = smoothstep(0.95, 1.05, f);
    vec3 n = normalize(vec3(-g * 0.04, 1.0));
    vec3 l = normalize(vec3(-0.5, 0.6, 0.8));
    float diff = max(dot(n, l), 0.0);
    float spec = pow(max(dot(reflect(-l, n), vec3(0.0, 0.0, 1.0)), 0.0), 24.0);
    float fres = pow(1.0 - n.z, 2.0);
    vec3 base = 0.5 + 0.5 * cos(TAU * (hue + idx / 8.0 * 0.5 + fres * 0.15 + vec3(0.0, 0.33, 0.67)));
    vec3 surf = base * (0.25 + 0.75 * diff) + vec3(1.0) * spec * (0.6 + la_high) + base * fres * 0.8;
    vec3 col = mix(bg, surf, inside);
    // Rim glow outside the blobs.
    col += base * smoothstep(0.5, 1.0, f) * (1.0 - inside) * (0.3 + 0.6 * la_level);
    // Snare: the rims flash white.
    col += vec3(1.0) * la_snare * react * exp(-abs(f - 1.0) * 10.0) * 0.7;

    gl_FragColor = vec4(col, 1.0);
}
