"""Recording-condition augmentation (issue 15, item 4): each piece checked against the acoustics or the
filter theory it claims, not against its own output."""
import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfreqz

from pianograd.transcription.augment import (AugmentConfig, Augmenter, _biquad, coloured_noise,
                                             colouring_filter, room_impulse_response)
from pianograd.transcription.evaluate import ROOM_CONDITION, condition_audio

SR = 16000.0


def t20_rt60(h: np.ndarray, sr: float) -> float:
    """Reverberation time from the Schroeder backward integral's -5..-25 dB slope (ISO 3382 T20)."""
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    db = 10.0 * np.log10(edc / edc[0] + 1e-30)
    t5, t25 = np.argmax(db < -5.0), np.argmax(db < -25.0)
    return 3.0 * (t25 - t5) / sr


@pytest.mark.parametrize("drr_db", [-2.0, 3.0, 12.0])
def test_room_response_has_the_asked_direct_to_reverberant_ratio(drr_db):
    h = room_impulse_response(SR, np.random.default_rng(1), 0.6, drr_db)
    assert h[0] == 1.0 and h.dtype == np.float32
    reverberant = float(np.sum(h[1:].astype(np.float64) ** 2))
    assert 10.0 * np.log10(1.0 / reverberant) == pytest.approx(drr_db, abs=0.05)


def test_room_response_decays_at_its_reverberation_time_and_highs_die_first():
    rts = []
    for rt in (0.3, 0.6, 1.2):
        h = room_impulse_response(SR, np.random.default_rng(2), rt, -5.0)
        h[0] = 0.0  # the tail alone
        rts.append(t20_rt60(h, SR))
    # the broadband decay follows the asked time (its low band rings 1.3x longer, its highs shorter)
    for want, got in zip((0.3, 0.6, 1.2), rts):
        assert 0.6 * want < got < 1.4 * want, (want, got)
    h = room_impulse_response(SR, np.random.default_rng(3), 0.8, -5.0)
    h[0] = 0.0
    low = sosfilt(butter(4, 200.0, "lowpass", fs=SR, output="sos"), h)
    high = sosfilt(butter(4, 5000.0, "highpass", fs=SR, output="sos"), h)
    assert t20_rt60(high, SR) < 0.75 * t20_rt60(low, SR)


def response_db(sos, f):
    w, H = sosfreqz(np.atleast_2d(sos), worN=[f], fs=SR)
    return 20.0 * np.log10(abs(H[0]))


@pytest.mark.parametrize("gain", [-6.0, 4.5])
def test_cookbook_biquads_meet_their_specification(gain):
    # a peaking band has exactly its gain at its centre and none far away
    pk = _biquad("peak", 1000.0, SR, gain, 1.0)
    assert response_db(pk, 1000.0) == pytest.approx(gain, abs=1e-6)
    assert abs(response_db(pk, 30.0)) < 0.1 and abs(response_db(pk, 7900.0)) < 0.2
    # shelves reach their gain on their side and leave the other alone
    lo, hi = _biquad("lowshelf", 300.0, SR, gain), _biquad("highshelf", 4000.0, SR, gain)
    assert response_db(lo, 20.0) == pytest.approx(gain, abs=0.05) and abs(response_db(lo, 7000.0)) < 0.1
    assert response_db(hi, 7900.0) == pytest.approx(gain, abs=0.2) and abs(response_db(hi, 50.0)) < 0.05
    # a Butterworth-Q high-pass is 3 dB down at its corner
    assert response_db(_biquad("highpass", 100.0, SR), 100.0) == pytest.approx(-3.01, abs=0.02)
    with pytest.raises(ValueError, match="unknown kind"):
        _biquad("notch", 1000.0, SR)


