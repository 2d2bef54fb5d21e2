"""Cleaning of real corpus excerpts: golden files plus one explicit check per rule.

The inputs in tests/golden/clean/*.txt are excerpts copied from corpus/ (some glued from two or
three places with a blank line between). Regenerate the expected files with
`make golden` (UNDERLAG_REGENERATE_GOLDEN=1) and review the diff before committing.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from conftest import CORPUS, GOLDEN

from core.types import Block
from ingest.clean import PAGE_BREAK, normalise_unicode, strip_markup, structure, table_rows

CLEAN_DIR = GOLDEN / "clean"
CASES = sorted(p.stem for p in CLEAN_DIR.glob("*.txt") if not p.stem.endswith(".expected"))
REGENERATE = os.environ.get("UNDERLAG_REGENERATE_GOLDEN") == "1"


def render(blocks: list[Block]) -> str:
    """A reviewable rendering of blocks: kind, locator, heading path, then the text."""
    parts = []
    for block in blocks:
        kind = f"{block.kind} {block.level}" if block.kind == "heading" else block.kind
        where = " | ".join(x for x in (block.locator, " > ".join(block.heading_path)) if x)
        parts.append(f"[{kind}] {where}".rstrip() + "\n" + block.text)
    return "\n\n".join(parts) + "\n"


def cleaned(case: str) -> tuple[str, list[Block]]:
    return structure((CLEAN_DIR / f"{case}.txt").read_text(encoding="utf-8"))


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 7


@pytest.mark.parametrize("case", CASES)
def test_golden_input_is_a_real_excerpt_of_the_corpus(case: str) -> None:
    corpus_lines = {
        line for path in CORPUS.glob("*.txt") for line in path.read_text("utf-8").split("\n")
    }
    lines = (CLEAN_DIR / f"{case}.txt").read_text(encoding="utf-8").split("\n")
    assert [line for line in lines if line and line not in corpus_lines] == []


@pytest.mark.parametrize("case", CASES)
def test_cleaning_matches_golden(case: str) -> None:
    _, blocks = cleaned(case)
    expected = CLEAN_DIR / f"{case}.expected.txt"
    if REGENERATE:
        expected.write_text(render(blocks), encoding="utf-8")
        pytest.skip(f"regenerated {expected.name}; review the diff")
    assert render(blocks) == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_block_spans_index_the_cleaned_text(case: str) -> None:
    text, blocks = cleaned(case)
    assert [text[b.start : b.end] for b in blocks] == [b.text for b in blocks]
    assert all(a.end < b.start for a, b in zip(blocks, blocks[1:], strict=False))


def test_words_hyphenated_across_lines_are_joined() -> None:
    text, _ = cleaned("delrapport_sidor")
    for word in (
        "utvecklingsarbete",
        "Institutionsstyrelse",
        "Projektledare",
        "Ansvarig",
        "Socialstyrelsen",
        "organisera",
        "eller",
        "bedömas",
    ):
        assert word in text
    for broken in ("ut- vecklingsarbete", "Insti- tutionsstyrelse", "Pro- jektledare", "el- ler"):
        assert broken not in text
    # A year range broken after its hyphen is joined without a space.
    assert "genomföras 2021-2024 i psykiatrin" in text


def test_hyphenation_is_joined_across_a_page_gap() -> None:
    text, blocks = cleaned("delrapport_avstavning")
    assert "Om resultatet av utvärderingen" in text
    assert "relevans för kunskapsutvecklingen i pilotprojektet" in text
    assert "med bedömningar av förutsättningarna" in text
    assert "exempelvis juridiska frågor" in text
    # The page starts inside a sentence; the sentence stays one block.
    sentence = [b for b in blocks if "kan drivas i ordinarie strukturer" in b.text]
    assert len(sentence) == 1
    assert "ska Socialstyrelsen även inkomma med förslag" in sentence[0].text


def test_suspended_hyphens_are_kept() -> None:
    text, _ = cleaned("delrapport_avstavning")
    assert "fortsatt hälso- och sjukvård efter avslutad placering" in text
    assert "sammanhållen vård- och omsorgskedja" in text
    assert "hälsooch" not in text
    assert "vårdoch" not in text
    sidor, _ = cleaned("delrapport_sidor")
    assert "utrednings- och behandlingsplaceringar" in sidor
    assert "vård- och boendeformer" in sidor


def test_bullet_at_a_page_start_is_a_list_item() -> None:
    _, blocks = cleaned("delrapport_avstavning")
    item = next(b for b in blocks if "Evidens- och kunskapsbaserat val" in b.text)
    assert item.kind == "list_item"
    assert item.text == (
        "- Evidens- och kunskapsbaserat val av teori, metoder, arbetssätt och förhållningssätt"
    )


def test_html_table_rows_keep_their_year_headers() -> None:
    _, blocks = cleaned("bilaga_tabeller")
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert len(rows) == 4
    assert all(r.startswith("2023: ") and " | 2024: " in r for r in rows)
    assert rows[0].startswith(
        "2023: Samverkan inom integrerad vård Regionen har i samverkan med SiS tillämpat de lokala"
    )
    # The second table has its years in <b> tags; they are headers all the same.
    assert rows[2].startswith("2023: Regionen har deltagit i de aktiviteter")
    assert "förutsättningarna för integrerad vård inom ordinarie strukturer" in rows[2]


def test_rss_table_rows_keep_area_and_recipient_headers() -> None:
    _, blocks = cleaned("rss_psykisk_tabell_banner")
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert len(rows) == 7
    assert all(r.startswith("Område/mottagare: ") for r in rows)
    assert (
        "Område/mottagare: Summa | Län: 493 000 000 | Kommun: 250 000 000 | "
        "Region: 788 000 000 | SKR: 29 000 000"
    ) in rows
    assert "Område/mottagare: Summa total | SKR: 1 560 000 000" in rows
    # An empty cell does not shift the columns: 500 000 000 is the regions' share.
    assert any("Län: 200 000 000 Efter befolkningsmängd | Region: 500 000 000" in r for r in rows)


def test_tab_tables_with_trailing_empty_cells_keep_their_header() -> None:
    _, blocks = cleaned("rss_lchnv_platser")
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert "Kommun: Avesta | Antal platser: 7" in rows
    assert "Kommun: Region Dalarna | Antal platser: 10" in rows
    assert rows[-1] == "Kommun: Övriga | Antal platser: 17"
    assert len(rows) == 17


def test_vgr_tab_tables_become_rows_without_separator_lines() -> None:
    text, blocks = cleaned("vgr_flikar")
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert "Länsgemensam nivå: | 300 000 kr" in rows
    assert "Samsjuklighet | 5 800 000 kr" in rows
    assert rows[-1] == "Summa | 20 876 447 kr"
    assert "---" not in text


def test_markup_and_slide_noise_are_stripped() -> None:
    for case in CASES:
        text, _ = cleaned(case)
        for noise in ("**", "~~", "<p>", "</p>", "<b>", "<i>", "<ul", "<li>", "&nbsp;", "\t"):
            assert noise not in text, (case, noise)
        assert "RSS DALARNA" not in text
        assert "REGIONAL SAMVERKANS" not in text
    text, _ = cleaned("rss_lchnv_banner_markup")
    assert "- a) Tillsättning av arbetsgrupp MiniMaria" not in text  # the bullet goes ...
    assert "a) Tillsättning av arbetsgrupp MiniMaria" in text  # ... the enumerator stays
    assert "- Vi har arbetat fram två olika förslag" in text  # struck-through text is kept


def test_repeated_banner_opens_a_new_top_level_section() -> None:
    _, blocks = cleaned("rss_psykisk_tabell_banner")
    headings = [(b.level, b.text) for b in blocks if b.kind == "heading"]
    assert (1, "Överenskommelse psykisk hälsa och suicidprevention") in headings
    assert (1, "Aktuellt läge") in headings
    after = next(b for b in blocks if b.text == "Samsjuklighetsreformen")
    assert after.heading_path == ("Aktuellt läge", "Samsjuklighetsreformen")


def test_page_starts_give_page_locators_and_sections() -> None:
    _, blocks = cleaned("delrapport_sidor")
    by_text = {b.text: b for b in blocks}
    assert by_text["Förord"].locator == "sida 1"
    assert by_text["Förord"].level == 1
    assert by_text["Sammanfattning"].locator == "sida 2"
    assert by_text["Utveckling av integrerad vård"].locator == "sida 3"
    uppdraget = by_text["Uppdraget"]
    assert uppdraget.kind == "heading"
    assert uppdraget.heading_path == ("Utveckling av integrerad vård", "Uppdraget")
    body = next(b for b in blocks if b.text.startswith("Pilotprojektet syftar till"))
    assert body.heading_path == ("Utveckling av integrerad vård", "Uppdraget")
    assert body.locator == "sida 3"


def test_form_feeds_from_the_pdf_loader_are_page_breaks() -> None:
    raw = PAGE_BREAK.join(
        ["Inledning\n\nFörsta sidans text om vård.", "Andra sidans text om omsorg.", "Tredje."]
    )
    _, blocks = structure(raw)
    assert [(b.text, b.locator) for b in blocks] == [
        ("Inledning", "sida 1"),
        ("Första sidans text om vård.", "sida 1"),
        ("Andra sidans text om omsorg.", "sida 2"),
        ("Tredje.", "sida 3"),
    ]


def test_documents_without_pages_have_no_page_locator() -> None:
    _, blocks = cleaned("vgr_flikar")
    assert {b.locator for b in blocks} == {""}


def test_explicit_markdown_headings_are_trusted() -> None:
    _, blocks = cleaned("bilaga_tabeller")
    headings = [b.text for b in blocks if b.kind == "heading"]
    assert "Alma Haracic" not in headings  # a letterhead line is not a section
    assert headings[0].startswith("Bilaga 2 till beslut om statsbidrag för 2023 och 2024")
    villkor = next(b for b in blocks if b.text == "Villkor för bidraget")
    assert villkor.heading_path[0].startswith("Bilaga 2 till beslut")
    assert villkor.heading_path[-1] == "Villkor för bidraget"
    deltagande = next(b for b in blocks if b.text.startswith("Deltagande i samordningen"))
    assert deltagande.kind == "heading"  # a whole line in ***bold italics*** is a heading


def test_output_is_nfc_whatever_the_input_normalisation() -> None:
    raw = (CLEAN_DIR / "delrapport_sidor.txt").read_text(encoding="utf-8")
    decomposed = unicodedata.normalize("NFD", raw)
    assert decomposed != raw
    text, blocks = structure(decomposed)
    assert unicodedata.is_normalized("NFC", text)
    assert (text, blocks) == structure(raw)


def test_windows_newlines_and_odd_spaces_are_normalised() -> None:
    raw = (CLEAN_DIR / "vgr_flikar.txt").read_text(encoding="utf-8")
    odd = raw.replace("\n", "\r\n").replace(
        "Kunskapsstyrning i samverkan", "Kunskapsstyrning\u00a0i samverkan"
    )
    assert structure(odd) == structure(raw)


def test_normalise_unicode_removes_invisible_characters() -> None:
    raw = "Hälso\u00ad- och sjuk\u200bvård\u00a0i\u202fregionen\ufeff\r\nRad två\x07"
    assert normalise_unicode(raw) == "Hälso- och sjukvård i regionen\nRad två"


def test_whitespace_is_single_and_trimmed() -> None:
    for case in CASES:
        text, blocks = cleaned(case)
        assert "  " not in text, case
        assert all(b.text == b.text.strip() and b.text for b in blocks), case
        assert "\n\n\n" not in text, case


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "<p><b>Tvärprofessionella team</b> <i>Regionen har</i></p>",
            "Tvärprofessionella team Regionen har",
        ),
        (
            "Ett stärkt och utvecklat **suicidpreventivt** arbete **5 445 343 kr**",
            "Ett stärkt och utvecklat suicidpreventivt arbete 5 445 343 kr",
        ),
        ("~~Möte med jurister 20 maj~~", "Möte med jurister 20 maj"),
        ("a) Tillsättning av arbetsgrupp MiniMaria**", "a) Tillsättning av arbetsgrupp MiniMaria"),
        (
            "[Regionala styrdokument om samverkan - Region Dalarna](#)",
            "Regionala styrdokument om samverkan - Region Dalarna",
        ),
        ("Hälso- &amp; sjukvård", "Hälso- & sjukvård"),
    ],
)
def test_strip_markup(raw: str, expected: str) -> None:
    assert strip_markup(raw) == expected


def test_table_rows_take_a_header_of_years_but_not_of_figures() -> None:
    assert table_rows(["Område\t2023\t2024", "Samverkan\t1 000 kr\t2 000 kr"]) == [
        "Område: Samverkan | 2023: 1 000 kr | 2024: 2 000 kr"
    ]
    assert table_rows(["Avesta\t7", "Borlänge\t9"]) == ["Avesta | 7", "Borlänge | 9"]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.stem[:30])
def test_whole_corpus_documents_clean_without_noise(path: Path) -> None:
    text, blocks = structure(path.read_text(encoding="utf-8"))
    assert unicodedata.is_normalized("NFC", text)
    assert [text[b.start : b.end] for b in blocks] == [b.text for b in blocks]
    for noise in ("**", "~~", "<p>", "<b>", "<i>", "\t", "RSS DALARNA", "  "):
        assert noise not in text
    # No word is left broken at a line-break hyphen ("resul-" + "tatet").
    assert not [b.text for b in blocks if b.text[-1:] == "-" and b.text[-2:-1].isalpha()]
    assert any(b.kind == "heading" for b in blocks)
