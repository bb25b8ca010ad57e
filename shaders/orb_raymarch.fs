/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Raymarched sound orb: a chrome-and-neon sphere that ripples with the bass, grows spikes on every kick, tumbles on the beat clock, lights one latitude stripe per frequency band, and sits in a halo ring drawn from the spectrum",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "ripple", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Ripple"},
        {"NAME": "spikes", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Kick spikes"},
        {"NAME": "tumble", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Tumble speed"},
        {"NAME": "glowColor", "TYPE": "color", "DEFAULT": [1.0, 0.3, 0.7, 1.0], "LABEL": "Glow colour"},
        {"NAME": "rimColor", "TYPE": "color", "DEFAULT": [0.2, 0.8, 1.0, 1.0], "LABEL": "Rim colour"}
    ]
}*/

#define TAU 6.28318531

mat3 rotXY(float a, float b) {
    float ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b);
    mat3 rx = mat3(1.0, 0.0, 0.0, 0.0, ca, -sa, 0.0, sa, ca);
    mat3 ry = mat3(cb, 0.0, sb, 0.0, 1.0, 0.0, -sb, 0.0, cb);
    return ry * rx;
}

float gRipple;
float gSpike;
float gT;

float map(vec3 p) {
    float r = length(p);
    vec3 n = p / max(r, 1e-4);
    float disp = gRipple * sin(5.0 * p.x + gT) * sin(5.0 * p.y + gT * 1.3) * sin(5.0 * p.z - gT * 0.7);
    float sp = abs(sin(7.0 * n.x) * sin(7.0 * n.y) * sin(7.0 * n.z));
    disp += gSpike * sp * sp * sp;
    return (r - 0.9 - disp) * 0.55;
}

vec3 calcNormal(vec3 p) {
    const vec2 k = vec2(1.0, -1.0);
    const float h = 0.003;
    return normalize(k.xyy * map(p + k.xyy * h) + k.yyx * map(p + k.yyx * h) +
                     k.yxy * map(p + k.yxy * h) + k.xxx * map(p + k.xxx * h));
}

// Spectrum on a log-frequency axis: x = 0 (lowest bins) .. 1 (top), with a gentle tilt
// so the highs (weaker in most music) still show.
float specLog(float x) {
    x = clamp(x, 0.0, 1.0);
    return IMG_NORM_PIXEL(la_spectrum, vec2(exp2(mix(1.0, 9.0, x)) / 512.0, 0.5)).r * (0.85 + 0.5 * x);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    gT = TIME * 1.5 + la_beats * 0.8;
    gRipple = ripple * (0.02 + 0.12 * la_bass_smooth + 0.06 * la_bass);
    gSpike = spikes * (0.04 * (0.5 + 0.5 * sin(TIME * 0.5)) + 0.45 * la_kick);

    float rl = length(p);
    // Background: deep gradient plus the spectrum halo ring around the orb.
    vec3 col = mix(vec3(0.05, 0.02, 0.08), vec3(0.0), smoothstep(0.0, 0.9, rl));
    float ang = atan(p.x, p.y);
    float bin = abs(ang) / 3.14159;
    float spec = specLog(bin);
    float haloR = 0.37 + 0.02 * la_beat_ahead;
    float halo = smoothstep(0.004, 0.0, abs(rl - haloR - 0.12 * spec * step(haloR, rl)) - 0.002)
               * step(haloR - 0.002, rl) * step(rl, haloR + 0.13 * spec + 0.004);
    float spokes = step(0.5, fract(bin * 48.0));
    col += mix(rimColor.rgb, glowColor.rgb, bin) * halo * 0.6;
    col += mix(rimColor.rgb, glowColor.rgb, bin) * spokes * step(haloR, rl) * step(rl, haloR + 0.12 * spec) * 0.5;
    col += glowColor.rgb * exp(-abs(rl - 0.3) * 12.0) * (0.1 + 0.5 * la_beat_ahead);

    vec3 ro = vec3(0.0, 0.0, -4.4);
    vec3 rd = normalize(vec3(p, 1.5));
    mat3 R = rotXY(tumble * (0.2 * TIME + 0.25 * la_beats), tumble * (0.3 * TIME + 0.15 * la_beats));
    ro = R * ro;
    rd = R * rd;

    // Cheap bound: skip the march where the ray misses the bounding sphere.
    float b = dot(ro, rd);
    float c = dot(ro, ro) - 1.6 * 1.6;
    float disc = b * b - c;
    if (disc > 0.0) {
        float t = max(-b - sqrt(disc), 0.0);
        float tEnd = -b + sqrt(disc);
        bool hit = false;
        for (int i = 0; i < 48; i++) {
            float d = map(ro + rd * t);
            if (d < 0.002) { hit = true; break; }
            t += d;
            if (t > tEnd) break;
        }
        if (hit) {
            vec3 pos = ro + rd * t;
            vec3 n = calcNormal(pos);
            vec3 l = normalize(R * vec3(-0.6, 0.7, -0.5));
            float diff = max(dot(n, l), 0.0);
            vec3 h = normalize(l - rd);
            float specl = pow(max(dot(n, h), 0.0), 40.0);
            float fres = pow(1.0 - max(dot(n, -rd), 0.0), 3.0);
            // Latitude stripes, one per band, in the orb's own frame.
            vec3 lp = pos;
            float lat = acos(clamp(lp.y / max(length(lp), 1e-4), -1.0, 1.0)) / 3.14159;
            int bi = int(clamp(floor(lat * 8.0), 0.0, 7.0));
            float stripe = smoothstep(0.12, 0.04, abs(fract(lat * 8.0) - 0.5));
            float bandGlow = la_bands[bi] * stripe;
            vec3 refl = reflect(rd, n);
            vec3 rl = transpose(R) * refl;
            vec3 env = mix(vec3(0.02, 0.01, 0.04), rimColor.rgb * 0.5, smoothstep(-0.3, 0.9, rl.y))
                     + glowColor.rgb * pow(max(rl.x, 0.0), 6.0) * 0.6;
            vec3 base = vec3(0.05, 0.045, 0.07) * (0.3 + diff) + env * 0.7;
            vec3 sc = base + vec3(1.0) * specl * 0.8 + rimColor.rgb * fres * (0.6 + la_high);
            sc += glowColor.rgb * bandGlow * (0.4 + 0.8 * la_level) * 1.2;
            sc += glowColor.rgb * la_beat_ahead * 0.25;
            col = sc;
        }
    }
    col = 1.0 - exp(-col * 1.4);
    gl_FragColor = vec4(col, 1.0);
}