def test_colouring_stays_within_its_gain_bounds_in_the_voice_band():
    for seed in range(10):
        sos = colouring_filter(SR, np.random.default_rng(seed), 6.0)
        assert np.all(np.abs(np.roots(sos[0, 3:])) < 1.0)  # stable
        w, H = sosfreqz(sos, worN=np.geomspace(300.0, 5000.0, 50), fs=SR)
        db = 20.0 * np.log10(np.abs(H))
        # overlapping bands can add, but never beyond the sum of their bounds (shelf + 3 peaks)
        assert np.all(np.abs(db) < 4 * 6.0 + 0.5)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_coloured_noise_has_unit_rms_and_the_asked_spectral_slope(beta):
    x = coloured_noise(1 << 16, np.random.default_rng(4), beta)
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-6)
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(p.size)
    sel = (f > 10) & (f < p.size - 10)
    slope = np.polyfit(np.log(f[sel]), np.log(p[sel]), 1)[0]
    assert slope == pytest.approx(-beta, abs=0.1)


def test_noise_is_added_at_the_drawn_signal_to_noise_ratio():
    x = np.sin(2 * np.pi * 440.0 * np.arange(32000) / SR).astype(np.float32) * 0.3
    cfg = AugmentConfig(probability=1.0, room=0.0, colour=0.0, noise=1.0, snr_db=(30.0, 30.0), gain_db=(0.0, 0.0))
    y = Augmenter(cfg, SR, np.random.default_rng(5))(x)
    noise = y.astype(np.float64) - x
    snr = 10.0 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise ** 2))
    assert snr == pytest.approx(30.0, abs=0.05)


def test_augmenter_is_seeded_keeps_the_length_and_never_clips():
    x = np.zeros(48000, np.float32)
    x[::4000] = 0.9
    a = Augmenter(AugmentConfig(probability=1.0, room=1.0, colour=1.0, noise=1.0, gain_db=(6.0, 6.0)), SR,
                  np.random.default_rng(6))
    b = Augmenter(a.cfg, SR, np.random.default_rng(6))
    ya, yb = a(x), b(x)
    np.testing.assert_array_equal(ya, yb)
    assert ya.dtype == np.float32 and ya.shape == x.shape and np.isfinite(ya).all()
    assert np.max(np.abs(ya)) <= 0.99 + 1e-6
    assert not np.array_equal(a(x), ya)  # the next draw is another condition
    # probability 0 draws nothing; probability 1 always
    assert not any(Augmenter(AugmentConfig(), SR).draw() for _ in range(20))
    assert all(a.draw() for _ in range(20))


def test_augment_rejects_bad_configs_and_bad_audio():
    with pytest.raises(ValueError, match="unknown keys"):
        AugmentConfig.from_dict({"probabilty": 0.5})
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig.from_dict({"noise": 1.5})
    with pytest.raises(ValueError, match="low, high"):
        AugmentConfig.from_dict({"snr_db": [40, 20]})
    with pytest.raises(ValueError, match="positive"):
        AugmentConfig.from_dict({"rt60_s": [0.0, 1.0]})
    assert AugmentConfig.from_dict({"gain_db": [-3, 3]}).gain_db == (-3, 3)
    a = Augmenter(AugmentConfig(probability=1.0), SR)
    with pytest.raises(ValueError, match="NaN"):
        a(np.array([0.0, np.nan, 0.1], np.float32))
    with pytest.raises(ValueError, match="mono"):
        a(np.zeros((2, 100), np.float32))
    assert a(np.zeros(0, np.float32)).size == 0


def test_the_room_condition_is_fixed_per_file_and_differs_between_files():
    x = (np.random.default_rng(7).standard_normal(16000) * 0.1).astype(np.float32)
    one = condition_audio(x, SR, ROOM_CONDITION, 1000, "a.wav")
    np.testing.assert_array_equal(one, condition_audio(x, SR, ROOM_CONDITION, 1000, "a.wav"))
    assert not np.array_equal(one, condition_audio(x, SR, ROOM_CONDITION, 1000, "b.wav"))
    assert not np.array_equal(one, condition_audio(x, SR, ROOM_CONDITION, 1001, "a.wav"))
    assert condition_audio(x, SR, None, 1000, "a.wav") is x
