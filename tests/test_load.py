"""Loaders for .txt, .md, .html, .pdf and .docx, the catalog, encodings and unreadable files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import CORPUS

from core.errors import IngestError
from ingest.load import (
    Catalog,
    decode_text,
    derive_meta,
    list_corpus,
    load_catalog,
    load_document,
    slugify,
)

SWEDISH = (
    "Överenskommelse om samverkan\n\n"
    "Regionen och kommunerna i länet ska gemensamt främja psykisk hälsa för barn och unga. "
    "Åtgärderna följs upp årligen av styrgruppen för hälso- och sjukvård.\n"
)
NO_CATALOG = Catalog({})


def blocks_of(path: Path) -> list[tuple[str, tuple[str, ...], str, str]]:
    doc = load_document(path, NO_CATALOG)
    return [(b.kind, b.heading_path, b.locator, b.text) for b in doc.blocks]


def test_txt_in_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "samverkan.txt"
    path.write_bytes(b"\xef\xbb\xbf" + SWEDISH.encode("utf-8"))
    doc = load_document(path, NO_CATALOG)
    assert doc.text.startswith("Överenskommelse om samverkan")
    assert "hälso- och sjukvård" in doc.text
    assert doc.meta.title == "Överenskommelse om samverkan"
    assert len(doc.sha256) == 64


def test_markdown_headings_give_the_heading_path(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(
        "# Handlingsplan psykisk hälsa\n\nInledande text om planen.\n\n"
        "## Uppföljning\n\nUppföljningen sker med **41 indikatorer**.\n\n"
        "- Indikatorerna följs upp årligen\n- Resultaten redovisas för styrgruppen\n",
        encoding="utf-8",
    )
    assert blocks_of(path) == [
        ("heading", ("Handlingsplan psykisk hälsa",), "", "Handlingsplan psykisk hälsa"),
        ("paragraph", ("Handlingsplan psykisk hälsa",), "", "Inledande text om planen."),
        ("heading", ("Handlingsplan psykisk hälsa", "Uppföljning"), "", "Uppföljning"),
        (
            "paragraph",
            ("Handlingsplan psykisk hälsa", "Uppföljning"),
            "",
            "Uppföljningen sker med 41 indikatorer.",
        ),
        (
            "list_item",
            ("Handlingsplan psykisk hälsa", "Uppföljning"),
            "",
            "- Indikatorerna följs upp årligen",
        ),
        (
            "list_item",
            ("Handlingsplan psykisk hälsa", "Uppföljning"),
            "",
            "- Resultaten redovisas för styrgruppen",
        ),
    ]


HTML = """<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>Fördelning</title>
<style>p { color: red; }</style><script>var hemlig = "skript";</script></head>
<body>
<header>Västra Götalandsregionen sidhuvud</header>
<nav><ul><li>Startsida</li><li>Om oss</li></ul></nav>
<main>
<h1>Fördelning av länsgemensamma medel 2024</h1>
<p>Medlen fördelas till <b>delregional vårdsamverkan</b> och länsgemensam&nbsp;nivå.</p>
<h2>Belopp per område</h2>
<table>
<thead><tr><th>Område</th><th>2023</th><th>2024</th></tr></thead>
<tbody>
<tr><td>Samordnad individuell plan, SIP</td><td>3 500 000 kr</td><td>4 000 000 kr</td></tr>
<tr><td>Samsjuklighet</td><td>5 000 000 kr</td><td>5 800 000 kr</td></tr>
</tbody></table>
<h2>Uppföljning</h2>
<ul><li>Indikatorer följs upp årligen.</li>
<li>Resultaten redovisas för styrgruppen.<ul><li>Styrgruppen möts i mars.</li></ul></li></ul>
<!-- en kommentar som inte är text -->
<div>Text direkt i en div, utan stycke.</div>
</main>
<footer>Kontakt: info@example.se</footer>
</body></html>
"""


def test_html_tables_keep_th_headers_and_noise_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "fordelning.html"
    path.write_text(HTML, encoding="utf-8")
    top = "Fördelning av länsgemensamma medel 2024"
    assert blocks_of(path) == [
        ("heading", (top,), "", top),
        (
            "paragraph",
            (top,),
            "",
            "Medlen fördelas till delregional vårdsamverkan och länsgemensam nivå.",
        ),
        ("heading", (top, "Belopp per område"), "", "Belopp per område"),
        (
            "table_row",
            (top, "Belopp per område"),
            "",
            "Område: Samordnad individuell plan, SIP | 2023: 3 500 000 kr | 2024: 4 000 000 kr",
        ),
        (
            "table_row",
            (top, "Belopp per område"),
            "",
            "Område: Samsjuklighet | 2023: 5 000 000 kr | 2024: 5 800 000 kr",
        ),
        ("heading", (top, "Uppföljning"), "", "Uppföljning"),
        ("list_item", (top, "Uppföljning"), "", "- Indikatorer följs upp årligen."),
        ("list_item", (top, "Uppföljning"), "", "- Resultaten redovisas för styrgruppen."),
        ("list_item", (top, "Uppföljning"), "", "- Styrgruppen möts i mars."),
        ("paragraph", (top, "Uppföljning"), "", "Text direkt i en div, utan stycke."),
    ]
    text = load_document(path, NO_CATALOG).text
    for noise in ("skript", "color", "sidhuvud", "Startsida", "info@example.se", "kommentar"):
        assert noise not in text


def test_html_in_latin1_declared_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "gammal.htm"
    html = (
        "<html><body><h1>Äldreomsorg</h1><p>Vård och omsorg för äldre i Örebro.</p></body></html>"
    )
    path.write_bytes(html.encode("latin-1"))
    assert blocks_of(path)[1][3] == "Vård och omsorg för äldre i Örebro."


def make_pdf(path: Path, pages: list[list[str]]) -> None:
    """A real PDF with a text layer, one list of lines per page (the first line a title)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        y = 800.0
        for i, line in enumerate(lines):
            pdf.setFont("Helvetica", 16 if i == 0 else 11)
            pdf.drawString(72, y, line)
            y -= 26 if i == 0 else 16
        pdf.showPage()
    pdf.save()


