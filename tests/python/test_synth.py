"""The piano from Python: performances, MIDI/audio files, rendering, gradients, fitting, and the CLI."""
import os
import subprocess
import sys

import numpy as np
import pytest

import pianograd as pg


def _cli(*args, cwd=None):
    """`python -m pianograd ...` in a subprocess (the console script's code path)."""
    return subprocess.run([sys.executable, "-m", "pianograd", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_performance_from_python_objects():
    class Obj:  # any object with key/onset/offset/velocity (pianograd.data.Note style)
        key, onset, offset, velocity = 67, 0.5, 0.9, 90

    p = pg.Performance([pg.Note(60, 0.0, 0.4, 80), (64, 0.1, 0.5, 70), {"key": 62, "onset": 0.2, "offset": 0.6},
                        Obj()], pedal=[(0.0, 1.0), (0.7, 0.0)])
    assert len(p) == 4
    assert [n.key for n in p.notes] == [60, 64, 62, 67]
    assert p.notes[2].velocity == 64
    assert p.pedal == [(0.0, 1.0), (0.7, 0.0)]
    assert p.duration == pytest.approx(0.9)
    assert p.pedal_at(0.3) == 1.0 and p.pedal_at(0.8) == 0.0
    assert pg.Performance(p) == p  # copies anything with .notes / .pedal
    import pickle

    assert pickle.loads(pickle.dumps(p)) == p
    from types import SimpleNamespace

    # Any object with .notes (objects with key/onset/offset/velocity) and .pedal, e.g. another library's.
    d = SimpleNamespace(notes=[SimpleNamespace(key=60, onset=0.0, offset=0.5, velocity=80)], pedal=[(0.1, 1.0)])
    assert pg.Performance(d) == pg.Performance([pg.Note(60, 0.0, 0.5, 80)], [(0.1, 1.0)])


@pytest.mark.parametrize("note, field", [((10, 0.0, 1.0, 64), "key"), ((60, 0.5, 0.5, 64), "offset"),
                                         ((60, -1.0, 1.0, 64), "onset"), ((60, 0.0, 1.0, 0), "velocity"),
                                         ((60, float("nan"), 1.0, 64), "onset")])
def test_performance_validation_is_value_error(note, field):
    with pytest.raises(ValueError, match=field):
        pg.Performance([note])


def test_pedal_validation_and_bad_note_types():
    with pytest.raises(ValueError, match="pedal"):
        pg.Performance([(60, 0.0, 1.0, 64)], pedal=[(0.5, 1.0), (0.2, 0.0)])
    with pytest.raises(ValueError):
        pg.Performance([(60, 0.0)])
    with pytest.raises(TypeError):
        pg.Performance([object()])


def test_midi_round_trip_and_corrupt_file(tmp_path):
    p = pg.Performance([(60, 0.0, 0.5, 80), (64, 0.25, 0.75, 70)], pedal=[(0.0, 1.0), (0.6, 0.0)])
    pg.write_midi(tmp_path / "a.mid", p)
    q = pg.read_midi(tmp_path / "a.mid")
    assert [(n.key, n.velocity) for n in q.notes] == [(60, 80), (64, 70)]
    assert np.allclose([n.offset for n in q.notes], [0.5, 0.75], atol=6e-4)
    assert q.pedal == [(0.0, 1.0), (pytest.approx(0.6, abs=6e-4), 0.0)]
    assert pg.parse_midi(pg.encode_midi(p)) == q
    data = (tmp_path / "a.mid").read_bytes()
    (tmp_path / "bad.mid").write_bytes(data[:30])
    with pytest.raises(OSError, match="bad.mid"):
        pg.read_midi(tmp_path / "bad.mid")
    with pytest.raises(FileNotFoundError):
        pg.read_midi(tmp_path / "missing.mid")
    r = _cli("render", tmp_path / "bad.mid", tmp_path / "x.wav")
    assert r.returncode == 1 and "bad.mid" in r.stderr and "Traceback" not in r.stderr


def test_audio_io_and_resample(tmp_path):
    t = np.arange(1600) / 16000.0
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pg.write_audio(tmp_path / "a.wav", x, 16000, format="float32")
    y, sr = pg.read_audio(tmp_path / "a.wav")
    assert sr == 16000 and y.dtype == np.float32 and np.array_equal(x, y)
    assert pg.resample(x, 16000, 8000).shape == (800,)
    with pytest.raises(ValueError, match="peak|clip"):
        pg.write_audio(tmp_path / "b.wav", 3 * x, 16000)
    with pytest.raises(ValueError, match="format"):
        pg.write_audio(tmp_path / "b.wav", x, 16000, format="mp3")


def test_render_cli_writes_the_midi_as_audio(tmp_path):
    perf = pg.Performance([(60, 0.0, 0.4, 90), (67, 0.2, 0.6, 80), (72, 0.4, 0.9, 70)])
    pg.write_midi(tmp_path / "in.mid", perf)
    r = _cli("render", tmp_path / "in.mid", tmp_path / "out.wav", "--sr", 22050, "--tail", 0.5)
    assert r.returncode == 0, r.stderr
    assert "real time" in r.stderr and "wrote" in r.stdout
    audio, sr = pg.read_audio(tmp_path / "out.wav")
    assert sr == 22050
    assert abs(audio.size - (0.9 + 0.5) * 22050) <= 1
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)  # normalised peak
    assert np.sqrt(np.mean(audio[: 22050 // 2] ** 2)) > 0.01  # not silent


def test_piano_render_preset_round_trip(tmp_path):
    piano = pg.Piano()
    perf = pg.Performance([(60, 0.0, 0.2, 80)])
    y = piano.render(perf, tail_seconds=0.1, max_partials=8)
    assert isinstance(y, pg.Tensor) and abs(y.shape[0] - 0.3 * 16000) <= 1
    piano["tuning_cents"] = piano["tuning_cents"] + 10.0
    piano.save(tmp_path / "p.safetensors")
    loaded = pg.Piano.load(tmp_path / "p.safetensors")
    assert np.array_equal(loaded["tuning_cents"].numpy(), piano["tuning_cents"].numpy())
    assert np.allclose(loaded.render(perf, tail_seconds=0.1, max_partials=8).numpy(),
                       piano.render(perf, tail_seconds=0.1, max_partials=8).numpy())
    assert len(piano.parameters()) == len(pg.piano_param_names())
    batch = piano.render_batch([perf, pg.Performance([(72, 0.0, 0.4, 60)])], tail_seconds=0.1, max_partials=8)
    assert batch.shape[0] == 2 and abs(batch.shape[1] - 0.5 * 16000) <= 1
    with pytest.raises(TypeError, match="bogus"):
        piano.render(perf, bogus=1)
    with pytest.raises(ValueError, match="impulse responses"):
        piano.render(perf, sample_rate=44100)
    # device= picks where render() builds its controls and runs the modal bank; "cpu" is the default.
    y = piano.render(perf, tail_seconds=0.1, max_partials=8)
    assert np.array_equal(piano.render(perf, tail_seconds=0.1, max_partials=8, device="cpu").numpy(), y.numpy())
    with pytest.raises(ValueError, match="device"):
        piano.render(perf, device="tpu")
    if not pg.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            piano.render(perf, tail_seconds=0.1, max_partials=8, device="cuda")
    # partial_floor = 0 keeps every partial: a different (not quieter-by-much) render.
    y0 = piano.render(perf, tail_seconds=0.1, max_partials=8, partial_floor=0.0)
    assert y0.shape == y.shape and np.allclose(y0.numpy(), y.numpy(), atol=1e-3)


def test_gradient_reaches_velocities_through_render_events():
    piano = pg.Piano(dtype="float64")
    params = piano.named_parameters()  # switched to requires_grad
    vel = pg.tensor([80.0, 60.0], dtype="float64", requires_grad=True)
    on = pg.tensor([0.0, 0.05], dtype="float64")
    off = pg.tensor([0.2, 0.25], dtype="float64")
    y = piano.render_events([60, 64], on, off, vel, 4800, max_partials=6)
    loss = (y * y).sum()
    loss.backward()
    g = vel.grad.numpy()
    assert np.all(np.isfinite(g)) and np.all(g > 0)  # louder strike -> more energy
    # Central difference on the first velocity agrees with the tape.
    h = 1e-3
    def energy(v0):
        with pg.no_grad():
            v = pg.tensor([v0, 60.0], dtype="float64")
            return float((piano.render_events([60, 64], on, off, v, 4800, max_partials=6) ** 2).sum().item())
    fd = (energy(80.0 + h) - energy(80.0 - h)) / (2 * h)
    assert g[0] == pytest.approx(fd, rel=1e-4)
    assert np.abs(params["loudness_db"].grad.numpy()[[60 - 21, 64 - 21]]).min() > 0  # and the piano's tensors


def test_render_roll_gradient_reaches_controls():
    piano = pg.Piano()
    onset = np.zeros((20, 88), np.float32)
    onset[0, 39] = 1.0
    vel = np.full((20, 88), 0.6, np.float32)
    gate = np.zeros((20, 88), np.float32)
    gate[:10, 39] = 1.0
    v = pg.tensor(vel, requires_grad=True)
    y = piano.render_roll(pg.tensor(onset), v, pg.tensor(gate), 100.0, 3200, max_partials=6)
    (y * y).sum().backward()
    g = v.grad.numpy()
    assert g[0, 39] > 0 and np.count_nonzero(g) == 1  # only the struck entry matters


def test_render_stats_describe_the_last_render():
    piano = pg.Piano()
    on = pg.tensor([0.0, 0.05, 0.1])
    off = pg.tensor([0.2, 0.25, 0.3])
    piano.render_events([60, 64, 67], on, off, pg.tensor([80.0, 60.0, 70.0]), 4800, max_partials=6)
    st = pg.last_event_render_stats()
    assert st["notes"] == 3 and st["modes"] > 0
    assert st["host_gate_samples"] > 0 and st["scan_samples"] == 0  # the CPU path writes its gates itself
    onset = np.zeros((20, 88), np.float32)
    onset[0, 39] = onset[5, 43] = 1.0
    gate = np.zeros((20, 88), np.float32)
    gate[:10, 39] = gate[5:12, 43] = 1.0
    piano.render_roll(pg.tensor(onset), pg.tensor(np.full((20, 88), 0.6, np.float32)), pg.tensor(gate), 100.0, 3200,
                      max_partials=6)
    rs = pg.last_roll_render_stats()
    assert rs["strikes"] == 2 and rs["modes"] > 0 and rs["gate_samples"] > 0 and rs["scan_samples"] == 0


def test_fit_note_cli_on_a_rendered_note(tmp_path):
    piano = pg.Piano()
    y = piano.render(pg.Performance([(57, 0.05, 0.6, 80)]), tail_seconds=0.3).numpy()
    pg.write_audio(tmp_path / "note.wav", 0.8 * y / np.abs(y).max(), 16000)
    r = _cli("fit-note", tmp_path / "note.wav", "--key", 57, "--steps", 8, "--duration", 0.4,
             "--out-preset", tmp_path / "fit.safetensors", "--max-partials", 12)
    assert r.returncode == 0, r.stderr
    assert "spectral distance: before" in r.stdout and "after fit" in r.stdout
    fitted = pg.Piano.load(tmp_path / "fit.safetensors")
    assert fitted["tuning_cents"].shape == (88,)


def test_fit_note_python_api_and_callback():
    piano = pg.Piano()
    y = piano.render(pg.Performance([(69, 0.02, 0.5, 80)]), tail_seconds=0.2).numpy()
    seen = []
    r = pg.fit_note(y, 16000, 69, steps=4, duration=0.3, max_partials=8, on_step=lambda s, l: seen.append((s, l)))
    assert r.key == 69 and r.iterations == len(seen) == 4
    assert r.distance_after <= r.distance_init + 1e-6  # the best iterate is kept
    assert r.after.f0_hz == pytest.approx(440.0 * 2 ** (r.after.tuning_cents / 1200) * 1.0, rel=0.05)
    assert r.render_after().shape == r.target.shape == (r.num_samples,)

    def boom(step, loss):
        raise RuntimeError("stop here")
    with pytest.raises(RuntimeError, match="stop here"):
        pg.fit_note(y, 16000, 69, steps=4, duration=0.3, max_partials=8, on_step=boom)
    with pytest.raises(ValueError, match="key"):
        pg.fit_note(y, 16000, 10, steps=1)


def test_data_subcommand_forwards():
    r = _cli("data", "--help")
    assert r.returncode == 0 and "render-note" in r.stdout
