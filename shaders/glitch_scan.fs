/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Broken broadcast: a neon test card of band bars and rings torn by glitches: snares and onsets slice and shove scanline blocks sideways, kicks split the RGB channels, the predicted beat punches inverted blocks, the picture rolls on each downbeat and hats add static",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive", "Glitch"],
    "INPUTS": [
        {"NAME": "glitchAmount", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.5, "LABEL": "Glitch amount"},
        {"NAME": "rgbSplit", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "RGB split"},
        {"NAME": "scanlines", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Scanlines"},
        {"NAME": "rollOnBar", "TYPE": "bool", "DEFAULT": true, "LABEL": "Roll on downbeat"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"}
    ]
}*/

#define TAU 6.28318531

float hash21(vec2 p) {
    p = fract(p * vec2(234.34, 435.345));
    p += dot(p, p + 34.23);
    return fract(p.x * p.y);
}

vec3 pal(float t) {
    return clamp(0.5 + 0.6 * cos(TAU * (t + vec3(0.0, 0.33, 0.67))), 0.0, 1.0);
}

// The clean picture the glitches tear apart.
vec3 card(vec2 uv, float aspect) {
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
    float stripes = step(0.5, fract((p.x + p.y) * 6.0 - TIME * 0.2 - la_beats * 0.25));
    vec3 col = mix(vec3(0.05, 0.02, 0.1), pal(hueShift + 0.17) * 0.3, stripes);
    float r = length(p);
    // Band bars inside a disc.
    float inDisc = step(r, 0.36);
    float bx = (p.x + 0.3) / 0.6;
    if (bx > 0.0 && bx < 1.0 && inDisc > 0.0) {
        int bi = int(floor(bx * 8.0));
        float lvl = max(la_bands[bi], 0.12 + 0.08 * sin(TIME * 1.5 + float(bi)));
        float bar = step(p.y + 0.3, lvl * 0.6) * step(0.15, fract(bx * 8.0)) * step(fract(bx * 8.0), 0.85);
        col = mix(vec3(0.02), pal(hueShift + float(bi) / 8.0), bar);
        col += 0.1 * step(0.95, fract((p.y + 0.3) * 20.0));
    } else {
        col = mix(col, vec3(0.03), inDisc);
    }
    // Rings.
    col += pal(hueShift + 0.5) * smoothstep(0.01, 0.0, abs(r - 0.38 - 0.03 * la_bass));
    col += vec3(0.9) * smoothstep(0.004, 0.0, abs(r - 0.42));
    // Corner crosses of a test card.
    vec2 g = abs(fract(uv * vec2(8.0, 4.5)) - 0.5);
    col += vec3(0.15) * step(min(g.x, g.y), 0.01) * (1.0 - inDisc);
    return col;
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    float amt = glitchAmount;

    // Roll on each downbeat.
    if (rollOnBar) {
        uv.y = fract(uv.y + 0.35 * la_bar * amt);
    }
    // Slice displacement.
    float stepT = floor(TIME * 12.0);
    float rows = 18.0 + floor(hash21(vec2(stepT, 3.0)) * 30.0);
    float row = floor(uv.y * rows);
    float hit = la_snare + 0.6 * la_onset;
    float chance = 0.04 + 0.5 * hit * amt;
    float h = hash21(vec2(row, stepT));
    float shove = (hash21(vec2(row, stepT + 7.0)) - 0.5) * (0.03 + 0.35 * hit) * amt;
    uv.x += shove * step(1.0 - chance, h);
    // A slow idle wobble so silence still has a little life.
    uv.x += 0.003 * sin(uv.y * 40.0 + TIME * 3.0);

    // RGB split on the kick.
    float split = rgbSplit * (0.002 + 0.03 * la_kick);
    vec3 col;
    col.r = card(vec2(uv.x + split, uv.y), aspect).r;
    col.g = card(uv, aspect).g;
    col.b = card(vec2(uv.x - split, uv.y), aspect).b;

    // Inverted / posterised blocks punched on the predicted beat.
    vec2 blk = floor(isf_FragNormCoord * vec2(16.0, 9.0));
    float bh = hash21(blk + floor(la_beats) * 1.7);
    float punch = step(bh, 0.18 * la_beat_ahead * amt + 0.004);
    col = mix(col, 1.0 - col.gbr, punch);
    // Static on the hats.
    float n = hash21(isf_FragNormCoord * RENDERSIZE + fract(TIME * 13.0) * 100.0);
    col += (n - 0.5) * (0.05 + 0.3 * la_hat);
    // Scanlines and a rolling bright band.
    float sl = 0.5 + 0.5 * sin(isf_FragNormCoord.y * RENDERSIZE.y * 3.14159);
    col *= 1.0 - scanlines * 0.5 * sl;
    col += 0.06 * exp(-abs(fract(isf_FragNormCoord.y - TIME * 0.15) - 0.5) * 20.0);
    // Flicker on the beat.
    col *= 0.9 + 0.25 * la_beat_ahead;
    gl_FragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
