/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Flipping maze: a Truchet tiling of glowing quarter-arcs where a wave of tiles spins a quarter turn on every beat (spreading out from the centre), light dashes race along the paths at the tempo, the arcs thicken with the bass and each tile's brightness follows its band",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "tiles", "TYPE": "float", "DEFAULT": 6.0, "MIN": 3.0, "MAX": 24.0, "LABEL": "Tiles across height"},
        {"NAME": "flipShare", "TYPE": "float", "DEFAULT": 0.4, "MIN": 0.0, "MAX": 1.0, "LABEL": "Tiles flipping per beat"},
        {"NAME": "colorA", "TYPE": "color", "DEFAULT": [0.1, 0.9, 0.8, 1.0], "LABEL": "Colour A"},
        {"NAME": "colorB", "TYPE": "color", "DEFAULT": [1.0, 0.3, 0.6, 1.0], "LABEL": "Colour B"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define PI 3.14159265

float hash21(vec2 p) {
    p = fract(p * vec2(127.1, 311.7));
    p += dot(p, p + 17.17);
    return fract(p.x * p.y);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;
    // The clock: the beat clock with music, a slow one in silence.
    bool music = la_bpm > 0.5;
    float clock = music ? la_beats : TIME * 0.4;
    float beatId = floor(clock);
    float phase = fract(clock);

    vec2 q = p * tiles + vec2(0.0, 0.08 * TIME);
    vec2 cell = floor(q);
    vec2 f = fract(q) - 0.5;

    // Each tile flips at its own rate: its quarter-turn count is floor(beat * rate + offset),
    // so the orientation needs no memory and never jumps.
    float rate = clamp(flipShare * (0.6 + 0.8 * hash21(cell + 4.0)), 0.0, 1.0);
    float off = hash21(cell + 9.0) * 7.0;
    float turnsNow = floor(beatId * rate + off);
    float flips = floor((beatId + 1.0) * rate + off) - turnsNow;   // 1 if it turns this beat
    // The flip wave spreads from the centre through the first half of the beat.
    float dist = length((cell + 0.5) / tiles);
    float local = clamp((phase - dist * 0.6) * 5.0, 0.0, 1.0);
    local = local * local * (3.0 - 2.0 * local);
    float ang = (turnsNow + flips * local) * 0.5 * PI;
    float ca = cos(ang), sa = sin(ang);
    vec2 r = mat2(ca, -sa, sa, ca) * f;

    // Two quarter arcs around opposite corners.
    vec2 c1 = r - vec2(0.5, 0.5);
    vec2 c2 = r + vec2(0.5, 0.5);
    float d1 = abs(length(c1) - 0.5);
    float d2 = abs(length(c2) - 0.5);
    float d = min(d1, d2);
    vec2 cc = d1 < d2 ? c1 : c2;
    float along = atan(cc.y, cc.x) / (0.5 * PI);

    float band = la_bands[int(floor(hash21(cell + 5.0) * 8.0))];
    float w = 0.035 + 0.06 * react * la_bass;
    float line = smoothstep(w, w - 0.02, d);
    float glow = exp(-d * 10.0);
    // Dashes running along the paths at the tempo.
    float dash = smoothstep(0.3, 0.0, abs(fract(along * 2.0 - clock * (music ? 1.0 : 0.3) - TIME * 0.2) - 0.5) - 0.15);
    vec3 lc = mix(colorA.rgb, colorB.rgb, clamp(step(0.6, hash21(cell + 2.0)) + flips * (1.0 - abs(local * 2.0 - 1.0)), 0.0, 1.0));
    vec3 col = vec3(0.02, 0.015, 0.04);
    col += lc * glow * (0.1 + 0.35 * band * band * react);
    col += lc * line * (0.25 + 0.6 * band * band * react);
    col += mix(lc, vec3(1.0), 0.6) * line * dash * (0.15 + 0.6 * la_level) * step(0.4, hash21(cell + 8.0));
    // Spinning tiles light up; the predicted beat flashes the grid.
    col += lc * 0.15 * flips * (1.0 - abs(local * 2.0 - 1.0));
    float grid = smoothstep(0.48, 0.5, max(abs(f.x), abs(f.y)));
    col += colorB.rgb * grid * (0.04 + 0.5 * react * la_beat_ahead);
    col *= smoothstep(1.5, 0.3, length(p));
    gl_FragColor = vec4(col, 1.0);
}
