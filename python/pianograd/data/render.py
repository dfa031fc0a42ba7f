"""The "real" audio: an independent sampled piano (FluidSynth + Debian's FluidR3 GM SoundFont,
program 0 = Acoustic Grand Piano) rendering MIDI at 16 kHz mono.

FluidSynth is run as a CLI (Debian package `fluidsynth`; scripts/bootstrap.sh installs it with
`fluid-soundfont-gm`). It writes 32-bit float stereo, so nothing clips inside FluidSynth; we average
the two channels to mono, trim or zero-pad to exactly round((duration + tail_s) * sample_rate)
samples, check the peak, and store 16-bit PCM WAV. The gain (FluidSynth's master gain, default 0.5
here; FluidSynth's own default is 0.2) was chosen so dense pedalled chords stay well below full scale
(the demo set peaks around 0.3-0.5); a render whose peak reaches CLIP_LEVEL raises ClippingError
rather than writing a clipped file. Reverb is FluidSynth's default room (as a recording would have
some), chorus is off. Rendering is deterministic: the same MIDI gives the same samples.

Other pianos (issue 15, item 4): RenderConfig.soundfont names any SoundFont file and bank/program pick
its preset. The preset is chosen with FluidSynth's `select` command before the song starts (the MIDI
file's own program change is then left out and the player told not to reset the synth), because our
MIDI writer emits no bank select. Two sound fonts are reserved for judging held-out instruments and are
refused here by name, so no code path can train, tune or select a model on them (RESERVED_SOUNDFONTS).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from .._core import MAX_KEY, MIN_KEY, Note, Performance

PathLike = Union[str, Path]
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                        "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
CLIP_LEVEL = 0.999
# Sound fonts kept for judging on pianos this project never heard: never rendered here (by file name,
# before and after resolving links, case-insensitively).
RESERVED_SOUNDFONTS = ("musescore_general", "musescore-general", "timgm6mb")


class FluidSynthMissing(RuntimeError):
    pass


class ClippingError(RuntimeError):
    pass


class ReservedSoundFont(ValueError):
    """A sound font reserved for held-out judging was asked for."""


@dataclass(frozen=True)
class RenderConfig:
    sample_rate: int = 16000
    gain: float = 0.5
    reverb: bool = True
    chorus: bool = False
    tail_s: float = 0.5      # audio kept after the excerpt's end, for the releases to ring out
    program: int = 0         # General MIDI Acoustic Grand Piano
    soundfont: str = ""      # a SoundFont file (.sf2/.sf3); "" = $PIANOGRAD_SF2 or Debian's GM SoundFont
    bank: int = 0            # the preset's bank in that file (e.g. 8 for FluidR3 Mono's mellow grand)


def find_fluidsynth() -> Optional[str]:
    return shutil.which("fluidsynth")


def find_soundfont() -> Optional[str]:
    """$PIANOGRAD_SF2 if set, else the first Debian SoundFont found."""
    env = os.environ.get("PIANOGRAD_SF2")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in SOUNDFONT_CANDIDATES if Path(p).is_file()), None)


def check_not_reserved(path: str) -> str:
    """path, unless it names (directly or through links) a sound font reserved for judging."""
    names = {Path(path).name.lower(), Path(os.path.realpath(path)).name.lower()}
    hit = next((r for r in RESERVED_SOUNDFONTS for n in names if r in n), None)
    if hit is not None:
        raise ReservedSoundFont(f"sound font {path}: '{hit}' is reserved for judging on held-out pianos and "
                                "is never used for training, tuning or model selection; pick another")
    return path


def require_fluidsynth(soundfont: str = "") -> Tuple[str, str]:
    """The fluidsynth program and the sound font to use (soundfont if given, else find_soundfont())."""
    if soundfont:
        check_not_reserved(soundfont)
        if not Path(soundfont).is_file():
            raise FluidSynthMissing(f"sound font {soundfont}: no such file (Debian packages with free pianos: "
                                    "fluid-soundfont-gm, fluidr3mono-gm-soundfont, csound-soundfont; "
                                    "scripts/install_pianos.sh installs them)")
    exe, sf2 = find_fluidsynth(), (soundfont or find_soundfont())
    if sf2:
        check_not_reserved(sf2)
    if exe is None or sf2 is None:
        raise FluidSynthMissing(
            "FluidSynth rendering needs the `fluidsynth` program and a GM SoundFont "
            f"(found program: {exe}, SoundFont: {sf2}); install the Debian packages fluidsynth and "
            "fluid-soundfont-gm (scripts/bootstrap.sh does) or set PIANOGRAD_SF2")
    return exe, sf2


@lru_cache(maxsize=1)
def fluidsynth_version() -> str:
    exe, _ = require_fluidsynth()
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    return next((ln.strip() for ln in out.splitlines() if "version" in ln.lower()), "unknown")


def renderer_id(cfg: RenderConfig) -> dict:
    """Everything the rendered bytes depend on besides the MIDI file (for cache keys). The sound font
    counts by content, not path; fields at their defaults that older caches lacked are left out, so WAVs
    rendered before those fields existed stay cache hits."""
    from .cache import hash_big_file

    _, sf2 = require_fluidsynth(cfg.soundfont)
    d = dict(cfg.__dict__)
    d.pop("soundfont")
    if d["bank"] == 0:
        d.pop("bank")
    return {"fluidsynth": fluidsynth_version(), "soundfont": hash_big_file(sf2), "cfg": d}


def _selects_preset(cfg: RenderConfig) -> bool:
    return bool(cfg.soundfont) or cfg.bank != 0


def _without_program_changes(src: PathLike, dst: str) -> str:
    """A copy of a MIDI file with its program and bank changes removed, so a `select`ed preset holds."""
    import mido

    try:
        mid = mido.MidiFile(str(src))
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"MIDI file {src}: cannot be read ({e})") from None
    for track in mid.tracks:
        kept, carry = [], 0
        for msg in track:
            if msg.type == "program_change" or (msg.type == "control_change" and msg.control in (0, 32)):
                carry += msg.time  # keep the following events' absolute times
                continue
            kept.append(msg.copy(time=msg.time + carry))
            carry = 0
        track[:] = kept
    mid.save(dst)
    return dst


def render_midi_array(midi_path: PathLike, duration_s: float, cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """Mono float32 samples in [-1, 1): exactly round((duration_s + tail_s) * sample_rate) of them, played
    by cfg's sound font and preset."""
    import soundfile as sf

    exe, sf2 = require_fluidsynth(cfg.soundfont)
    with tempfile.TemporaryDirectory(prefix="pg_fluid_") as tmp:
        raw = os.path.join(tmp, "out.wav")
        cmd = [exe, "-ni", "-q", "-R", "1" if cfg.reverb else "0", "-C", "1" if cfg.chorus else "0",
               "-g", str(cfg.gain), "-r", str(cfg.sample_rate), "-o", f"synth.sample-rate={cfg.sample_rate}",
               "-T", "wav", "-O", "float", "-F", raw]
        if _selects_preset(cfg):
            # every channel but drums gets the preset; the file's own program change would override it, so
            # a copy without one is played; sfont id 1 is the only font loaded
            cmds = os.path.join(tmp, "select.txt")
            Path(cmds).write_text("".join(f"select {ch} 1 {cfg.bank} {cfg.program}\n" for ch in range(16) if ch != 9))
            cmd += ["-f", cmds, "-o", "player.reset-synth=0"]
            midi_path = _without_program_changes(midi_path, os.path.join(tmp, "song.mid"))
        cmd += [sf2, str(midi_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not os.path.exists(raw):
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}) on {midi_path}: {proc.stderr.strip()[-500:]}")
        x, sr = sf.read(raw, dtype="float32", always_2d=True)
    if sr != cfg.sample_rate:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, asked for {cfg.sample_rate} Hz")
    mono = x.mean(axis=1)
    n = int(round((duration_s + cfg.tail_s) * cfg.sample_rate))
    out = np.zeros(n, np.float32)
    out[: min(n, len(mono))] = mono[:n]
    return out


