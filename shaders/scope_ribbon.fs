/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Oscilloscope ribbon: the live waveform drawn as a glowing phosphor trace with a fan of echoes receding into depth, the echoes fan out on the beat and bend with the bass, their height follows the level history, the colour follows the key",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.2, "MAX": 3.0, "LABEL": "Wave gain"},
        {"NAME": "echoes", "TYPE": "float", "DEFAULT": 10.0, "MIN": 1.0, "MAX": 16.0, "LABEL": "Echoes"},
        {"NAME": "lineWidth", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 3.0, "LABEL": "Line width"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "showGrid", "TYPE": "bool", "DEFAULT": true, "LABEL": "Scope grid"}
    ]
}*/

#define TAU 6.28318531

vec3 pal(float t) {
    return clamp(0.5 + 0.6 * cos(TAU * (t + vec3(0.0, 0.33, 0.67))), 0.0, 1.0);
}

float wave(float x, float shift) {
    float w = IMG_NORM_PIXEL(la_waveform, vec2(clamp(fract(x + shift), 0.002, 0.998), 0.5)).r - 0.5;
    // An idle trace so silence still breathes.
    w += 0.03 * sin(x * TAU * 3.0 + TIME * 1.3 + shift * 20.0) * sin(TIME * 0.4 + shift * 9.0);
    return w;
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    vec3 col = vec3(0.0);

    // Key colour from the strongest pitch class.
    float keyHue = la_pitch_class >= 0 ? float(la_pitch_class) / 12.0 : 0.38;
    keyHue += hueShift;

    // Scope graticule.
    if (showGrid) {
        vec2 g = abs(fract(uv * vec2(10.0, 8.0)) - 0.5);
        float grid = smoothstep(0.49, 0.5, max(g.x, g.y));
        float axes = smoothstep(0.003, 0.0, abs(uv.y - 0.5)) + smoothstep(0.002, 0.0, abs(uv.x - 0.5));
        col += pal(keyHue + 0.5) * (0.04 * grid + 0.06 * axes);
    }

    int n = int(clamp(echoes, 1.0, 16.0));
    float fan = 0.025 + 0.045 * la_beat_ahead + 0.02 * la_level_smooth;
    float px = 1.0 / RENDERSIZE.y;
    for (int k = 15; k >= 0; k--) {
        if (k >= n) continue;
        float fk = float(k);
        float depth = fk / 16.0;
        // Each echo is older: its height follows the level history at that moment.
        float hist = IMG_NORM_PIXEL(la_history, vec2(1.0 - (fk * 6.0 + 0.5) / 256.0, 0.5 / 12.0)).r;
        float amp = gain * (0.25 + 0.6 * hist) * (1.0 - 0.5 * depth);
        // Perspective: older echoes shrink toward a vanishing line and sit higher.
        float persp = 1.0 / (1.0 + depth * 1.5);
        float x = (uv.x - 0.5) / persp + 0.5;
        float bend = 0.08 * la_bass * sin(x * 3.14159 + TIME) * (1.0 + fk * 0.3);
        float y0 = 0.5 + fk * fan * persp + bend * persp;
        float shift = fk * 0.013 + 0.02 * TIME * (1.0 - step(0.01, la_level));
        float w = wave(x, shift) * amp * persp;
        float dx = 2.0 / RENDERSIZE.x;
        float slope = (wave(x + dx, shift) * amp * persp - w) / dx / aspect;
        // The slope correction keeps steep parts as thick as flat ones; capped so noisy
        // (very steep) stretches do not smear into vertical streaks.
        float d = abs(uv.y - y0 - w) / sqrt(1.0 + min(slope * slope, 9.0));
        float width = lineWidth * px * (1.5 + 3.0 * la_level) * persp;
        float core = smoothstep(width, 0.0, d);
        float glow = exp(-d / (width * 4.0 + 0.003));
        vec3 c = pal(keyHue + 0.06 * fk + 0.1 * sin(TIME * 0.2));
        float fade = (k == 0) ? 1.0 : 0.55 * (1.0 - depth);
        col = col * (1.0 - core * 0.8) + fade * (c * glow * 0.3 + mix(c, vec3(1.0), 0.6) * core);
    }

    // Snare: a horizontal sweep line crosses the screen.
    col += pal(keyHue + 0.25) * la_snare * exp(-abs(uv.x - fract(TIME * 0.7)) * 60.0) * 0.6;
    // Phosphor vignette and scanlines.
    col *= 0.85 + 0.15 * sin(uv.y * RENDERSIZE.y * 1.5);
    col *= smoothstep(1.2, 0.3, length((uv - 0.5) * vec2(aspect, 1.0)));
    col = col / (1.0 + 0.3 * col);
    gl_FragColor = vec4(col, 1.0);
}
