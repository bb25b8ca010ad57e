/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Feedback comets: three comets trace Lissajous paths on the beat clock and leave colour-shifting trails that zoom outward with the bass and swirl one way then the other each bar; a waveform ring bursts on the predicted beat and hats scatter sparks",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive", "Feedback"],
    "INPUTS": [
        {"NAME": "trailLength", "TYPE": "float", "DEFAULT": 0.93, "MIN": 0.7, "MAX": 0.99, "LABEL": "Trail length"},
        {"NAME": "zoomAmount", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Zoom"},
        {"NAME": "swirl", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Swirl"},
        {"NAME": "hueDrift", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Colour drift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ],
    "PASSES": [
        {"TARGET": "trails", "PERSISTENT": true},
        {}
    ]
}*/

#define TAU 6.28318531

float hash21(vec2 p) {
    p = fract(p * vec2(317.13, 519.77));
    p += dot(p, p + 31.7);
    return fract(p.x * p.y);
}

vec3 hueRotate(vec3 c, float a) {
    // Rotation about the grey axis.
    const vec3 k = vec3(0.57735);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}

vec2 comet(float i, float t) {
    return vec2(0.55 * sin(t * (0.9 + 0.2 * i) + i * 2.1), 0.36 * sin(t * (1.3 + 0.15 * i) + i * 1.3));
}

void main() {
    vec2 res = RENDERSIZE;
    float aspect = res.x / res.y;
    vec2 uv = isf_FragNormCoord;
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
    float react = reactivity;

    if (PASSINDEX == 0) {
        // Feedback: sample the previous frame slightly closer to the centre (content flows out),
        // rotated; the swirl changes direction each bar.
        float dir = mod(floor(la_beats / 4.0), 2.0) * 2.0 - 1.0;
        float zoom = 1.0 - (0.006 + 0.03 * react * la_bass + 0.02 * react * la_kick) * zoomAmount;
        float ang = swirl * (0.004 + 0.02 * react * la_level_smooth) * dir;
        float kf = clamp(TIMEDELTA * 30.0, 0.0, 2.0);
        zoom = 1.0 - (1.0 - zoom) * kf;
        ang *= kf;
        float ca = cos(ang), sa = sin(ang);
        vec2 q = mat2(ca, -sa, sa, ca) * p * zoom;
        vec2 fuv = q / vec2(aspect, 1.0) + 0.5;
        vec3 prev = IMG_NORM_PIXEL(trails, fuv).rgb;
        // Per-frame amounts are given for 30 fps and scaled to the real frame time.
        float k = clamp(TIMEDELTA * 30.0, 0.0, 2.0);
        prev = hueRotate(prev, 0.03 * hueDrift * k);
        prev = max(prev * pow(trailLength, k) - 1.5 / 255.0, 0.0);

        vec3 add = vec3(0.0);
        float t = TIME * 0.7 + 0.6 * la_beats;
        float tPrev = t - 0.7 * max(TIMEDELTA, 0.0) * (1.0 + 1.5 * step(0.5, la_bpm));
        for (int i = 0; i < 4; i++) {
            float fi = float(i);
            vec2 c = comet(fi, t);
            vec2 c0 = comet(fi, tPrev);
            // Distance to the segment travelled since the last frame: unbroken trails.
            vec2 ab = c - c0;
            float h = clamp(dot(p - c0, ab) / max(dot(ab, ab), 1e-6), 0.0, 1.0);
            float d = length(p - c0 - ab * h);
            float size = 0.016 + 0.03 * react * la_bands[i * 2];
            vec3 cc = 0.5 + 0.5 * cos(TAU * (fi / 4.0 + 0.05 * TIME + vec3(0.0, 0.33, 0.67)));
            add += cc * smoothstep(size, size * 0.3, d) * 1.3;
        }
        // Waveform ring on the predicted beat.
        float r = length(p);
        float a = atan(p.y, p.x);
        float w = IMG_NORM_PIXEL(la_waveform, vec2(a / TAU + 0.5, 0.5)).r - 0.5;
        float ringR = 0.12 + 0.3 * w * react;
        float ring = smoothstep(0.008, 0.0, abs(r - ringR)) * (0.15 + react * la_beat_ahead);
        add += vec3(1.0, 0.9, 0.8) * ring;
        // Hat sparks.
        vec2 gs = uv * vec2(64.0, 36.0);
        vec2 g = floor(gs);
        float sp = step(0.99, hash21(g + floor(TIME * 20.0))) * la_hat * react
                 * smoothstep(0.3, 0.1, length(fract(gs) - 0.5));
        add += vec3(0.8, 0.9, 1.0) * sp;
        gl_FragColor = vec4(max(prev, add), 1.0);
    } else {
        // Display: slight chromatic split growing with the snare, vignette.
        vec2 dir = (uv - 0.5) * (0.004 + 0.02 * reactivity * la_snare);
        vec3 col;
        col.r = IMG_NORM_PIXEL(trails, uv + dir).r;
        col.g = IMG_NORM_PIXEL(trails, uv).g;
        col.b = IMG_NORM_PIXEL(trails, uv - dir).b;
        col *= smoothstep(1.3, 0.4, length(p));
        gl_FragColor = vec4(col, 1.0);
    }
}
