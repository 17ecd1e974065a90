"""The embedder's dtype: bfloat16 only where the CPU multiplies it natively."""

from __future__ import annotations

import pytest

from magpie_hf.models import embeddings


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "float32"), (None, "float32")])
def test_auto_dtype_follows_the_cpu(monkeypatch, native, expected):
    monkeypatch.setattr(embeddings, "cpu_bf16", lambda: native)
    assert embeddings.resolve_dtype("auto") == expected
    assert embeddings.resolve_dtype("float32") == "float32"


def test_an_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="float16.*auto, float32, bfloat16"):
        embeddings.resolve_dtype("float16")
