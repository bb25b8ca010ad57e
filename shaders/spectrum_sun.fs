/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Spectrum sun: a blazing disc whose rays are the live spectrum (bass at the top, highs below), the corona flares on onsets, the disc swells on the bass and flashes on the predicted beat, and light shafts stream out of it through a float HDR buffer",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "rayLength", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.2, "MAX": 2.5, "LABEL": "Ray length"},
        {"NAME": "shafts", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Light shafts"},
        {"NAME": "sunColor", "TYPE": "color", "DEFAULT": [1.0, 0.55, 0.15, 1.0], "LABEL": "Sun colour"},
        {"NAME": "skyColor", "TYPE": "color", "DEFAULT": [0.25, 0.05, 0.35, 1.0], "LABEL": "Sky colour"},
        {"NAME": "rotation", "TYPE": "float", "DEFAULT": 0.2, "MIN": -2.0, "MAX": 2.0, "LABEL": "Rotation"}
    ],
    "PASSES": [
        {"TARGET": "sunBuffer", "FLOAT": true, "WIDTH": "floor($WIDTH/2.0)", "HEIGHT": "floor($HEIGHT/2.0)"},
        {}
    ]
}*/

#define PI 3.14159265
#define TAU 6.28318531

vec2 centreUV() {
    return vec2(0.5, 0.5);
}

// Spectrum on a log-frequency axis: x = 0 (lowest bins) .. 1 (top), with a gentle tilt
// so the highs (weaker in most music) still show.
float specLog(float x) {
    x = clamp(x, 0.0, 1.0);
    return IMG_NORM_PIXEL(la_spectrum, vec2(exp2(mix(1.0, 9.0, x)) / 512.0, 0.5)).r * (0.85 + 0.5 * x);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    // Use the output aspect in both passes (the buffer is half size, same aspect).
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    vec2 p = (uv - centreUV()) * vec2(aspect, 1.0);
    float r = length(p);

    if (PASSINDEX == 0) {
        // HDR sun: values well above 1 so the shafts carry real energy.
        float discR = 0.13 + 0.04 * la_bass_smooth + 0.03 * la_kick + 0.015 * sin(TIME * 0.8);
        float ang = atan(p.x, p.y) + rotation * (0.1 * TIME + 0.05 * la_beats);
        float m = abs(mod(ang + PI, TAU) - PI) / PI;          // 0 at the top .. 1 at the bottom
        float bins = 28.0;
        float bi = floor(m * bins);
        float s = specLog((bi + 0.5) / bins);
        float idle = 0.15 + 0.1 * sin(TIME * 1.7 + bi * 0.9) * sin(TIME * 0.6 + bi * 0.3);
        float len = rayLength * (0.04 + 0.32 * max(s * s * (0.6 + 0.6 * la_level), idle * (1.0 - la_level)));
        float fr = fract(m * bins);
        float rayFade = clamp(1.0 - (r - discR) / max(len, 1e-3), 0.0, 1.0);
        float halfW = 0.12 + 0.3 * rayFade;
        float rayMask = smoothstep(halfW, halfW - 0.08, abs(fr - 0.5));
        float ray = rayMask * smoothstep(discR + len, discR + len - 0.015, r) * step(discR, r);
        vec3 col = vec3(0.0);
        vec3 rayCol = mix(sunColor.rgb, vec3(1.0, 0.2, 0.5), m);
        col += rayCol * ray * (0.4 + 1.2 * rayFade);
        float disc = smoothstep(discR, discR - 0.006, r);
        col += mix(sunColor.rgb, vec3(1.0, 0.95, 0.8), 1.0 - r / discR) * disc * (1.3 + 2.0 * la_beat_ahead);
        // Corona flare on onsets.
        col += sunColor.rgb * exp(-(r - discR) * (14.0 - 6.0 * la_onset)) * (0.15 + 0.8 * la_onset) * step(discR, r);
        // Sun stripes (retro cuts through the lower half of the disc).
        float cut = step(p.y, -0.02) * step(0.6, fract(p.y * 30.0 - TIME * 0.5 - la_beats * 0.5));
        col *= 1.0 - cut * disc * 0.9;
        gl_FragColor = vec4(col, 1.0);
    } else {
        // Radial light shafts: march from the pixel toward the sun, summing the HDR buffer.
        vec3 sum = vec3(0.0);
        vec2 dir = (centreUV() - uv);
        float decay = 1.0;
        float weightSum = 0.0;
        for (int i = 0; i < 24; i++) {
            float f = float(i) / 24.0;
            vec2 s = uv + dir * f * 0.6;
            sum += IMG_NORM_PIXEL(sunBuffer, s).rgb * decay;
            weightSum += decay;
            decay *= 0.93;
        }
        sum /= weightSum;
        vec3 direct = IMG_NORM_PIXEL(sunBuffer, uv).rgb;
        vec3 sky = mix(skyColor.rgb * 0.6, vec3(0.01, 0.0, 0.03), smoothstep(0.0, 0.9, r));
        sky += skyColor.rgb * 0.3 * la_level_smooth * exp(-r * 2.0);
        // Rings of heat shimmer expand on each beat.
        float wave = exp(-abs(r - 0.2 - la_beat_phase * 0.8) * 30.0) * (1.0 - la_beat_phase) * step(0.5, la_bpm);
        sky += sunColor.rgb * wave * 0.25;
        vec3 col = sky + direct + sum * shafts * (0.25 + 0.35 * la_level);
        col = 1.0 - exp(-col * 1.0);
        gl_FragColor = vec4(col, 1.0);
    }
}
