"""The engineer's view of the adaptive mixer: a local web page with live plots.

:class:`MixerView` serves, from a thread of the engine process, on ``127.0.0.1`` by default:

- ``/mixer``: one self-contained HTML page (inline script and canvas plots, nothing fetched
  from the internet: the show machine may be offline). It polls ``/mixer.json`` twice a second
  and draws the room response with the EQ curve and the corrected result, the coherence per
  band, the band gains (in force and wanted), the crowd and music levels at the mic over time,
  the gain changes, the limiter's gain reduction, and the log of automatic changes with their
  reasons;
- ``/mixer.json``: the latest report of the mixer (:meth:`LiveMixer.publish`), the history of
  its levels (:attr:`LiveMixer.history`) and every change kept, as plain JSON (non-finite
  numbers become ``null``).

The page only reads. Taking control back goes through the parameters (``/liveai/mixer/...``,
OSC or a tablet) as before.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Fields of one :attr:`LiveMixer.history` row.
HISTORY_FIELDS = ("t_s", "crowd_level_db", "music_level_db", "gain_db", "limiter_gain_db")


def _clean(v: Any) -> Any:
    """JSON-ready: arrays to lists, floats rounded to 0.01, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_clean(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return round(f, 2) if math.isfinite(f) else None
    return v


def view_state(live) -> dict:
    """What the page draws, from a :class:`~liveai.mixer.live.LiveMixer` (any thread).

    Returns
    -------
    dict
        ``report`` (the last published report), ``history`` (field → list over time, fields
        :data:`HISTORY_FIELDS`), ``changes`` (every kept change: time s, what, why), ``counts``.
    """
    report = dict(live.last_report)  # replaced whole by the room thread: a consistent set
    rows = list(live.history)
    history = {name: [r[i] for r in rows] for i, name in enumerate(HISTORY_FIELDS)}
    changes = list(live.mixer.changes)
    report.pop("changes", None)
    c = live.counts
    return _clean({"report": report, "history": history, "changes": changes,
                   "counts": {"blocks": int(c[0]), "chain_errors": int(c[1]),
                              "ring_drops": int(c[3]), "room_errors": live.room_errors}})


class _Handler(BaseHTTPRequestHandler):
    server_version = "liveai-mixer-view"

    def do_GET(self) -> None:  # http.server calls it by this name
        path = self.path.split("?", 1)[0]
        if path in ("/", "/mixer/"):
            self.send_response(302)
            self.send_header("Location", "/mixer")
            self.end_headers()
            return
        if path == "/mixer":
            self._send(PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/mixer.json":
            try:
                body = json.dumps(view_state(self.server.live), allow_nan=False)
            except Exception:  # the page shows "no data"; the show goes on
                log.warning("mixer view: the state could not be encoded", exc_info=True)
                self.send_error(500, "mixer state unavailable")
                return
            self._send(body.encode(), "application/json")
        else:
            self.send_error(404, "not here: try /mixer")

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: Any) -> None:  # requests are not news
        log.debug("mixer view: " + fmt, *args)


class MixerView:
    """The page's HTTP server, in a daemon thread.

    Parameters
    ----------
    live : LiveMixer
        Whose estimates to show.
    port : int
        TCP port (0 = any free one; :attr:`port` tells which).
    host : str
        Address to listen on (default: this machine only).
    """

    def __init__(self, live, port: int = 8765, host: str = "127.0.0.1") -> None:
        self.live = live
        self.host = host
        self._server = ThreadingHTTPServer((host, int(port)), _Handler)
        self._server.daemon_threads = True
        self._server.live = live
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{self.host}:{self.port}/mixer"

    def start(self) -> None:
        """Serve until :meth:`stop`."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.25,),
                                        name="liveai-mixer-view", daemon=True)
        self._thread.start()
        log.info("mixer view on %s", self.url)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5.0)
            self._thread = None
        self._server.server_close()


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>liveai mixer</title>
<style>
body{background:#111;color:#ddd;font:13px system-ui,sans-serif;margin:10px}
h1{font-size:16px;margin:0 0 6px} h2{font-size:13px;margin:4px 0;color:#aaa}
#status span{display:inline-block;margin-right:14px} .big{font-size:15px;color:#fff}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:10px}
.panel{background:#1a1a1a;border:1px solid #333;padding:6px} canvas{width:100%;height:220px}
table{border-collapse:collapse;width:100%} td{padding:2px 6px;border-bottom:1px solid #2a2a2a}
#log{max-height:260px;overflow-y:auto} .stale{color:#f66}
</style></head><body>
<h1>liveai adaptive mixer</h1>
<div id="status">waiting for the engine…</div>
<div class="grid">
 <div class="panel"><h2>Room response (grey: trust by coherence), EQ (blue), room + EQ (white),
  target (dashed)</h2><canvas id="resp"></canvas></div>
 <div class="panel"><h2>Coherence per band (0..1)</h2><canvas id="coh"></canvas></div>
 <div class="panel"><h2>Band gains: in force (bars), wanted (dots)</h2>
  <canvas id="bands"></canvas></div>
 <div class="panel"><h2>Levels at the mic: music (white), crowd (orange, once measured), dBFS</h2>
  <canvas id="crowd"></canvas></div>
 <div class="panel"><h2>Gain (green) and limiter gain reduction (red), dB</h2>
  <canvas id="gain"></canvas></div>
 <div class="panel"><h2>Automatic and manual changes, newest first</h2>
  <div id="log"><table id="changes"></table></div></div>
</div>
<script>
"use strict";
const C = {grid:"#333", text:"#888", white:"#eee", blue:"#4af", orange:"#f94",
           green:"#5d5", red:"#f55", grey:"#777"};
function setup(id){
  const c=document.getElementById(id), r=window.devicePixelRatio||1;
  c.width=c.clientWidth*r; c.height=c.clientHeight*r;
  const g=c.getContext("2d"); g.scale(r,r);
  return {g:g, w:c.clientWidth, h:c.clientHeight};
}
function frame(p, xlo, xhi, ylo, yhi, logx, xticks, yticks, unit){
  const L=40, R=8, T=6, B=18, g=p.g;
  g.clearRect(0,0,p.w,p.h); g.font="10px sans-serif"; g.lineWidth=1;
  const fx = logx ? (v=>L+(Math.log(v/xlo)/Math.log(xhi/xlo))*(p.w-L-R))
                  : (v=>L+(v-xlo)/(xhi-xlo)*(p.w-L-R));
  const fy = v=>T+(yhi-Math.max(ylo,Math.min(yhi,v)))/(yhi-ylo)*(p.h-T-B);
  g.strokeStyle=C.grid; g.fillStyle=C.text;
  for(const x of xticks){ g.beginPath(); g.moveTo(fx(x),T); g.lineTo(fx(x),p.h-B); g.stroke();
    g.fillText(x>=1000? (x/1000)+"k" : String(Math.round(x*10)/10), fx(x)-8, p.h-5); }
  for(const y of yticks){ g.beginPath(); g.moveTo(L,fy(y)); g.lineTo(p.w-R,fy(y)); g.stroke();
    g.fillText(y+(unit||""), 2, fy(y)+3); }
  return {fx:fx, fy:fy, g:g};
}
function line(a, xs, ys, color, dash, alphas){
  const g=a.g; g.strokeStyle=color; g.lineWidth=1.6; g.setLineDash(dash||[]);
  let pen=false;
  for(let i=0;i<xs.length;i++){
    const y=ys[i];
    if(y===null||xs[i]===null){pen=false; continue;}
    if(alphas){ // segment by segment, faded where the data is not trusted
      if(pen){ g.globalAlpha=Math.max(0.12, alphas[i]); g.beginPath();
        g.moveTo(a.fx(xs[i-1]),a.fy(ys[i-1])); g.lineTo(a.fx(xs[i]),a.fy(y)); g.stroke(); }
      pen=true; continue;
    }
    if(!pen){ g.beginPath(); g.moveTo(a.fx(xs[i]),a.fy(y)); pen=true; }
    else g.lineTo(a.fx(xs[i]),a.fy(y));
    if(i===xs.length-1||ys[i+1]===null) g.stroke();
  }
  g.globalAlpha=1; g.setLineDash([]);
}
const FT=[31.5,63,125,250,500,1000,2000,4000,8000,16000];
function range(vals, pad, lo, hi){
  const v=vals.filter(x=>x!==null&&isFinite(x));
  if(!v.length) return [lo,hi];
  return [Math.min(lo,Math.floor((Math.min(...v)-pad)/6)*6),
          Math.max(hi,Math.ceil((Math.max(...v)+pad)/6)*6)];
}
function ticks(lo,hi,step){ const t=[]; for(let y=Math.ceil(lo/step)*step;y<=hi;y+=step) t.push(y);
  return t; }
function draw(s){
  const r=s.report, f=r.freqs_hz;
  if(!f){ return; }
  const fl=f[0], fh=f[f.length-1];
  // response: centred on its mean over the bands, so EQ and target share the axis
  const ok=r.response_db.filter(v=>v!==null); const mean=ok.reduce((a,b)=>a+b,0)/(ok.length||1);
  const resp=r.response_db.map(v=>v===null?null:v-mean);
  const sum=resp.map((v,i)=>v===null||r.eq_db[i]===null?null:v+r.eq_db[i]);
  let [lo,hi]=range(resp.concat(r.eq_db,sum),2,-12,12);
  let a=frame(setup("resp"),fl,fh,lo,hi,true,FT,ticks(lo,hi,6)," dB");
  line(a,f,r.target_db,C.grey,[5,4]);
  line(a,f,resp,C.grey,null,r.coherence);
  line(a,f,r.eq_db,C.blue); line(a,f,sum,C.white,null,r.coherence);
  a=frame(setup("coh"),fl,fh,0,1,true,FT,[0,0.2,0.5,0.8,1]);
  a.g.fillStyle=C.blue;
  f.forEach((x,i)=>{ const c=r.coherence[i]; if(c===null) return;
    const x0=a.fx(x/1.06), x1=a.fx(x*1.06); a.g.fillRect(x0,a.fy(c),x1-x0,a.fy(0)-a.fy(c)); });
  const bf=r.band_freqs_hz||[], bg=r.band_gains_db||[], bw=r.wanted_gains_db||[];
  [lo,hi]=range(bg.concat(bw),1,-6,6);
  a=frame(setup("bands"),Math.min(fl,bf[0]||fl),Math.max(fh,bf[bf.length-1]||fh),lo,hi,true,FT,
          ticks(lo,hi,3)," dB");
  bf.forEach((x,i)=>{ const v=bg[i]; if(v===null) return;
    a.g.fillStyle = v>=0 ? C.orange : C.blue;
    const x0=a.fx(x/1.04), x1=a.fx(x*1.04), y0=a.fy(0), y1=a.fy(v);
    a.g.fillRect(x0,Math.min(y0,y1),x1-x0,Math.abs(y1-y0));
    if(bw[i]!==null){ a.g.fillStyle=C.white; a.g.fillRect(a.fx(x)-2,a.fy(bw[i])-2,4,4); } });
  const h=s.history, t=h.t_s||[];
  const tl = t.length? t[0] : 0, th = t.length? Math.max(t[t.length-1], tl+1) : 1;
  const tt = ticks(tl, th, Math.max(10, Math.round((th-tl)/6/10)*10));
  [lo,hi]=range(h.crowd_level_db.concat(h.music_level_db),3,-60,-30);
  a=frame(setup("crowd"),tl,th,lo,hi,false,tt,ticks(lo,hi,10)," dB");
  line(a,t,h.music_level_db,C.white); line(a,t,h.crowd_level_db,C.orange);
  [lo,hi]=range(h.gain_db.concat(h.limiter_gain_db),1,-6,6);
  a=frame(setup("gain"),tl,th,lo,hi,false,tt,ticks(lo,hi,3)," dB");
  line(a,t,h.gain_db,C.green); line(a,t,h.limiter_gain_db,C.red);
  const rows=s.changes.slice().reverse().map(c=>"<tr><td>"+c[0].toFixed(1)+" s</td><td>"+
    esc(c[1])+"</td><td>"+esc(c[2])+"</td></tr>");
  document.getElementById("changes").innerHTML=rows.join("");
  const fmt=(v,d)=>v===null||v===undefined?"–":v.toFixed(d===undefined?1:d);
  document.getElementById("status").innerHTML=
    "<span class=big>gain "+fmt(r.gain_db)+" dB</span>"+
    "<span class=big>crowd "+(r.crowd_valid? fmt(r.crowd_level_db)+" dBFS" :
      "not measured yet")+"</span>"+
    "<span>music "+fmt(r.music_level_db)+" dBFS</span>"+
    "<span>limiter "+fmt(r.limiter_gain_db)+" dB</span>"+
    "<span>delay "+fmt(r.delay_ms)+" ms</span><span>model explains "+fmt(r.erle_db)+" dB</span>"+
    "<span>"+(r.bypass?"<b class=stale>BYPASS</b>":"in circuit")+"</span>"+
    "<span>"+(r.locked?"EQ locked":"EQ adapting")+"</span>"+
    "<span>"+fmt(r.seconds,0)+" s analysed</span>";
}
function esc(x){ return String(x).replace(/[&<>]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;"}[c])); }
let last=null;
async function poll(){
  try{
    const res=await fetch("/mixer.json",{cache:"no-store"});
    if(res.ok){ last=await res.json(); draw(last); }
  }catch(e){
    document.getElementById("status").innerHTML="<span class=stale>engine not answering</span>";
  }
  setTimeout(poll,500);
}
window.addEventListener("resize",()=>{ if(last) draw(last); });
poll();
</script></body></html>
"""
