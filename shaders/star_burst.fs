/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Warp starfield: stars stream out of the centre and stretch into streaks with the bass, each beat jumps the field forward and fires a shockwave ring, kicks shake the core, hats make the stars twinkle, the key tints the nebula",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "density", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 2.0, "LABEL": "Star density"},
        {"NAME": "streak", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Streak length"},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [0.55, 0.75, 1.0, 1.0], "LABEL": "Star tint"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define TAU 6.28318531
#define LAYERS 8

float hash21(vec2 p) {
    p = fract(p * vec2(233.34, 851.73));
    p += dot(p, p + 23.45);
    return fract(p.x * p.y);
}

vec2 hash22(vec2 p) {
    float h = hash21(p);
    return vec2(h, hash21(p + h * 17.0));
}

mat2 rot(float a) {
    float c = cos(a), s = sin(a);
    return mat2(c, -s, s, c);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;

    // Kicks shake the core.
    p += react * 0.015 * la_kick * vec2(sin(TIME * 91.0), cos(TIME * 77.0));
    p *= rot(0.05 * TIME + 0.1 * la_beats);

    // Forward travel: free-running plus a quick jump on every beat.
    float jump = floor(la_beats) + smoothstep(0.0, 0.25, la_beat_phase);
    float travel = TIME * 0.12 * speed + react * 0.18 * jump;
    float warp = streak * (0.2 + 2.2 * react * la_bass_smooth + 1.5 * react * la_kick);

    vec3 col = vec3(0.0);
    float rlen = length(p);
    vec2 radial = p / max(rlen, 1e-4);
    for (int i = 0; i < LAYERS; i++) {
        float fi = float(i);
        float depth = fract(fi / float(LAYERS) + travel);     // 0 far .. 1 near
        float scale = mix(18.0, 0.8, depth) * density;
        float fade = smoothstep(0.0, 0.3, depth) * smoothstep(1.0, 0.85, depth);
        vec2 q = p * scale + fi * 37.1;
        vec2 cell = floor(q);
        vec2 h = hash22(cell + fi * 13.0);
        vec2 star = cell + 0.3 + 0.4 * h;
        vec2 d = q - star;
        // Streak along the radial direction: squeeze the radial component.
        float along = dot(d, radial);
        float across = dot(d, vec2(-radial.y, radial.x));
        float size = 0.03 + 0.04 * h.x;
        float stretch = min(1.0 + warp * depth * rlen * 3.0, 0.26 / size);
        float dist = length(vec2(along / stretch, across));
        float tw = 0.6 + 0.4 * sin(TIME * (3.0 + 5.0 * h.y) + h.x * TAU);
        tw = mix(tw, step(0.5, h.y) * 2.0, react * la_hat);
        float b = smoothstep(size, 0.0, dist) + 0.2 * smoothstep(size * 2.5, 0.0, length(vec2(along / stretch, across * 1.5)));
        b *= step(0.3, fract(h.x * 7.31 + h.y));
        vec3 sc = mix(tint.rgb, vec3(1.0, 0.8, 0.6), h.x * h.x);
        col += sc * b * fade * tw * (0.6 + 0.8 * depth);
    }

    // Nebula tinted by the key (chroma as a colour angle).
    vec2 cv = vec2(0.0);
    for (int k = 0; k < 12; k++) {
        float ang = mod(float(k) * 7.0, 12.0) * TAU / 12.0;   // circle of fifths
        cv += la_chroma[k] * vec2(cos(ang), sin(ang));
    }
    float keyHue = length(cv) > 0.05 ? atan(cv.y, cv.x) / TAU : 0.7 + 0.03 * sin(TIME * 0.1);
    vec3 neb = mix(vec3(0.45, 0.4, 0.6), 0.5 + 0.5 * cos(TAU * (keyHue + vec3(0.0, 0.33, 0.67))), 0.6);
    float ang = atan(p.y, p.x);
    float swirl = 0.5 + 0.5 * sin(ang * 3.0 + rlen * 8.0 - TIME * 0.7);
    col += neb * exp(-rlen * (3.0 - 1.5 * la_bass_smooth)) * (0.15 + 0.6 * la_level) * (0.6 + 0.4 * swirl);

    // Shockwave ring on each beat (radius grows through the beat).
    float ringR = la_beat_phase * 1.4;
    float ring = exp(-abs(rlen - ringR) * 40.0) * (1.0 - la_beat_phase) * step(0.5, la_bpm) * react;
    col += (neb + 0.4) * ring * 0.9;
    // Flash at the core on the predicted beat.
    col += vec3(1.0, 0.95, 0.9) * la_beat_ahead * react * exp(-rlen * 12.0) * 1.5;

    col = 1.0 - exp(-col * 1.2);
    gl_FragColor = vec4(col, 1.0);
}
