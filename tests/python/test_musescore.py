"""MuseScore 3 as a second engraver (pianograd.data.musescore): whole works as printed pages, read by g as
`pianograd omr` reads them; an engraver g never trained on."""
import numpy as np
import pytest

from pianograd.data.musescore import engrave_work, musescore_program

needs_musescore = pytest.mark.skipif(musescore_program() is None,
                                     reason="MuseScore 3 is not installed (scripts/bootstrap.sh installs it)")
PIECE = "bach/bwv269.mxl"  # a chorale of the training split, 18 bars on one page with lyrics and a title


@pytest.fixture(scope="module")
def work():
    return engrave_work(PIECE, dpi=150)


@needs_musescore
def test_engraves_every_page_with_the_works_notes(work):
    from pianograd.data.engrave import render_page

    assert len(work.pages) >= 1 and all(p.dtype == np.float32 and p.ndim == 2 for p in work.pages)
    page = work.pages[0]
    assert page.shape[0] > page.shape[1] > 1000  # portrait, 150 dpi
    assert 0.9 < float(page.mean()) < 1.0  # paper with ink on it
    # The reference is the whole work's: Verovio's first page holds a prefix of it, note for note.
    verovio = render_page(PIECE)
    assert 0 < len(verovio.notes) <= len(work.notes)
    assert set(verovio.notes) <= set(work.notes)
    assert {n[3] for n in work.notes} == {0, 1, 2, 3}


@needs_musescore
def test_g_reads_a_musescore_page(work):
    """The shipped model on pages of an engraver it never saw: a four-part chorale reads almost whole."""
    from pianograd.omr.evaluate import score_musescore
    from pianograd.omr.model import load_model
    from pianograd.omr.recognize import DEFAULT_MODEL

    res = score_musescore(load_model(DEFAULT_MODEL), [PIECE], dpi=150, progress=False)
    row = res["works"][0]
    assert row["staves"] >= 8 and row["pages"] == len(work.pages)
    assert res["note_f1_onset"] > 0.9, res


def test_missing_musescore_and_bad_resolution_are_clear_errors(monkeypatch):
    import pianograd.data.musescore as ms

    with pytest.raises(ValueError, match="dpi"):
        if musescore_program() is None:
            monkeypatch.setattr(ms, "musescore_program", lambda: "/bin/false")
        engrave_work(PIECE, dpi=5)
    monkeypatch.setattr(ms, "musescore_program", lambda: None)
    with pytest.raises(RuntimeError, match="MuseScore 3 is not installed"):
        engrave_work(PIECE)


@needs_musescore
def test_g_reads_a_piano_work_over_several_pages():
    """The test split's piano work (Chopin's mazurka op. 6/2, three pages in MuseScore, two staves per
    system, split bars at repeats, no time signature after the first page) read as `pianograd omr`
    reads it: pages continue the metre, bars are decided across the grand staff, and misread bars take
    their onsets from the other staff by x. Read 0.15 note F1 before those, 0.79 after."""
    from pianograd.omr.evaluate import score_musescore
    from pianograd.omr.model import load_model
    from pianograd.omr.recognize import DEFAULT_MODEL

    res = score_musescore(load_model(DEFAULT_MODEL), ["chopin/mazurka06-2.krn"], dpi=300, progress=False)
    assert res["works"][0]["pages"] >= 3
    assert res["note_f1_onset"] > 0.6, res
