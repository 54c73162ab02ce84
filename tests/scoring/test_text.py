"""Text cleaning and the TF-IDF vectorizer."""

from __future__ import annotations

import numpy as np

from scoring.text import MAX_CLEAN_CHARS, TextVectorizer, clean_text


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
