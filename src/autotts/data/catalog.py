"""The twelve published replay stores: names, splits, upstream addresses and content checksums.

Checksums are of the uncompressed JSON as published upstream (``SHA256SUMS.json-content`` in the
mirror), so a download from upstream and a gzip mirror verify against the same list.
"""

from __future__ import annotations

MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
SEARCH_BENCHMARKS = ("aime24",)
HELDOUT_BENCHMARKS = ("aime25", "hmmt25")

UPSTREAM_URL = (
    "https://raw.githubusercontent.com/zhengkid/AutoTTS/3cd98d12c7cb999afc5c21381f22ea5811ac6c05/"
    "efficient_reasoning_controller/test_environment/{name}.json"
)

CONTENT_SHA256 = {
    "Qwen3-0.6B/aime24": "6b4297405b494c84afb05b337af315c617513eb2580ed327ca7040b760988a7d",
    "Qwen3-0.6B/aime25": "33f65695ecc78fb777f53bead2128ba1249772b3608c6a22bd4e674488d453e0",
    "Qwen3-0.6B/hmmt25": "7e7c574aaedcd05b36b801c11e3bdd7e2cfd3b7309a2376967cc1e8bc01ebebc",
    "Qwen3-1.7B/aime24": "5d6c9a63e26c7cf60181c53b67adc7017db146bf2ff1e3b9784673cb97313ad1",
    "Qwen3-1.7B/aime25": "77bfb8e8589d0c0da3ccb6d5852c37bf23273e047664a5086d492896a5ae2496",
    "Qwen3-1.7B/hmmt25": "87d158ecdc3551e375891d19917ce02f8fdcadd778afe99ad2ae179f872fb298",
    "Qwen3-4B/aime24": "d99ce8711c60605b7555a7fc6e66cc5ae0abe7ce6b36bf4e712802d26aa7ffdd",
    "Qwen3-4B/aime25": "977f56022b0cd225bd0233aff1f7b39740c45ec79693475ada8c766ee4097a3f",
    "Qwen3-4B/hmmt25": "4bc0b51765a0fc5a3d9a462b1ff317b70577d478c5cb5e06f20fe9d5b73b4b1c",
    "Qwen3-8B/aime24": "be725bdacc64712088d5c947b9b869471ad659c8465c3e5b6e9ff5191bfd0128",
    "Qwen3-8B/aime25": "969bba7bb0276f66d421d069e078e20a9b3ff4a59977393a2733a97ca6e4566c",
    "Qwen3-8B/hmmt25": "561efa74e3dd4ca79b67463c7c5d449762824b4534bdc7267b19d9af29d2a9a9",
}

ALL_STORES = tuple(CONTENT_SHA256)


def split_stores(split: str) -> tuple[str, ...]:
    """Store names of a split: ``search`` (aime24), ``heldout`` (aime25, hmmt25) or ``all``."""
    benches = {
        "search": SEARCH_BENCHMARKS,
        "heldout": HELDOUT_BENCHMARKS,
        "all": SEARCH_BENCHMARKS + HELDOUT_BENCHMARKS,
    }.get(split)
    if benches is None:
        raise ValueError(f"unknown split {split!r}: choose search, heldout or all")
    return tuple(f"{m}/{b}" for m in MODELS for b in benches)
