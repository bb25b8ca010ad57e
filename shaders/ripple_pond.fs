/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Ripple pond: a simulated water surface (wave equation in a persistent float buffer) where every predicted beat drops a stone, kicks hit harder, snares splash a second ring, hats sprinkle droplets and silence is a slow rain; the light refracts through the waves onto a glowing tiled floor",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive", "Simulation"],
    "INPUTS": [
        {"NAME": "dropSize", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 3.0, "LABEL": "Drop size"},
        {"NAME": "damping", "TYPE": "float", "DEFAULT": 0.985, "MIN": 0.9, "MAX": 0.998, "LABEL": "Wave life"},
        {"NAME": "refraction", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Refraction"},
        {"NAME": "waterColor", "TYPE": "color", "DEFAULT": [0.05, 0.35, 0.55, 1.0], "LABEL": "Water colour"},
        {"NAME": "glowColor", "TYPE": "color", "DEFAULT": [1.0, 0.45, 0.8, 1.0], "LABEL": "Floor glow"}
    ],
    "PASSES": [
        {"TARGET": "water", "PERSISTENT": true, "FLOAT": true, "WIDTH": "256", "HEIGHT": "floor(256.0*$HEIGHT/$WIDTH)"},
        {}
    ]
}*/

#define TAU 6.28318531

vec2 hash21v(float n) {
    return fract(sin(vec2(n * 12.9898, n * 78.233 + 1.7)) * 43758.5453);
}

float hash21(vec2 p) {
    p = fract(p * vec2(345.67, 456.78));
    p += dot(p, p + 45.6);
    return fract(p.x * p.y);
}

// A soft bump centred at c (both in aspect-corrected units).
float bump(vec2 p, vec2 c, float r) {
    vec2 d = p - c;
    return exp(-dot(d, d) / (r * r));
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / RENDERSIZE.y;
    vec2 p = vec2(uv.x * aspect, uv.y);

    if (PASSINDEX == 0) {
        vec2 px = 1.0 / RENDERSIZE;
        vec2 c = IMG_NORM_PIXEL(water, uv).rg;
        float n = IMG_NORM_PIXEL(water, uv + vec2(px.x, 0.0)).r
                + IMG_NORM_PIXEL(water, uv - vec2(px.x, 0.0)).r
                + IMG_NORM_PIXEL(water, uv + vec2(0.0, px.y)).r
                + IMG_NORM_PIXEL(water, uv - vec2(0.0, px.y)).r;
        // A fixed-size grid (256 wide) and a step scaled to the frame time keep the wave speed
        // the same at any output size and frame rate (30 fps is one full step).
        float k = clamp(TIMEDELTA * 30.0, 0.0, 1.0);
        float h = (2.0 * c.r - c.g + 0.45 * k * k * (n - 4.0 * c.r)) * pow(damping, k);

        float r0 = 0.025 * dropSize;
        float beatId = floor(la_beats + 0.5);
        // Stone on the predicted beat (position changes every beat).
        vec2 bp = (0.15 + 0.7 * hash21v(beatId)) * vec2(aspect, 1.0);
        h += 0.3 * la_beat_ahead * bump(p, bp, r0 * 1.3);
        // Kicks: a heavier stone near the centre.
        vec2 kp = (0.35 + 0.3 * hash21v(beatId + 31.0)) * vec2(aspect, 1.0);
        h -= 0.3 * la_kick * bump(p, kp, r0 * 1.6);
        // Snares: a ring-shaped splash.
        vec2 sp = (0.1 + 0.8 * hash21v(floor(la_beats * 2.0) + 77.0)) * vec2(aspect, 1.0);
        float sd = length(p - sp);
        h += 0.2 * la_snare * exp(-pow((sd - r0 * 2.5) / (r0 * 0.6), 2.0));
        // Hats: droplets at random spots each frame.
        vec2 hp = hash21v(float(FRAMEINDEX) * 1.37) * vec2(aspect, 1.0);
        h += 0.25 * la_hat * bump(p, hp, r0 * 0.5);
        // Silence: a slow rain so the pond stays alive.
        float rainT = TIME / 1.3;
        vec2 rp = (0.1 + 0.8 * hash21v(floor(rainT) + 500.0)) * vec2(aspect, 1.0);
        h += 0.12 * step(fract(rainT), 0.08) * bump(p, rp, r0 * 0.8) * (1.0 - la_level);
        gl_FragColor = vec4(h, c.r, 0.0, 1.0);
    } else {
        vec2 tx = 1.0 / IMG_SIZE(water);
        float hC = IMG_NORM_PIXEL(water, uv).r;
        float hx = IMG_NORM_PIXEL(water, uv + vec2(tx.x, 0.0)).r - IMG_NORM_PIXEL(water, uv - vec2(tx.x, 0.0)).r;
        float hy = IMG_NORM_PIXEL(water, uv + vec2(0.0, tx.y)).r - IMG_NORM_PIXEL(water, uv - vec2(0.0, tx.y)).r;
        vec2 g = vec2(hx, hy);
        // Refracted floor: tiles glowing with the bands, seen through the waves.
        vec2 fp = p * 9.0 + g * 6.0 * refraction;
        vec2 cell = floor(fp);
        vec2 f = fract(fp) - 0.5;
        float grout = smoothstep(0.44, 0.5, max(abs(f.x), abs(f.y)));
        int bi = int(floor(hash21(cell) * 8.0));
        float lit = la_bands[bi] * step(0.7, hash21(cell + 3.0));
        vec3 floorCol = waterColor.rgb * (0.35 + 0.25 * hash21(cell + 9.0));
        floorCol += glowColor.rgb * lit * 0.5 * (1.0 - grout);
        floorCol = mix(floorCol, waterColor.rgb * 0.15, grout);
        // Caustics: light gathers where the surface curves.
        float caust = clamp(-hC * 1.5 + length(g) * 3.0, 0.0, 1.0);
        vec3 col = floorCol * (0.6 + 0.6 * la_level_smooth) + vec3(0.7, 0.9, 1.0) * caust * caust * 0.4;
        // Specular glints from a light up and to the left.
        vec3 nrm = normalize(vec3(-g * 12.0, 1.0));
        vec3 l = normalize(vec3(-0.4, 0.5, 0.75));
        float spec = pow(max(dot(reflect(-l, nrm), vec3(0.0, 0.0, 1.0)), 0.0), 60.0);
        col += vec3(1.0) * spec * 0.8;
        col *= smoothstep(1.3, 0.4, length((uv - 0.5) * vec2(aspect, 1.0)));
        gl_FragColor = vec4(col, 1.0);
    }
}
