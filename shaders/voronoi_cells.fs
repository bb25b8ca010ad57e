/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Living cells: a drifting Voronoi mosaic where every cell is an equaliser lamp filled by its band, edges glow and widen on onsets, kicks make the cells breathe, cells pop white on the predicted beat and the whole sheet zooms through the bar",
    "CREDIT": "liveai",
    "CATEGORIES": ["liveai", "Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "cellScale", "TYPE": "float", "DEFAULT": 6.0, "MIN": 2.0, "MAX": 16.0, "LABEL": "Cell count"},
        {"NAME": "drift", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 3.0, "LABEL": "Drift"},
        {"NAME": "edgeColor", "TYPE": "color", "DEFAULT": [0.3, 0.9, 1.0, 1.0], "LABEL": "Edge colour"},
        {"NAME": "hueShift", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue shift"},
        {"NAME": "reactivity", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Reactivity"}
    ]
}*/

#define TAU 6.28318531

vec2 hash22(vec2 p) {
    vec3 q = fract(vec3(p.xyx) * vec3(0.1031, 0.1030, 0.0973));
    q += dot(q, q.yzx + 33.33);
    return fract((q.xx + q.yz) * q.zy);
}

void main() {
    vec2 res = RENDERSIZE;
    vec2 uv = (isf_FragNormCoord - 0.5) * vec2(res.x / res.y, 1.0);
    float react = reactivity;
    // The sheet zooms a little through the bar and snaps back on the downbeat.
    float zoom = 1.0 + 0.25 * react * la_bar_phase * step(0.5, la_bpm);
    vec2 p = uv * cellScale / zoom + vec2(0.3, 0.15) * TIME * 0.2 * drift;

    vec2 ip = floor(p);
    vec2 fp = fract(p);
    float d1 = 10.0, d2 = 10.0;
    vec2 id1 = vec2(0.0);
    vec2 rel1 = vec2(0.0);
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            vec2 o = vec2(float(i), float(j));
            vec2 h = hash22(ip + o);
            // Seeds wander; kicks make them breathe toward the cell centres.
            vec2 s = 0.5 + 0.4 * sin(TIME * 0.6 * drift + TAU * h) * (1.0 - 0.5 * react * la_kick);
            vec2 r = o + s - fp;
            float d = dot(r, r);
            if (d < d1) { d2 = d1; d1 = d; id1 = ip + o; rel1 = r; }
            else if (d < d2) { d2 = d; }
        }
    }
    d1 = sqrt(d1);
    d2 = sqrt(d2);
    float edge = d2 - d1;                // 0 on the cell borders

    vec2 h = hash22(id1 + 17.0);
    int band = int(floor(h.x * 8.0));
    float lvl = smoothstep(0.2, 1.0, la_bands[band]);
    float idle = 0.25 + 0.2 * sin(TIME * 0.8 + h.y * TAU);
    float fill = max(lvl * react, idle * (1.0 - la_level));

    float hue = hueShift + float(band) / 8.0 * 0.7 + 0.03 * TIME;
    vec3 cellCol = 0.5 + 0.5 * cos(TAU * (hue + vec3(0.0, 0.33, 0.67)));
    // The lamp: fills from the centre outward with the band level.
    float lamp = smoothstep(fill * 0.55 + 0.02, fill * 0.55 - 0.02, 0.5 - edge * 0.5 + d1 * 0.0 - (0.5 - fill * 0.5) * 0.0);
    lamp = smoothstep(0.0, 0.04, edge - (1.0 - fill) * 0.45);
    vec3 col = cellCol * (0.08 + 0.85 * lamp * (0.5 + 0.5 * (1.0 - d1)));

    // Edges: glow, wider on onsets.
    float ew = 0.03 + 0.1 * react * la_onset;
    col += edgeColor.rgb * (smoothstep(ew, 0.0, edge) + 0.3 * exp(-edge * 12.0)) * (0.4 + 0.6 * la_level);
    // Pop: a random subset of cells goes white on the predicted beat.
    float pop = step(h.y, 0.25) * la_beat_ahead * react;
    col = mix(col, vec3(1.0), pop * smoothstep(0.0, 0.05, edge) * 0.8);
    // Hats: tiny sparks at the seeds.
    col += vec3(1.0) * smoothstep(0.06, 0.0, d1) * (0.2 + la_hat * react);

    col *= smoothstep(1.4, 0.4, length(uv));
    gl_FragColor = vec4(col, 1.0);
}
