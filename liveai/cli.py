"""``liveai``: the one command-line entry point.

Subcommands: ``run`` (the show), ``devices`` (find and test inputs), ``bench`` (benchmarks),
``measure`` (the soundcheck: room profile from a sweep), and more (``liveai --help``).
Errors a performer can fix print one line and exit non-zero (2 for a bad preset or setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any

from liveai import __version__
from liveai import log as liveai_log
from liveai.config import ShowConfig, build, load_show
from liveai.errors import ConfigError, LiveAIError, SourceError

log = logging.getLogger("liveai")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more log output (-vv for debug)")
    return p


def _parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="liveai", parents=[common],
        description="Live-show engine: listens to the music and drives the projector.",
    )
    parser.add_argument("--version", action="version", version=f"liveai {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", parents=[common], help="run the show",
                         description="Run the show: listen to the input (or the built-in demo "
                         "when there is none) and drive the projector.")
    run.add_argument("--preset", default="default",
                     help="preset name in presets/ or path to a .toml file (default: default)")
    run.add_argument("--headless", action="store_true",
                     help="no window: the projector renders offscreen (EGL)")
    run.add_argument("--seconds", type=_positive_seconds, default=None,
                     help="stop after this many seconds and print a summary")
    src = run.add_mutually_exclusive_group()
    src.add_argument("--input", help="input device: name substring or index (see 'liveai "
                     "devices'); a PulseAudio/PipeWire monitor source works too")
    src.add_argument("--file", help="play this audio file instead of an input")
    src.add_argument("--demo", action="store_true", help="play the built-in demo groove")
    run.add_argument("--output", help="output device for --duplex")
    run.add_argument("--duplex", action="store_true", help="open input and output (PA path)")
    run.add_argument("--channels", help="1-based input channels with the music, e.g. 1,2")
    run.add_argument("--block-size", type=int, help="frames per audio callback (32..2048)")
    run.add_argument("--sample-rate", type=int,
                     help="sample rate in Hz: 44100, 48000, 88200 or 96000")
    run.add_argument("--no-projector", action="store_true", help="audio and analysis only")
    run.add_argument("--fullscreen", action="store_true", help="projector fullscreen")
    run.add_argument("--monitor", help="projector monitor: name substring or index")
    run.add_argument("--osc-out", action="append", metavar="HOST:PORT",
                     help="send beats, tempo and levels over OSC there (repeatable)")
    run.add_argument("--osc-port", type=int, metavar="PORT",
                     help="listen for OSC control on this UDP port ('liveai osc tree' lists "
                     "the addresses)")
    run.add_argument("--oscquery-port", type=int, metavar="PORT",
                     help="serve the parameter namespace over OSCQuery (HTTP + websocket) on "
                     "this TCP port, at the --osc-bind address")
    run.add_argument("--osc-bind", metavar="ADDR",
                     help="address to listen on (default 127.0.0.1: this computer only; "
                     "0.0.0.0: every IPv4 network; '::': every network, IPv6 and IPv4)")

    dev = sub.add_parser("devices", parents=[common], help="list audio devices or test one",
                         description="List audio devices (and PulseAudio/PipeWire sources, "
                         "including monitors of what the computer plays), or record a few "
                         "seconds from one and show its level.")
    dev.add_argument("--test", metavar="NAME", nargs="?", const="",
                     help="record from this input (name substring or index; empty = default)")
    dev.add_argument("--seconds", type=_positive_seconds, default=2.0,
                     help="length of --test in seconds (default 2)")
    dev.add_argument("--channels", help="1-based channels to test, e.g. 1,2,3 (default: all, "
                     "up to 8)")
    dev.add_argument("--sample-rate", type=int, default=48000,
                     help="sample rate of --test in Hz (default 48000)")

    an = sub.add_parser("analyze", parents=[common], help="analyse an audio file",
                        description="Run the live analysis (the same streaming code, at the live "
                        "block size, as fast as possible) over a file and print tempo, beats, "
                        "downbeats and onsets. Beat times are the moments the live engine "
                        "fires its beat events, never revised with hindsight.")
    an.add_argument("file", help="audio file (anything libsndfile reads: wav, flac, ogg, ...)")
    an.add_argument("--json", action="store_true",
                    help="end with one JSON object on the last line of stdout")
    an.add_argument("--preset", default="default", help="preset whose audio/analysis settings "
                    "to use (default: default)")

    osc = sub.add_parser("osc", parents=[common], help="OSC control: the address tree",
                         description="OSC control of a running show.")
    osub = osc.add_subparsers(dest="osc", metavar="ACTION")
    osub.required = True
    otree = osub.add_parser("tree", parents=[common], help="print every OSC address",
                            description="Print every parameter's OSC address with its type, "
                            "range, unit, default and description.")
    otree.add_argument("--markdown", action="store_true",
                       help="as the Markdown table the README holds")
    otree.add_argument("--preset", default=None,
                       help="also list the inputs of this preset's scenes "
                       "(/liveai/scenes/<scene>/<input>)")

    midi = sub.add_parser("midi", parents=[common], help="list MIDI ports",
                          description="List the MIDI ports liveai can read controllers from "
                          "and send LEDs and clock to (JACK MIDI when a JACK server runs, "
                          "else ALSA); [midi] input/output match part of these names.")
    midi.add_argument("--backend", choices=("auto", "jack", "alsa"), default="auto")

    bench = sub.add_parser("bench", parents=[common], help="benchmarks",
                           description="Benchmarks; each prints liveai next to a reference.")
    bsub = bench.add_subparsers(dest="bench", metavar="BENCH")
    bsub.required = True
    ba = bsub.add_parser("audio", parents=[common], help="audio callback cost through JACK",
                         description="Stream through a JACK server (a private dummy-driver "
                         "server is started when none runs) and report the callback time per "
                         "block as a fraction of the block period, next to a bare reference "
                         "callback, with and without the projector rendering.")
    ba.add_argument("--seconds", type=_positive_seconds, default=60.0,
                    help="seconds per measurement row (default 60)")
    ba.add_argument("--block-size", type=int, default=128,
                    help="frames per callback and JACK period (default 128)")
    ba.add_argument("--sample-rate", type=int, default=48000,
                    help="sample rate in Hz (default 48000)")
    ba.add_argument("--fps", type=float, default=60.0, help="projector frame rate")
    ba.add_argument("--no-projector", action="store_true", help="skip the projector phase")
    bn = bsub.add_parser("analysis", parents=[common], help="analysis accuracy and speed vs aubio",
                         description="Score beats (F, CMLt, AMLt), onsets and downbeats with "
                         "mir_eval on the built-in demo groove and every annotated file (NAME.wav "
                         "with NAME.beats / NAME.onsets) under the data folders, next to aubio's "
                         "causal tempo and onset trackers on the same audio; then speed, latency "
                         "and start-up time.")
    bn.add_argument("--data", action="append", default=None, metavar="DIR",
                    help="folder of annotated audio, in addition to the shared data beside "
                    "the repository (repeatable)")
    bn.add_argument("--latency-seconds", type=_positive_seconds, default=10.0,
                    help="length of the real-time latency run (default 10)")
    bn.add_argument("--madmom", metavar="PYTHON", default=None,
                    help="also score madmom's online beat tracker, run by this interpreter "
                    "(make bench-madmom builds one: .cache/madmom-venv/bin/python)")
    bv = bsub.add_parser("visuals", parents=[common], help="projector Python time per frame",
                         description="Draw the show offscreen (EGL) with two scenes crossfading "
                         "and report the Python time per frame and the frame time, next to bare "
                         "moderngl calls drawing the same programs, and the cost of the frames "
                         "that start a scene switch.")
    bv.add_argument("--size", default="1920x1080", help="WxH (default 1920x1080)")
    bv.add_argument("--frames", type=int, default=240, help="frames per row (default 240)")
    bv.add_argument("--scene", action="append", default=None, metavar="FILE",
                    help="scene file to use (repeat; default: the first two of shaders/)")
    bc = bsub.add_parser("control", parents=[common], help="OSC control throughput and latency",
                         description="OSC messages per second handled with validation and "
                         "feedback, and the latency from an OSC message to the value in the "
                         "parameter snapshot (median, p99), next to python-osc's own server.")
    bc.add_argument("--messages", type=int, default=50_000,
                    help="datagrams per throughput row (default 50000)")
    bc.add_argument("--latency-samples", type=int, default=1000,
                    help="messages timed one by one per latency row (default 1000)")
    bm = bsub.add_parser("mixer", parents=[common], help="mixer chain and room estimator cost, "
                         "venue simulation", description="The mixer chain (stereo, 16 bands + "
                         "limiter) per block next to scipy.signal.sosfilt with carried state, as "
                         "a ratio and as % of one core; the room estimator's cost; and the "
                         "simulated venue's figures (estimate error, flatness before/after, crowd "
                         "error, time to converge).")
    bm.add_argument("--seconds", type=_positive_seconds, default=5.0,
                    help="seconds of audio per timing row (default 5)")
    bm.add_argument("--venue-seconds", type=float, default=50.0,
                    help="length of the simulated show; 0 skips it (default 50)")

    ms = sub.add_parser("measure", parents=[common], help="soundcheck: measure the room",
                        description="Play an exponential sine sweep (20 Hz - 20 kHz) through "
                        "the PA, record the room mic, and save a room profile (delay, RT60 per "
                        "octave band, 1/3-octave response) as JSON with a PNG plot beside it; "
                        "the live room estimate starts from it.")
    ms.add_argument("--preset", default="default",
                    help="preset whose audio devices and sample rate to use (default: default)")
    ms.add_argument("--output", help="output device feeding the PA (default: the preset's)")
    ms.add_argument("--input", help="input device with the measurement mic (default: the "
                    "preset's)")
    ms.add_argument("--mic-channel", type=int, default=None,
                    help="1-based input channel of the mic (default: the preset's [mixer] "
                    "mic_channel, else 1)")
    ms.add_argument("--seconds", type=_positive_seconds, default=6.0,
                    help="sweep length in seconds (default 6; longer = less noise)")
    ms.add_argument("--tail", type=_positive_seconds, default=2.0,
                    help="seconds recorded after the sweep for the reverb (default 2; at least "
                    "the hall's RT60)")
    ms.add_argument("--level-db", type=float, default=-12.0,
                    help="sweep peak in dBFS (default -12: start low, raise until the SNR is "
                    "good)")
    ms.add_argument("--sample-rate", type=int, help="sample rate in Hz (default: the preset's)")
    ms.add_argument("--out", default=None, metavar="DIR",
                    help="folder for room_profile.json and room_profile.png (default "
                    "~/.config/liveai/room)")

    sc = sub.add_parser("scenes", parents=[common], help="check and preview scene shaders",
                        description="Scene shaders: ISF 2.0 (.fs) and Shadertoy (.glsl).")
    ssub = sc.add_subparsers(dest="scenes", metavar="ACTION")
    ssub.required = True
    sck = ssub.add_parser("check", parents=[common], help="compile and test-render files",
                          description="Compile and test-render ISF (.fs) and Shadertoy (.glsl) "
                          "files offscreen; print 'OK <path>' or 'FAIL <path>: <reason>' per "
                          "file and exit 1 if any failed. Folders are searched for .fs/.glsl.")
    sck.add_argument("paths", nargs="+", metavar="PATH")
    sck.add_argument("--rules", action="store_true",
                     help="also list the compatibility rules that fired for each file")
    sls = ssub.add_parser("list", parents=[common], help="list the scenes a preset plays",
                          description="List the playlist of a preset (default: every scene in "
                          "shaders/) with each scene's kind and one-line description.")
    sls.add_argument("--preset", default="default")
    sth = ssub.add_parser("thumbs", parents=[common], help="render a thumbnail per scene",
                          description="Render each scene on a synthetic 120 BPM groove and "
                          "save a PNG thumbnail per scene.")
    sth.add_argument("paths", nargs="*", metavar="PATH",
                     help="scene files or folders (default: shaders/)")
    sth.add_argument("--out", default="thumbs", help="output folder (default: ./thumbs)")
    sth.add_argument("--size", default="320x180", help="WxH (default 320x180)")

    rn = sub.add_parser("render", parents=[common], help="render a track to frames or a video",
                        description="Run the analysis and the visual show over an audio file "
                        "offline (EGL, no screen needed), frame-exact with the audio: PNG frames "
                        "into a folder, or a video through ffmpeg when OUT ends in .mp4, .mov, "
                        ".mkv or .webm.")
    rn.add_argument("audio", metavar="AUDIO")
    rn.add_argument("--preset", default="default")
    rn.add_argument("--out", required=True, help="folder for PNG frames, or a video file name")
    rn.add_argument("--size", default="1280x720", help="WxH in pixels (default 1280x720)")
    rn.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    rn.add_argument("--seconds", type=_positive_seconds, default=None,
                    help="render only the first seconds")
    return parser


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e7:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _channels(text: str, flag: str) -> list[int]:
    try:
        return [int(c) for c in text.replace(" ", "").split(",") if c]
    except ValueError:
        raise ConfigError(f"command line: {flag} {text!r} should be channel numbers like "
                          "1,2") from None


def apply_overrides(config: ShowConfig, overrides: dict[str, Any]) -> ShowConfig:
    """Return ``config`` with dotted-key ``overrides`` applied, checked like preset values."""
    for key, value in overrides.items():
        if value is None:
            continue
        section_name, field_name = key.split(".")
        section = getattr(config, section_name)
        table = {**dataclasses.asdict(section), field_name: value}
        new_section = build(type(section), table, "command line", f"{section_name}.")
        config = dataclasses.replace(config, **{section_name: new_section})
    config.validate("command line")
    return config


def _cmd_run(args: argparse.Namespace) -> int:
    config, path = load_show(args.preset)  # before the heavy imports: a bad preset fails fast
    overrides: dict[str, Any] = {
        "audio.input": args.input,
        "audio.output": args.output,
        "audio.duplex": True if args.duplex else None,
        "audio.block_size": args.block_size,
        "audio.sample_rate_hz": args.sample_rate,
        "audio.input_channels": _channels(args.channels, "--channels") if args.channels else None,
        "projector.fullscreen": True if args.fullscreen else None,
        "projector.monitor": args.monitor,
        "osc_out.targets": args.osc_out,
        "control.osc_port": args.osc_port,
        "control.osc_bind": args.osc_bind,
        "control.oscquery_port": args.oscquery_port,
    }
    if args.input is not None:
        overrides["audio.source"] = "device"
    config = apply_overrides(config, overrides)
    from liveai.app import Engine, build_source, has_display

    # The source first: a missing device or file is one line, before anything else happens.
    source = build_source(config, demo=args.demo, file=args.file)
    log.info("preset %s (%s)", config.name, path)
    if args.demo:
        log.info("playing the built-in demo groove (--demo)")
    projector = config.projector.enabled and not args.no_projector
    headless = args.headless
    if projector and not headless and not has_display():
        log.warning("No screen found (DISPLAY and WAYLAND_DISPLAY are unset): the projector "
                    "renders offscreen. Run from a desktop session to see the window.")
        headless = True
    engine = Engine(config, source, headless=headless, projector=projector, preset=path)
    try:
        summary = engine.run(seconds=args.seconds)
    finally:
        engine.close()
    for line in summary.lines():
        print(line)
    if engine.projectors and summary.projector_frames == 0:
        print("liveai: the projector rendered no frames (see the log above)", file=sys.stderr)
        return 1
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from liveai.audio import devices as d

    if args.test is not None:
        from liveai.audio.check import check_input

        channels = _channels(args.channels, "--channels") if args.channels else None
        result = check_input(args.test, seconds=args.seconds, sample_rate_hz=args.sample_rate,
                            channels=channels)
        for line in result.lines():
            print(line)
        return 0
    devs = d.list_devices()
    pulse = d.pulse_devices(devs)
    if not devs and not pulse:
        print("No audio devices found. liveai runs on its built-in demo groove until an input "
              "appears: start JACK, PulseAudio or PipeWire, or connect an audio interface.")
        return 0
    if devs:
        print("Audio devices (use the index or part of the name with --input/--output):")
        print(f"  {'idx':>3}  {'name':<40} {'host API':<28} {'in':>3} {'out':>3}  rate")
        for dev in devs:
            flags = []
            if dev.is_default_input:
                flags.append("default in")
            if dev.is_default_output:
                flags.append("default out")
            extra = f"  ({', '.join(flags)})" if flags else ""
            print(f"  {dev.index:>3}  {dev.name[:40]:<40} {dev.hostapi[:28]:<28} "
                  f"{dev.max_input_channels:>3} {dev.max_output_channels:>3}  "
                  f"{dev.default_sample_rate_hz:.0f} Hz{extra}")
    if pulse:
        print("PulseAudio/PipeWire sources (use part of the name with --input):")
        for dev in pulse:
            kind = "monitor: what this computer plays" if dev.is_monitor else "input"
            print(f"       {dev.name}  ({kind})")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    import json

    config, _ = load_show(args.preset)
    from liveai.analysis.pipeline import EventLog
    from liveai.app import Engine
    from liveai.audio.sources import FileSource

    source = FileSource(args.file, block_size=config.audio.block_size, realtime=False)
    events = EventLog(source.sample_rate_hz, config.analysis.hop_length)
    engine = Engine(config, source, projector=False, on_frame=events.add)
    total = max(int(source.duration_s * source.sample_rate_hz), 1)
    show_progress = source.duration_s > 30 and sys.stderr.isatty()
    try:
        engine.start()
        while not engine.source_drained.wait(0.25):
            if show_progress:
                done = min(source.stats().frames / total, 1.0)
                bar = "#" * int(done * 30)
                print(f"\ranalysing {source.path.name} [{bar:<30}] {done:4.0%}", end="",
                      file=sys.stderr, flush=True)
    finally:
        engine.stop()
        engine.close()
    if show_progress:
        print(file=sys.stderr)
    if source.error:
        raise SourceError(f"{source.path}: {source.error}; no result written")
    if engine.analysis_errors:
        raise LiveAIError(f"{source.path}: the analysis failed on {engine.analysis_errors} "
                          "frames (see the log); no result written")
    result = events.as_dict()
    print(f"{source.description}")
    print(f"tempo: {result['bpm']:.1f} BPM; beats: {len(result['beats'])}; downbeats: "
          f"{len(result['downbeats'])}; onsets: {len(result['onsets'])}")
    print("beats (s): " + " ".join(f"{t:.3f}" for t in result["beats"][:16])
          + (" ..." if len(result["beats"]) > 16 else ""))
    if args.json:
        print(json.dumps(result))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from liveai.benchmarks import (
        DEFAULT_DATA_DIR,
        bench_analysis,
        bench_audio,
        bench_control,
        madmom_interpreter,
    )

    if args.bench == "visuals":
        from liveai.visuals.bench import bench_visuals

        if args.frames < 10:
            raise LiveAIError("--frames must be at least 10")
        for line in bench_visuals(_size(args.size), args.frames, args.scene):
            print(line)
        return 0
    if args.bench == "mixer":
        from liveai.benchmarks import bench_mixer

        for line in bench_mixer(seconds=args.seconds, venue_s=args.venue_seconds):
            print(line)
        return 0
    if args.bench == "control":
        if args.messages < 1 or args.latency_samples < 1:
            raise LiveAIError("--messages and --latency-samples must be at least 1")
        for line in bench_control(args.messages, args.latency_samples):
            print(line)
        return 0
    if args.bench == "analysis":
        dirs = [Path(d) for d in (args.data or [])]
        for d in dirs:
            if not d.is_dir():
                raise LiveAIError(f"--data {d}: no such folder")
        if args.madmom:  # before minutes of analysis, not after
            args.madmom = madmom_interpreter(args.madmom)
        if DEFAULT_DATA_DIR.is_dir():
            dirs.insert(0, DEFAULT_DATA_DIR)
        else:
            log.warning("no shared annotated data at %s: scoring the demo groove and --data "
                        "only", DEFAULT_DATA_DIR)
        for line in bench_analysis(dirs, latency_s=args.latency_seconds,
                                   madmom_python=args.madmom):
            print(line)
        return 0
    report = bench_audio(seconds=args.seconds, block_size=args.block_size,
                         sample_rate_hz=args.sample_rate, projector=not args.no_projector,
                         fps=args.fps)
    for line in report:
        print(line)
    return 0


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text}: give the size as WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ConfigError(f"--size {text}: width and height must be 16 to 8192 pixels")
    return w, h


def _cmd_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from liveai.render import progress_bar, render_track

    config, path = load_show(args.preset)
    if not 0 < args.fps <= 240:
        raise ConfigError(f"--fps {args.fps}: give 1 to 240 frames per second")
    result = render_track(Path(args.audio), config, args.out, _size(args.size), args.fps,
                          base_dir=path.parent, seconds=args.seconds,
                          progress=progress_bar("rendering"))
    print(f"rendered {result['frames']} frames ({result['seconds']:.1f} s of audio) to "
          f"{result['out']} in {result['wall_s']:.1f} s")
    return 0


def _cmd_scenes(args: argparse.Namespace) -> int:
    if args.scenes == "list":
        return _scenes_list(args)
    if args.scenes == "thumbs":
        return _scenes_thumbs(args)
    from liveai.visuals.check import check_files, expand_paths

    paths = expand_paths(args.paths)
    if not paths:
        raise LiveAIError("no .fs or .glsl files found in " + " ".join(args.paths))
    failed = 0
    for result in check_files(paths):
        print(result.line())
        failed += not result.ok
        if args.rules and result.ok:
            notes = [result.kind, "moves" if result.moves else "still",
                     "reacts to audio" if result.reacts else "ignores audio"]
            print("    " + ", ".join(notes))
            for rule in result.rules:
                print(f"    rule: {rule}")
    log.info("%d of %d scene files passed", len(paths) - failed, len(paths))
    return 1 if failed else 0

def _cmd_midi(args: argparse.Namespace) -> int:
    from liveai.control.midi import list_ports

    backend, inputs, outputs = list_ports(args.backend)
    print(f"MIDI backend: {backend}")
    print("controllers liveai can read ([midi] input):")
    print("\n".join(f"  {n}" for n in inputs) or "  none")
    print("ports liveai can send LEDs and clock to ([midi] output):")
    print("\n".join(f"  {n}" for n in outputs) or "  none")
    return 0


def _cmd_osc(args: argparse.Namespace) -> int:
    from liveai.params import engine_store

    store = engine_store()
    if args.preset:
        from liveai.visuals.controls import register_scene_parameters

        config, path = load_show(args.preset)
        register_scene_parameters(store, config.visuals, path.parent)
    print(store.tree_markdown() if args.markdown else store.tree_text())
    return 0



def _cmd_measure(args: argparse.Namespace) -> int:
    config, _ = load_show(args.preset)
    from liveai.mixer.soundcheck import analyse, default_profile_dir, run_sweep, write_outputs

    audio = config.audio
    sample_rate_hz = args.sample_rate or audio.sample_rate_hz
    if sample_rate_hz not in (44100, 48000, 88200, 96000):
        raise ConfigError(f"--sample-rate {sample_rate_hz}: use 44100, 48000, 88200 or 96000")
    tty = sys.stderr.isatty()
    last = {"t": 0.0}

    def progress(done: float, peak_db: float) -> None:
        import time

        now = time.monotonic()
        if done < 1.0 and now - last["t"] < (0.1 if tty else 1.0):
            return
        last["t"] = now
        bar = "#" * int(done * 30)
        line = f"measuring: sweep [{bar:<30}] {done:4.0%}  mic peak {peak_db:6.1f} dBFS"
        print(("\r" + line) if tty else line, end="" if tty and done < 1.0 else "\n",
              file=sys.stderr, flush=True)

    rec = run_sweep(output=args.output if args.output is not None else audio.output,
                    input=args.input if args.input is not None else audio.input,
                    mic_channel=(args.mic_channel if args.mic_channel is not None
                                 else config.mixer.mic_channel or 1),
                    output_channels=tuple(config.mixer.output_channels) or None,
                    sample_rate_hz=sample_rate_hz,
                    sweep_s=args.seconds, level_db=args.level_db, tail_s=args.tail,
                    block_size=audio.block_size, progress=progress)
    prof, _ = analyse(rec)
    json_path, png_path = write_outputs(prof, args.out or default_profile_dir())
    print(f"delay {prof.delay_ms:.1f} ms"
          + (f" (acoustic {prof.acoustic_delay_ms:.1f} ms = {prof.acoustic_delay_ms * 0.343:.1f}"
             " m; the rest is the interface)" if prof.acoustic_delay_ms >= 0 else "")
          + f"; SNR {prof.snr_db:.0f} dB; mic peak {prof.mic_peak_db:.1f} dBFS")
    print("RT60 (s): " + "  ".join(f"{b} Hz {'n/a' if v is None else f'{v:.2f}'}"
                                    for b, v in prof.rt60_s.items()))
    print(f"room profile: {json_path}")
    print(f"plot: {png_path}")
    return 0


def _scenes_list(args: argparse.Namespace) -> int:
    from liveai.visuals.isf import ShaderError
    from liveai.visuals.playlist import (
        all_scene_files,
        load_document,
        resolve_scene,
        scene_search_dirs,
    )

    config, path = load_show(args.preset)
    dirs = scene_search_dirs(config.visuals, path.parent)
    files = ([str(resolve_scene(s.file, dirs)) for s in config.visuals.scenes]
             if config.visuals.scenes else [str(p) for p in all_scene_files(dirs)])
    for f in files:
        try:
            doc = load_document(f)
        except ShaderError as exc:
            print(f"{f}: {exc.reason}")
            continue
        kind = getattr(doc, "kind", "shadertoy")
        print(f"{f}  [{kind}]  {doc.description}")
    return 0


def _scenes_thumbs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from liveai.visuals.check import expand_paths, render_thumbnails
    from liveai.visuals.playlist import PACKAGED_SHADERS_DIR

    paths = expand_paths(args.paths or [str(PACKAGED_SHADERS_DIR)])
    if not paths:
        raise LiveAIError("no .fs or .glsl files to render")
    failed = 0
    for src, result in render_thumbnails(paths, Path(args.out), _size(args.size)):
        if isinstance(result, Path):
            print(f"OK {src} -> {result}")
        else:
            print(f"FAIL {src}: {result}")
            failed += 1
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``liveai`` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    liveai_log.configure(args.verbose)
    handlers = {"run": _cmd_run, "devices": _cmd_devices, "analyze": _cmd_analyze,
                "bench": _cmd_bench, "osc": _cmd_osc, "midi": _cmd_midi, "scenes": _cmd_scenes,
                "render": _cmd_render, "measure": _cmd_measure}
    try:
        return handlers[args.command](args)
    except LiveAIError as exc:
        print(f"liveai: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if "library" not in str(exc):
            raise
        # sounddevice / soundfile could not load PortAudio / libsndfile.
        print(f"liveai: {exc}: run 'make setup' (it installs libportaudio2 and libsndfile1)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
