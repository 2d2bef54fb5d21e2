"""Tests of the acronym glossary: definitions found in the corpus, the curated file, expansion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from retrieval.glossary import (
    GlossaryEntry,
    expand_query,
    extract_glossary,
    glossary_matches,
    load_glossary,
    merge_glossaries,
)
from retrieval.swedish import unify_text

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DELRAPPORT = "socialstyrelsen_delrapport_integrerad_vard_sis_psykiatri_2020"


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    docs = {path.stem: path.read_text(encoding="utf-8") for path in CORPUS.glob("*.txt")}
    assert docs, f"no corpus files in {CORPUS}"
    return docs


@pytest.fixture(scope="module")
def extracted(documents: dict[str, str]) -> dict[str, GlossaryEntry]:
    return extract_glossary(sorted(documents.items()))


@pytest.fixture(scope="module")
def curated() -> dict[str, GlossaryEntry]:
    return load_glossary(CORPUS / "glossary.toml")


@pytest.mark.parametrize(
    ("acronym", "expansion"),
    [
        ("SiS", "statens institutionsstyrelse"),
        ("SIP", "samordnad individuell plan"),
        ("RSS", "regional samverkans- och stödstruktur"),
        ("LVU", "lagen med särskilda bestämmelser om vård av unga"),
        ("LPT", "lagen om psykiatrisk tvångsvård"),
        ("SKR", "sveriges kommuner och regioner"),
        ("BUP", "barn- och ungdomspsykiatri"),
        ("HSL", "hälso- och sjukvårdslagen"),
    ],
)
def test_extract_glossary_finds_corpus_definitions(
    extracted: dict[str, GlossaryEntry], acronym: str, expansion: str
) -> None:
    assert acronym in extracted
    assert extracted[acronym].expansion.lower() == expansion


def test_extracted_entry_says_where_it_is_defined(
    extracted: dict[str, GlossaryEntry], documents: dict[str, str]
) -> None:
    entry = extracted["SiS"]
    assert entry.source == DELRAPPORT
    assert "(SiS)" in entry.quote
    assert "Statens Institutionsstyrelse" in entry.quote
    assert entry.defined_in_corpus


def test_extract_glossary_reads_ocr_split_acronym(extracted: dict[str, GlossaryEntry]) -> None:
    # The report writes "vård av unga, L VU," with a stray space.
    assert extracted["LVU"].source == DELRAPPORT
    assert "L VU" in extracted["LVU"].quote


@pytest.mark.parametrize(
    ("text", "acronym", "expansion"),
    [
        ("Placering i hem för vård eller boende (HVB) ska följas upp.", "HVB", None),
        ("SIP (Samordnad individuell plan) ska upprättas.", "SIP", None),
        ("Kurser i Mental Health First Aid, MHFA av KI.", "MHFA", "Mental Health First Aid"),
        ("Vad är en regional samverkans- och stödstruktur (RSS)?", "RSS", None),
        (
            "psykiatrisk vård enligt lagen (1991: 1128) om psykiatrisk tvångsvård, förkortad LPT.",
            "LPT",
            "lagen om psykiatrisk tvångsvård",
        ),
        ("SIP - Samordnad individuell plan", "SIP", "Samordnad individuell plan"),
    ],
)
def test_extract_glossary_patterns(text: str, acronym: str, expansion: str | None) -> None:
    found = extract_glossary([("doc", text)])
    assert list(found) == [acronym]
    if expansion is not None:
        assert found[acronym].expansion == expansion
    assert found[acronym].source == "doc"


@pytest.mark.parametrize(
    "text",
    [
        "Delbetänkande SOU 2021:93, SOU 2023:5",
        "Håkan Landpers, VU BoU Primärvård, UM",
        "Socialsekreterare IFO: Christina Ottoson",
    ],
)
def test_extract_glossary_ignores_lists_and_names(text: str) -> None:
    assert extract_glossary([("doc", text)]) == {}


REQUIRED = ("SiS", "LVU", "LPT", "SIP", "HVB", "RSS", "SKR", "BUP", "VVG") + (
    "LCHNV",
    "PV",
    "UM",
    "UH",
    "RÖK",
    "MM",
    "IFO",
    "SoL",
    "HSL",
)


def test_curated_glossary_has_the_corpus_acronyms(curated: dict[str, GlossaryEntry]) -> None:
    assert set(REQUIRED) <= set(curated)
    assert curated["LCHNV"].expansion == "Länschefsnätverket"
    assert curated["HVB"].expansion == "hem för vård eller boende"
    assert curated["MM"].expansion == "MiniMaria"


def test_curated_acronyms_occur_in_the_corpus(
    curated: dict[str, GlossaryEntry], documents: dict[str, str]
) -> None:
    # An acronym the documents write, or one staff write for a name the documents spell out
    # ("Hur mycket får ... i VGR:s budgetförslag?" for Västra Götalandsregionen).
    text = "\n".join(documents.values())
    for entry in curated.values():
        forms = (entry.acronym, *entry.aliases, entry.expansion)
        assert any(re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text) for f in forms), entry
    assert curated["VGR"].expansion == "Västra Götalandsregionen"


def test_curated_quotes_come_from_their_source(
    curated: dict[str, GlossaryEntry], documents: dict[str, str]
) -> None:
    for entry in curated.values():
        source = documents[entry.source]
        flat = [" ".join(source.split()), " ".join(unify_text(source).split())]
        assert any(entry.quote in text for text in flat), entry


def test_curated_definitions_agree_with_the_extracted_ones(
    curated: dict[str, GlossaryEntry], extracted: dict[str, GlossaryEntry]
) -> None:
    for acronym in ("SiS", "SIP", "RSS", "LPT", "BUP", "SKR", "VIP", "DBT", "PTSD"):
        assert curated[acronym].defined_in_corpus
        assert curated[acronym].expansion.lower() == extracted[acronym].expansion.lower()


def test_load_glossary_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_glossary(tmp_path / "glossary.toml") == {}


def test_load_glossary_rejects_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "glossary.toml"
    path.write_text('[[entry]]\nacronym = "SIP"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="expansion"):
        load_glossary(path)
    path.write_text("[[entry]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ogiltig"):
        load_glossary(path)


def test_merge_prefers_curated_wording_and_keeps_corpus_source() -> None:
    extracted = {
        "SiS": GlossaryEntry("SiS", "Statens Institutionsstyrelse", "doc-a", "vid ... (SiS)"),
        "DBT": GlossaryEntry("DBT", "dialektisk beteendeterapi", "doc-b", "(DBT)"),
    }
    curated = {
        "SiS": GlossaryEntry("SiS", "Statens institutionsstyrelse", defined_in_corpus=False),
        "HVB": GlossaryEntry("HVB", "hem för vård eller boende", defined_in_corpus=False),
    }
    merged = merge_glossaries(extracted, curated)
    assert set(merged) == {"SiS", "DBT", "HVB"}
    assert merged["SiS"].expansion == "Statens institutionsstyrelse"
    assert merged["SiS"].source == "doc-a"
    assert merged["SiS"].quote == "vid ... (SiS)"
    assert merged["SiS"].defined_in_corpus
    assert not merged["HVB"].defined_in_corpus
    assert merged["DBT"] == extracted["DBT"]


def test_expand_query_adds_the_expansion_of_an_acronym(
    curated: dict[str, GlossaryEntry],
) -> None:
    expanded = expand_query("Vad gör SiS för unga?", curated)
    assert expanded == "Vad gör SiS för unga? (SiS = Statens institutionsstyrelse)"
    assert "IYO" in expand_query("Vad säger IVO?", curated)


def test_expand_query_adds_the_acronym_of_an_expansion(
    curated: dict[str, GlossaryEntry],
) -> None:
    assert expand_query("Vad är en samordnad individuell plan?", curated) == (
        "Vad är en samordnad individuell plan? (SIP)"
    )
    # Inflected forms count: the comparison is on stems.
    assert expand_query("Hur upprättas samordnade individuella planer?", curated).endswith("(SIP)")


def test_expand_query_matches_inflected_and_lower_case_acronyms(
    curated: dict[str, GlossaryEntry],
) -> None:
    assert "samordnad individuell plan" in expand_query("När ska SIP:en vara klar?", curated)
    assert "hem för vård eller boende" in expand_query("Finns det HVB-hem i länet?", curated)
    assert "samordnad individuell plan" in expand_query("hur många sip görs?", curated)


def test_expand_query_keeps_ordinary_words_that_are_acronyms_too(
    curated: dict[str, GlossaryEntry],
) -> None:
    assert expand_query("Vilken lag gäller för rök och sol?", curated) == (
        "Vilken lag gäller för rök och sol?"
    )
    assert "lokal arbetsgrupp" in expand_query("Vad gör LAG Suicidprevention?", curated)


def test_expand_query_leaves_other_questions_alone(curated: dict[str, GlossaryEntry]) -> None:
    assert expand_query("Hur mycket kostar fjärraccess?", curated) == (
        "Hur mycket kostar fjärraccess?"
    )


def test_glossary_matches_tell_which_way(curated: dict[str, GlossaryEntry]) -> None:
    matches = glossary_matches("Vad gör SKR och Statens institutionsstyrelse?", curated)
    assert [(entry.acronym, kind) for entry, kind in matches] == [
        ("SiS", "expansion"),
        ("SKR", "acronym"),
    ]