def test_pdf_pages_give_page_locators(tmp_path: Path) -> None:
    path = tmp_path / "rapport_2020.pdf"
    make_pdf(
        path,
        [
            [
                "Statsbidrag för integrerad vård",
                "Socialstyrelsen fördelar statsbidrag till tre regioner som deltar i pilot-",
                "projektet. Målet är en sammanhållen vård för unga på särskilda ungdomshem.",
            ],
            [
                "Uppföljning",
                "Regionerna ska följa upp hälso- och sjukvården och rapportera årligen till",
                "Socialstyrelsen. Återrapporteringen sker senast den 31 mars.",
            ],
        ],
    )
    doc = load_document(path, NO_CATALOG)
    assert [(b.kind, b.locator, b.text) for b in doc.blocks] == [
        ("heading", "sida 1", "Statsbidrag för integrerad vård"),
        (
            "paragraph",
            "sida 1",
            "Socialstyrelsen fördelar statsbidrag till tre regioner som deltar i pilotprojektet. "
            "Målet är en sammanhållen vård för unga på särskilda ungdomshem.",
        ),
        ("heading", "sida 2", "Uppföljning"),
        (
            "paragraph",
            "sida 2",
            "Regionerna ska följa upp hälso- och sjukvården och rapportera årligen till "
            "Socialstyrelsen. Återrapporteringen sker senast den 31 mars.",
        ),
    ]
    assert doc.meta.title == "Statsbidrag för integrerad vård"
    assert doc.meta.date == "2020"


def test_pdf_without_text_layer_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "skannad.pdf"
    make_pdf(path, [[""]])
    with pytest.raises(IngestError, match="saknar textlager"):
        load_document(path, NO_CATALOG)


