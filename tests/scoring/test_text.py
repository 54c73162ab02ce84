"""Text cleaning and the TF-IDF vectorizer."""

from __future__ import annotations

import ftfy
import numpy as np
import pytest

from scoring.text import MAX_CLEAN_CHARS, TextVectorizer, _ftfy_by_line, clean_text


def test_cleaning_fixes_mojibake_and_drops_headers_and_signatures() -> None:
    raw = (
        "From: Anna <anna@example.com>\nSent: Monday\nTo: support@example.com\n"
        "received from: bob@example.com\n"
        "Die SynchronisierungsprÃ¼fung schlÃ¤gt fehl, see https://example.com/x\n"
        "Best regards,\nAnna\nThis e-mail is confidential."
    )
    clean = clean_text(raw)
    assert "synchronisierungsprüfung schlägt fehl" in clean
    assert "anna@example.com" not in clean and "monday" not in clean
    assert "regards" not in clean and "confidential" not in clean
    assert "urladdress" in clean


@pytest.mark.parametrize("text", [
    "Rabatt für Schulen\nGibt es einen Rabatt fÃ¼r Schulen?\nMit freundlichen GrÃ¼ÃŸen,\n",
    "fÃ¼r &amp; <b>x</b>\nGrÃ¼ÃŸe &amp; mehr\n",  # no HTML unescaping from the "<" line on
    "&lt;tag&gt; fÃ¼r\r\n‘quoted’ ﬁle ＡＢ\x00\x1b[31m\n\n",
    "Rabatt für Schulen\n" + "Gibt es einen Rabatt fÃ¼r Schulen? " * 20,  # a line too long to keep
    "",
])
def test_ftfy_line_by_line_equals_ftfy(text: str) -> None:
    assert _ftfy_by_line(text) == ftfy.fix_text(text)
    assert _ftfy_by_line(text) == ftfy.fix_text(text)  # remembered lines too


def test_cleaning_handles_odd_input() -> None:
    assert clean_text(None) == ""
    assert clean_text(float("nan")) == ""  # type: ignore[arg-type]
    assert len(clean_text("word " * 300_000)) <= MAX_CLEAN_CHARS


def test_vectorizer_blocks_are_unit_length_and_batch_equals_single() -> None:
    texts = [clean_text(t) for t in (
        "printer not working", "printer jam again", "password reset please",
        "reset my password", "", "unknownword",
    )]
    vectorizer = TextVectorizer.fit(texts, min_df=1)
    matrix = vectorizer.transform(texts)
    for i, text in enumerate(texts):
        idx, val = vectorizer.transform_one(text)
        row = matrix[i].toarray()[0]
        np.testing.assert_allclose(row[idx], val)
        assert np.count_nonzero(row) == len(idx)
        words = idx < vectorizer.n_word_terms
        for block in (words, ~words):
            if block.any():
                assert np.linalg.norm(val[block]) == np.float64(1.0) or np.isclose(
                    np.linalg.norm(val[block]), 1.0)
    assert matrix[4].nnz == 0
