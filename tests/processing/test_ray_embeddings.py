"""Embeddings on Ray actors equal the local ones (one config, any scale)."""

import asyncio

import numpy as np
import pytest

from synthgen.processing.embeddings import LocalEmbedder, RayEmbedder, default_model_path


@pytest.mark.slow
def test_ray_embedder_matches_the_local_model():
    texts = ["What is 47+38?", "Write a haiku about autumn.", "Reverse a list in Python.", "Hola, ¿qué tal?", "x"]
    path = default_model_path()

    async def both():
        local = await LocalEmbedder(path).embed(texts)
        ray_emb = RayEmbedder(path, num_workers=2, num_cpus_per_worker=0.5, chunk=2)
        try:
            remote = await ray_emb.embed(texts)
        finally:
            await ray_emb.close()
        return local, remote

    local, remote = asyncio.run(both())
    assert remote.shape == local.shape == (5, 384)
    assert np.allclose(local, remote, atol=1e-5)