def make_docx(path: Path) -> None:
    from docx import Document as DocxDocument
    from docx.enum.style import WD_STYLE_TYPE

    doc = DocxDocument()
    doc.add_heading("Överenskommelse om samverkan", level=1)
    doc.add_paragraph("Regionen och kommunerna ska samverka kring barn och unga.")
    doc.add_heading("Fördelning av medel", level=2)
    table = doc.add_table(rows=3, cols=3)
    cells = [
        ["Område", "2023", "2024"],
        ["SIP", "3 500 000 kr", "4 000 000 kr"],
        ["Samsjuklighet", "5 000 000 kr", "5 800 000\nkr"],
    ]
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    doc.styles.add_style("Rubrik 2", WD_STYLE_TYPE.PARAGRAPH)  # a Swedish Word's heading style
    doc.add_paragraph("Uppföljning", style="Rubrik 2")
    doc.add_paragraph("Indikatorer följs upp årligen.", style="List Bullet")
    doc.save(str(path))


def test_docx_heading_styles_give_the_heading_path(tmp_path: Path) -> None:
    path = tmp_path / "overenskommelse.docx"
    make_docx(path)
    top = "Överenskommelse om samverkan"
    assert blocks_of(path) == [
        ("heading", (top,), "", top),
        ("paragraph", (top,), "", "Regionen och kommunerna ska samverka kring barn och unga."),
        ("heading", (top, "Fördelning av medel"), "", "Fördelning av medel"),
        # The table stays where it stands in the document, under its heading.
        (
            "table_row",
            (top, "Fördelning av medel"),
            "",
            "Område: SIP | 2023: 3 500 000 kr | 2024: 4 000 000 kr",
        ),
        (
            "table_row",
            (top, "Fördelning av medel"),
            "",
            "Område: Samsjuklighet | 2023: 5 000 000 kr | 2024: 5 800 000 kr",
        ),
        ("heading", (top, "Uppföljning"), "", "Uppföljning"),
        ("list_item", (top, "Uppföljning"), "", "- Indikatorer följs upp årligen."),
    ]


def test_unsupported_hidden_and_reserved_files_are_not_loaded(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "undermapp").mkdir(parents=True)
    for name in (
        "a.txt",
        "b.md",
        "undermapp/c.html",
        "d.pdf",
        "e.docx",
        "f.xlsx",
        "g.png",
        "README.md",
        "catalog.toml",
        ".dold.txt",
        "undermapp/h",
    ):
        (corpus / name).write_text("x", encoding="utf-8")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "config.txt").write_text("x", encoding="utf-8")
    wanted, skipped = list_corpus(corpus)
    assert [p.relative_to(corpus).as_posix() for p in wanted] == [
        "a.txt",
        "b.md",
        "d.pdf",
        "e.docx",
        "undermapp/c.html",
    ]
    assert [p.relative_to(corpus).as_posix() for p in skipped] == ["f.xlsx", "g.png", "undermapp/h"]
    with pytest.raises(IngestError, match="stöds inte"):
        load_document(corpus / "f.xlsx", NO_CATALOG)


def test_missing_corpus_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="--corpus"):
        list_corpus(tmp_path / "finns-inte")


def test_catalog_gives_the_metadata_of_the_real_corpus() -> None:
    catalog = load_catalog(CORPUS)
    path = CORPUS / "vgr_fordelning_medel_samsjuklighet_2024.txt"
    doc = load_document(path, catalog)
    assert doc.meta.doc_id == "vgr-fordelning-medel-samsjuklighet-2024"
    assert doc.meta.publisher == "Västra Götaland (VVG)"
    assert doc.meta.doc_type == "förslag"
    assert doc.meta.groups == ("alla",)
    assert doc.meta.year == 2024
    files, skipped = list_corpus(CORPUS)
    assert len(files) == 5
    assert skipped == []
    assert {p.name for p in files} == set(catalog.entries)


