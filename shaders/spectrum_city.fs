/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Night skyline equaliser: building heights follow the spectrum, a slower back row follows the band history, windows switch on with the mids and flicker on hats, rooftop beacons and the moon flash on the beat, the river reflection ripples with the waveform",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "buildings", "TYPE": "float", "DEFAULT": 22.0, "MIN": 8.0, "MAX": 64.0, "LABEL": "Buildings"},
        {"NAME": "scroll", "TYPE": "float", "DEFAULT": 0.3, "MIN": 0.0, "MAX": 2.0, "LABEL": "Scroll speed"},
        {"NAME": "skyColor", "TYPE": "color", "DEFAULT": [0.35, 0.1, 0.55, 1.0], "LABEL": "Sky colour"},
        {"NAME": "windowColor", "TYPE": "color", "DEFAULT": [1.0, 0.75, 0.35, 1.0], "LABEL": "Window colour"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define TAU 6.28318531

float hash11(float x) {
    return fract(sin(x * 127.1 + 3.7) * 43758.5453);
}

float hash21(vec2 p) {
    return fract(sin(dot(p, vec2(41.3, 289.1))) * 24634.6345);
}

// One skyline row. Returns (building mask, building id, height, local x in building)
vec4 skyline(float x, float count, float offset, float heightBase, float heightAmp, float audioH) {
    float bx = x * count + offset;
    float id = floor(bx);
    float h = heightBase + heightAmp * hash11(id) + audioH;
    return vec4(0.0, id, h, fract(bx));
}

// Spectrum on a log-frequency axis: x = 0 (lowest bins) .. 1 (top), with a gentle tilt
// so the highs (weaker in most music) still show.
float specLog(float x) {
    x = clamp(x, 0.0, 1.0);
    return IMG_NORM_PIXEL(la_spectrum, vec2(exp2(mix(1.0, 9.0, x)) / 512.0, 0.5)).r * (0.85 + 0.5 * x);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    float react = reactivity;
    float horizon = 0.22;
    vec3 col;

    // Reflection: mirror the scene below the waterline, rippled by the waveform.
    bool water = uv.y < horizon;
    vec2 suv = uv;
    if (water) {
        float wave = IMG_NORM_PIXEL(la_waveform, vec2(fract(uv.y * 3.0 + TIME * 0.05), 0.5)).r - 0.5;
        suv.x += (0.004 * sin(uv.y * 180.0 + TIME * 4.0) + 0.05 * react * wave) * (horizon - uv.y + 0.05) * 8.0;
        suv.y = 2.0 * horizon - uv.y;
    }

    float y = suv.y - horizon;

    // Sky.
    col = mix(skyColor.rgb * 0.9, vec3(0.02, 0.01, 0.06), smoothstep(0.0, 0.8, y));
    // Stars.
    vec2 sg = floor(suv * vec2(aspect, 1.0) * 90.0);
    col += step(0.996, hash21(sg)) * step(0.0, uv.y - horizon) * (0.4 + 0.6 * sin(TIME * 3.0 + hash21(sg + 1.0) * TAU)) * smoothstep(0.2, 0.5, y);
    // Moon: grows on the bass, flashes on the predicted beat.
    vec2 mc = vec2(0.78, 0.72);
    float md = length((suv - mc) * vec2(aspect, 1.0));
    float mr = 0.08 + 0.03 * react * la_bass_smooth;
    col += vec3(1.0, 0.9, 0.8) * smoothstep(mr, mr - 0.005, md) * (0.7 + 0.3 * react * la_beat_ahead);
    col += vec3(1.0, 0.6, 0.8) * exp(-(md - mr) * 12.0) * (0.15 + 0.5 * react * la_beat_ahead) * step(mr, md);

    // Back row: the band history drives the heights (slow skyline of the last seconds).
    float backCount = buildings * 0.6;
    float bx = suv.x * backCount + TIME * scroll * 0.5;
    float bid = floor(bx);
    float band = mod(bid, 8.0);
    float hist = IMG_NORM_PIXEL(la_history, vec2(1.0 - fract(bid * 0.37) * 0.5, (4.0 + band + 0.5) / 12.0)).r;
    float bh = 0.18 + 0.2 * hash11(bid + 11.0) + 0.25 * react * hist;
    if (y < bh) {
        col = mix(col, vec3(0.05, 0.03, 0.12) + skyColor.rgb * 0.12, 0.92);
        vec2 wg = vec2(fract(bx) * 4.0, y * 70.0);
        float win = step(0.3, fract(wg.x)) * step(0.4, fract(wg.y)) * step(0.55, hash21(floor(wg) + bid));
        col += windowColor.rgb * win * 0.25 * (0.3 + la_mid);
    }

    // Front row: spectrum heights.
    float fx = suv.x * buildings + TIME * scroll;
    float fid = floor(fx);
    float lx = fract(fx);
    float bin = fract((fid + 0.5) / buildings * 0.7 + 0.13 * hash11(fid)) ;
    float spec = specLog(bin);
    float fh = 0.05 + 0.1 * hash11(fid) + 0.42 * react * spec * (0.55 + 0.45 * la_level);
    float margin = 0.08 + 0.1 * hash11(fid + 5.0);
    bool inB = lx > margin && lx < 1.0 - margin && y < fh && y > -0.01;
    if (inB) {
        vec3 wall = vec3(0.02, 0.02, 0.05) + 0.05 * skyColor.rgb;
        // Edge light from the sky.
        wall += skyColor.rgb * 0.25 * smoothstep(0.15, 0.0, abs(lx - margin));
        col = wall;
        vec2 wg = vec2((lx - margin) / (1.0 - 2.0 * margin) * 4.0, (fh - y) * 60.0);
        vec2 wid = floor(wg) + vec2(fid * 7.0, 0.0);
        float on = step(0.92 - 0.55 * clamp(la_mid * react + 0.1, 0.0, 1.0), hash21(wid));
        on = max(on, step(0.9, hash21(wid + floor(TIME * 8.0))) * step(0.2, la_hat * react));
        vec2 wf = fract(wg);
        float win = step(0.3, wf.x) * step(wf.x, 0.75) * step(0.35, wf.y) * step(wf.y, 0.8) * step(1.0, wg.y);
        col += windowColor.rgb * win * on * (0.6 + 0.4 * hash21(wid + 3.0));
    }
    // Rooftop beacons flash on the beat (alternating buildings on alternate beats).
    float par = mod(fid + floor(la_beats), 2.0);
    vec2 bp = vec2((lx - 0.5) * aspect / buildings * 1.0, y - fh - 0.012);
    float beacon = exp(-length(bp * vec2(buildings, 1.0) * 60.0));
    col += vec3(1.0, 0.15, 0.1) * beacon * (0.2 + 1.5 * react * la_beat_ahead * par);

    if (water) {
        col *= vec3(0.35, 0.4, 0.6) * (0.6 + 0.4 * sin(uv.y * 300.0 + TIME * 2.0));
        col += 0.03 * vec3(0.2, 0.3, 0.6);
    }
    col += vec3(0.8, 0.4, 0.9) * 0.15 * exp(-abs(uv.y - horizon) * 60.0) * (0.5 + la_bass);

    gl_FragColor = vec4(col, 1.0);
}
