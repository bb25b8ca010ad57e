/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Sound-history mountains: neon ridgelines whose peaks are the last seconds of the eight bands (low left, high right) rolling away toward a striped retro sun, a light wave runs into the distance on each beat and the sun pulses on the predicted beat",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "peakHeight", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.5, "LABEL": "Peak height"},
        {"NAME": "hills", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Idle hills"},
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Fly speed"},
        {"NAME": "lineColor", "TYPE": "color", "DEFAULT": [1.0, 0.2, 0.75, 1.0], "LABEL": "Near line colour"},
        {"NAME": "farColor", "TYPE": "color", "DEFAULT": [0.1, 0.7, 1.0, 1.0], "LABEL": "Far line colour"}
    ]
}*/

#define RIDGES 22

float hash11(float x) {
    x = fract(x * 0.1031);
    x *= x + 33.33;
    x *= x + x;
    return fract(x);
}

float noise1(float x) {
    float i = floor(x);
    float f = fract(x);
    float u = f * f * (3.0 - 2.0 * f);
    return mix(hash11(i), hash11(i + 1.0), u);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    float horizon = 0.58;
    float camH = 0.35;

    // Sky with a striped sun that pulses on the predicted beat.
    vec3 col = mix(vec3(0.25, 0.05, 0.3), vec3(0.01, 0.0, 0.05), smoothstep(horizon, 1.0, uv.y));
    vec2 sp = (uv - vec2(0.5, horizon + 0.12)) * vec2(aspect, 1.0);
    float sr = 0.2 + 0.02 * la_bass_smooth + 0.02 * la_beat_ahead;
    float sd = length(sp);
    float cuts = step(sp.y, 0.0) * step(0.65 - 0.5 * (-sp.y / sr), fract(sp.y * 28.0 + TIME * 0.3));
    vec3 sunCol = mix(vec3(1.0, 0.85, 0.2), vec3(1.0, 0.2, 0.5), clamp(0.5 - sp.y / sr * 0.5, 0.0, 1.0));
    col = mix(col, sunCol * (1.0 + 0.4 * la_beat_ahead), smoothstep(sr, sr - 0.005, sd) * (1.0 - cuts));
    col += sunCol * 0.25 * exp(-max(sd - sr, 0.0) * 8.0) * (0.6 + 0.8 * la_level_smooth);
    // Stars.
    vec2 sg = floor(uv * vec2(aspect, 1.0) * 80.0);
    col += step(0.996, hash11(sg.x * 17.0 + sg.y * 131.7)) * 0.7 * step(horizon + 0.05, uv.y);

    float fly = TIME * 0.4 * speed;
    float xs = (uv.x - 0.5) * aspect;
    // Painter's order: far ridges first, nearer ones cover them.
    for (int i = RIDGES - 1; i >= 0; i--) {
        float fi = float(i);
        float z = 0.6 + fi * 0.3;
        float xw = xs * z;
        // Band position across the screen: bass on the left, highs on the right.
        float bpos = clamp(0.5 + xw * 0.45, 0.0, 1.0) * 7.0;
        float histX = 1.0 - (fi * 3.0 + 0.5) / 256.0;
        float a = IMG_NORM_PIXEL(la_history, vec2(histX, (4.0 + bpos + 0.5) / 12.0)).r;
        // Valley in the middle, peaks rising to the sides.
        float side = smoothstep(0.1, 0.9, abs(xw));
        float idle = hills * 0.12 * (noise1(xw * 3.0 + fi * 0.7 + fly * 2.0) * 0.7 + noise1(xw * 9.0 - fi) * 0.3);
        a = smoothstep(0.1, 1.0, a);
        float h = idle * (0.3 + side) + peakHeight * 0.3 * a * (0.25 + 0.75 * side);
        float y = horizon - camH / z + h / z;
        if (uv.y < y + 0.004) {
            // Fill hides what is behind.
            float fillMix = smoothstep(y + 0.002, y - 0.01, uv.y);
            col = mix(col, vec3(0.02, 0.0, 0.05) * (1.0 + fi * 0.02), fillMix);
        }
        float d = abs(uv.y - y);
        float w = 0.0015 + 0.003 / z;
        float k = fi / float(RIDGES - 1);
        vec3 lc = mix(lineColor.rgb, farColor.rgb, k);
        // A light wave runs away from the viewer on each beat.
        float wave = exp(-abs(k - la_beat_phase) * 12.0) * step(0.5, la_bpm);
        float bright = (1.0 - 0.6 * k) * (0.6 + 0.4 * la_level) + 1.2 * wave;
        col += lc * (smoothstep(w, 0.0, d) + 0.25 * exp(-d * 200.0)) * bright;
    }
    // Horizon haze.
    col += vec3(0.8, 0.2, 0.6) * 0.2 * exp(-abs(uv.y - horizon) * 40.0);
    gl_FragColor = vec4(col, 1.0);
}