def test_uncatalogued_document_gets_metadata_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Protokoll_Välfärdsrådet_2024-06-12.txt"
    path.write_text("\n\n## Protokoll från Välfärdsrådet\n\nBeslut om medel.\n", encoding="utf-8")
    meta = load_document(path, NO_CATALOG).meta
    assert meta.doc_id == "protokoll-valfardsradet-2024-06-12"
    assert meta.title == "Protokoll från Välfärdsrådet"
    assert meta.date == "2024-06-12"
    assert meta.groups == ("alla",)
    assert derive_meta(tmp_path / "utan_datum.txt", "").title == "utan datum"
    assert slugify("Åtgärder för Äldre & Örebro") == "atgarder-for-aldre-orebro"


def test_catalog_with_own_groups_and_id(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text(
        '[documents."ledning.txt"]\nid = "ledningens-plan"\ntitle = "Ledningens plan"\n'
        'groups = ["chefer", "ledning"]\ntype = "rapport"\ndate = "2023-01"\n',
        encoding="utf-8",
    )
    (tmp_path / "ledning.txt").write_text(SWEDISH, encoding="utf-8")
    meta = load_document(tmp_path / "ledning.txt", load_catalog(tmp_path)).meta
    assert (meta.doc_id, meta.title, meta.groups, meta.doc_type, meta.year) == (
        "ledningens-plan",
        "Ledningens plan",
        ("chefer", "ledning"),
        "rapport",
        2023,
    )


def test_invalid_catalog_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text('[documents."a.txt"\ntitle = ', encoding="utf-8")
    with pytest.raises(IngestError, match="catalog.toml: ogiltig katalog"):
        load_catalog(tmp_path)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_swedish_in_legacy_encodings_is_decoded(tmp_path: Path, encoding: str) -> None:
    text = SWEDISH + "Kostnaden är 5 000 kr per år – enligt ”överenskommelsen”.\n"
    if encoding == "latin-1":
        text = text.replace("–", "-").replace("”", '"')  # Latin-1 has no typographic marks
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    doc = load_document(path, NO_CATALOG)
    assert "Åtgärderna följs upp årligen av styrgruppen för hälso- och sjukvård." in doc.text
    assert "Kostnaden är 5 000 kr per år" in doc.text
    assert "\ufffd" not in doc.text


def test_binary_junk_is_not_text(tmp_path: Path) -> None:
    junk = random.Random(7).randbytes(4096)
    with pytest.raises(IngestError, match="binär"):
        decode_text(junk, "skrap.txt")
    without_nul = bytes(b for b in junk if b) + bytes(range(1, 32)) * 40
    with pytest.raises(IngestError, match="går inte att läsa som text"):
        decode_text(without_nul, "skrap.txt")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("tom.txt", b"", "filen är tom"),
        ("blank.md", b"  \n\n\t\n", "filen innehåller ingen text"),
        (
            "trasig.pdf",
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\nskrap",
            "PDF-filen är trasig",
        ),
        ("trasig.docx", b"PK\x03\x04 inte en riktig zip", "Word-filen är trasig"),
        ("trasig.html", b"\x00\x01\x02<html>", "filen är binär"),
    ],
)
def test_unreadable_files_raise_an_ingest_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=rf"^{name}: {reason}"):
        load_document(path, NO_CATALOG)


def test_too_long_text_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "lang.txt"
    path.write_text("Vård och omsorg. " * 1000, encoding="utf-8")
    with pytest.raises(IngestError, match=r"för lång \(17 000 tecken, gränsen är 10 000\)"):
        load_document(path, NO_CATALOG, max_chars=10_000)


def test_a_single_group_given_as_a_string_is_one_group(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text(
        '[documents."ledning.txt"]\ngroups = "chefer"\n', encoding="utf-8"
    )
    (tmp_path / "ledning.txt").write_text(SWEDISH, encoding="utf-8")
    meta = load_document(tmp_path / "ledning.txt", load_catalog(tmp_path)).meta
    assert meta.groups == ("chefer",)