def write_wav(path: PathLike, audio: np.ndarray, sample_rate: int) -> float:
    """16-bit PCM WAV, written atomically; returns the peak. Raises ClippingError at CLIP_LEVEL."""
    import soundfile as sf

    from .cache import atomic_write_with

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak >= CLIP_LEVEL:
        raise ClippingError(f"{path}: peak {peak:.3f} would clip; lower RenderConfig.gain")
    atomic_write_with(path, lambda tmp: sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV"))
    return peak


def render_performance(perf: Performance, wav_path: PathLike, cfg: RenderConfig = RenderConfig(),
                       duration_s: Optional[float] = None, midi_path: Optional[PathLike] = None) -> dict:
    """Renders a performance (through a MIDI file, kept at midi_path if given) to a mono WAV of
    duration_s (default: the performance's duration) + tail; returns {peak, samples, seconds}."""
    duration = perf.duration if duration_s is None else duration_s
    with tempfile.TemporaryDirectory(prefix="pg_mid_") as tmp:
        mid = Path(midi_path) if midi_path is not None else Path(tmp) / "perf.mid"
        perf.to_midi(mid, program=cfg.program)
        audio = render_midi_array(mid, duration, cfg)
    peak = write_wav(wav_path, audio, cfg.sample_rate)
    return {"peak": round(peak, 6), "samples": int(audio.size), "seconds": audio.size / cfg.sample_rate}


# A single note is rendered dry by default: fitting one key's physics is cleaner without the room.
DRY = RenderConfig(reverb=False, tail_s=1.0)


def render_note(key: int, velocity: int, duration_s: float, wav_path: Optional[PathLike] = None,
                cfg: RenderConfig = DRY, onset_s: float = 0.0) -> np.ndarray:
    """One key, pressed at onset_s for duration_s at `velocity`, no pedal, rendered by FluidSynth.
    Returns the mono float32 samples (length round((onset_s + duration_s + tail_s) * sr)) and, when
    wav_path is given, also writes them as a 16-bit WAV. For fitting a key to a sampled-piano note."""
    if not (MIN_KEY <= key <= MAX_KEY):
        raise ValueError(f"render_note: key {key} outside {MIN_KEY}..{MAX_KEY}")
    if not (1 <= velocity <= 127):
        raise ValueError(f"render_note: velocity {velocity} outside 1..127")
    if not duration_s > 0 or onset_s < 0:
        raise ValueError(f"render_note: need duration_s > 0 and onset_s >= 0, got {duration_s}, {onset_s}")
    perf = Performance([Note(key, onset_s, onset_s + duration_s, velocity)]).quantized()
    with tempfile.TemporaryDirectory(prefix="pg_note_") as tmp:
        mid = Path(tmp) / "note.mid"
        perf.to_midi(mid, program=cfg.program)
        audio = render_midi_array(mid, onset_s + duration_s, cfg)
    if wav_path is not None:
        write_wav(wav_path, audio, cfg.sample_rate)
    return audio
