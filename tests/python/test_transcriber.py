"""pg.Transcriber and pg.transcription_loss from Python: the API the training loops use."""
import numpy as np
import pytest

import pianograd as pg


def small_config(**kw):
    return pg.TranscriberConfig(seed=kw.pop("seed", 0), **kw)


def test_config_fields_and_json():
    c = pg.TranscriberConfig(hop=160, conv_channels=[4], seed=5)
    assert c.hop == 160 and c.conv_channels == [4] and c.seed == 5
    d = pg.TranscriberConfig.from_json(c.to_json())
    assert d.to_json() == c.to_json()
    with pytest.raises(TypeError):
        pg.TranscriberConfig(not_a_field=1)
    with pytest.raises(ValueError):
        pg.TranscriberConfig(key_kernel=4)


def test_forward_shapes_and_frames():
    m = pg.Transcriber(small_config())
    assert m.frame_rate == 50.0
    for n in (320, 8000, 16001):
        out = m(np.random.randn(2, n).astype(np.float32) * 0.1)
        for t in out:
            assert t.shape == (2, m.num_frames(n), 88)
    assert m(np.zeros(4000, np.float32) + 0.01).onset.shape == (1, m.num_frames(4000), 88)
    with pytest.raises(ValueError):  # ShapeError maps to ValueError
        m(np.zeros((1, 2, 3), np.float32))
    assert 0 < m.parameter_count() <= 1_000_000
    assert m.parameter_count() == sum(p.numel() for p in m.parameters())


def test_loss_backward_optimizer_step_changes_output():
    m = pg.Transcriber(small_config(seed=3))
    n = 16000
    audio = np.random.randn(1, n).astype(np.float32) * 0.1
    rolls = pg.performance_to_rolls(pg.Performance([(60, 0.2, 0.6, 90)]), m.frame_rate, num_frames=m.num_frames(n))
    targets = {k: v.reshape([1, m.num_frames(n), 88]) for k, v in rolls.items()}
    opt = pg.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = pg.transcription_loss(m(audio), targets)
        loss.total.backward()
        opt.step()
        losses.append(loss.total.item())
    assert losses[-1] < losses[0]
    assert set(dir(loss)) >= {"total", "onset", "frame", "offset", "velocity"}
    w = pg.LossWeights(velocity=0.0)
    assert pg.transcription_loss(m(audio), targets, w).velocity.item() >= 0
    spread = pg.LossWeights(velocity_spread=2)
    assert spread.velocity_spread == 2 and pg.LossWeights().velocity_spread == 0
    # Widening the velocity cells around the onset changes the term (the untrained model's velocity
    # differs from frame to frame), and a negative spread is refused.
    assert pg.transcription_loss(m(audio), targets, spread).velocity.item() != pytest.approx(
        pg.transcription_loss(m(audio), targets).velocity.item(), rel=1e-6)
    with pytest.raises(ValueError):
        pg.transcription_loss(m(audio), targets, pg.LossWeights(velocity_spread=-1))
    # One note per example: its centred error is 0, so the relative share contributes nothing.
    rel = pg.LossWeights(velocity_relative=0.75)
    assert rel.velocity_relative == 0.75
    assert pg.transcription_loss(m(audio), targets, rel).velocity.item() == pytest.approx(
        0.25 * pg.transcription_loss(m(audio), targets).velocity.item(), rel=1e-5)
    with pytest.raises(ValueError):
        pg.transcription_loss(m(audio), targets, pg.LossWeights(velocity_relative=2.0))
    bad = dict(targets, frame=np.zeros((1, 3, 88), np.float32))
    with pytest.raises(ValueError):
        pg.transcription_loss(m(audio), bad)


def test_save_load_round_trip(tmp_path):
    m = pg.Transcriber(small_config(seed=4, temporal_dilations=[1, 3]))
    path = tmp_path / "t.safetensors"
    m.save(path)
    back = pg.Transcriber.load(path)
    assert back.config.to_json() == m.config.to_json()
    x = np.random.randn(1, 6000).astype(np.float32) * 0.1
    np.testing.assert_array_equal(m(x).frame.numpy(), back(x).frame.numpy())
    assert set(m.state_dict()) == set(back.state_dict())
    with pytest.raises(FileNotFoundError):
        pg.Transcriber.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(OSError):
        pg.Transcriber.load(tmp_path / "bad.safetensors")


def test_predict_rolls_and_transcribe_resample():
    m = pg.Transcriber(small_config())
    sr = 22050
    audio = (0.1 * np.sin(2 * np.pi * 440 * np.arange(int(1.5 * sr)) / sr)).astype(np.float32)
    r = m.predict_rolls(audio, sr)
    n16 = round(len(audio) * 16000 / sr)
    assert set(r) == {"onset", "frame", "offset", "velocity"}
    for v in r.values():
        assert v.shape == (m.num_frames(n16), 88) and v.dtype == np.float32
        assert (v >= 0).all() and (v <= 1).all()
    perf = m.transcribe(audio, sr, onset_threshold=0.5, frame_threshold=0.5)
    assert isinstance(perf, pg.Performance)


def test_chunked_inference_matches_one_pass_away_from_chunk_edges():
    # Chunks of 2 s with 0.5 s context: frames far from any chunk edge see the same audio as one pass,
    # up to each chunk's own loudness normalisation (identical here: a steady tone everywhere).
    cfg = small_config(chunk_seconds=2.0, context_seconds=0.5)
    m = pg.Transcriber(cfg)
    sr = 16000
    t = np.arange(5 * sr) / sr
    audio = (0.2 * np.sin(2 * np.pi * 261.6 * t)).astype(np.float32)
    chunked = m.predict_rolls(audio, sr)["frame"]
    whole = pg.sigmoid(m(audio).frame).numpy()[0]
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked[60:200], whole[60:200], atol=2e-3)
