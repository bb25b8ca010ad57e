/*{
    "ISFVSN": "2",
    "DESCRIPTION": "LED wall: a grid of round LEDs shows a mirrored band equaliser over a scrolling spectrogram waterfall, strobes a different pattern on each beat of the bar, inverts on snares and sparkles on hats",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "columns", "TYPE": "float", "DEFAULT": 48.0, "MIN": 16.0, "MAX": 96.0, "LABEL": "LED columns"},
        {"NAME": "ledColor", "TYPE": "color", "DEFAULT": [0.1, 1.0, 0.6, 1.0], "LABEL": "LED colour"},
        {"NAME": "peakColor", "TYPE": "color", "DEFAULT": [1.0, 0.2, 0.4, 1.0], "LABEL": "Peak colour"},
        {"NAME": "strobe", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Strobe amount"},
        {"NAME": "waterfall", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Waterfall"}
    ]
}*/

float hash21(vec2 p) {
    p = fract(p * vec2(443.897, 441.423));
    p += dot(p, p + 19.19);
    return fract(p.x * p.y);
}

float bandAt(float x) {
    // x in 0..1 across the 8 bands, linearly interpolated.
    float fb = clamp(x * 8.0 - 0.5, 0.0, 7.0);
    int i0 = int(floor(fb));
    int i1 = min(i0 + 1, 7);
    return mix(la_bands[i0], la_bands[i1], fract(fb));
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    float cols = floor(columns);
    float rows = floor(cols / aspect);
    vec2 grid = vec2(cols, rows);
    vec2 cell = floor(uv * grid);
    vec2 cuv = fract(uv * grid) - 0.5;
    vec2 cn = (cell + 0.5) / grid;          // cell centre, 0..1

    // Mirrored equaliser: bass in the middle, highs at both sides.
    float ex = abs(cn.x - 0.5) * 2.0;
    float lvl = smoothstep(0.15, 1.0, bandAt(ex));
    float idle = 0.06 + 0.04 * sin(TIME * 1.3 + ex * 9.0);
    float barH = max(lvl, idle);
    float eq = step(cn.y, barH * 0.92);
    // The peak cap: the recent maximum from the history (about half a second).
    float peak = 0.0;
    for (int k = 0; k < 6; k++) {
        float fb = clamp(ex * 8.0 - 0.5, 0.0, 7.0);
        float row = (4.0 + floor(fb + 0.5) + 0.5) / 12.0;
        peak = max(peak, smoothstep(0.15, 1.0, IMG_NORM_PIXEL(la_history, vec2(1.0 - (float(k) * 3.0 + 0.5) / 256.0, row)).r));
    }
    float cap = step(abs(cn.y - peak * 0.92 - 1.5 / rows), 0.5 / rows) * step(0.02, peak);

    // Waterfall: the history scrolls up from the bottom behind the bars.
    float age = cn.y;                         // 0 = newest at the bottom
    float hx = 1.0 - age * 0.9;
    float fb = clamp(ex * 8.0, 0.0, 7.999);
    float wf = IMG_NORM_PIXEL(la_history, vec2(hx, (4.0 + floor(fb) + 0.5) / 12.0)).r;
    wf = max(wf, 0.12 * (0.5 + 0.5 * sin(cn.x * 11.0 + cn.y * 7.0 - TIME * 0.8)));

    // Beat strobe pattern: changes with the beat in the bar.
    float pat = 0.0;
    int bib = la_beat_in_bar < 0 ? 0 : la_beat_in_bar;
    vec2 cc = (cn - 0.5) * vec2(aspect, 1.0);
    if (bib == 0) pat = step(abs(length(cc) - 0.35 * (1.0 - la_beat_ahead) - 0.05), 0.06);
    else if (bib == 1) pat = mod(cell.x + cell.y, 2.0);
    else if (bib == 2) pat = step(abs(cc.x) , 0.06) + step(abs(cc.y), 0.06);
    else pat = step(0.5, fract((cell.x - cell.y) / 8.0));
    float flash = strobe * la_beat_ahead * clamp(pat, 0.0, 1.0);

    vec3 c = ledColor.rgb * wf * waterfall * 0.6;
    vec3 bar = mix(ledColor.rgb, peakColor.rgb, smoothstep(0.3, 0.9, cn.y));
    c = max(c, bar * eq);
    c = max(c, peakColor.rgb * cap);
    c = max(c, vec3(1.0, 0.95, 0.9) * flash);
    // Snare inverts the wall for a moment.
    float inv = clamp((la_snare - 0.55) * 2.5 * strobe, 0.0, 1.0);
    c = mix(c, (ledColor.rgb + peakColor.rgb) * 0.5 - c * 0.8, inv);
    // Hat sparkle.
    c += vec3(1.0) * step(0.96, hash21(cell + floor(TIME * 15.0))) * la_hat;
    c = max(c, vec3(0.0));

    // LED dot with a soft halo; unlit LEDs stay faintly visible.
    float d = length(cuv);
    float dot_ = smoothstep(0.42, 0.3, d);
    float halo = exp(-d * 5.0) * 0.35;
    vec3 col = vec3(0.035, 0.04, 0.05) * dot_ + c * (dot_ + halo);
    gl_FragColor = vec4(col, 1.0);
}
