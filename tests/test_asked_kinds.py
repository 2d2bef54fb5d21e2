"""Tests of what an answer must name besides a figure: a person, an address, a day, a time."""

from __future__ import annotations

import pytest

from retrieval.asked_kinds import (
    asked_kinds,
    asks_post_holder,
    first_names,
    names_leader,
    names_person,
    states_address,
    states_day,
    states_time,
)


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Vem leder arbetsgruppen för MiniMaria i Dalarna?", ["leader", "person"]),
        ("Who leads the MiniMaria working group?", ["leader", "person"]),
        ("Vem på Socialstyrelsen kan jag kontakta om bilaga 2?", ["person"]),
        ("Vilka kan jag kontakta om det?", ["person"]),
        ("Who signed the foreword of the report?", ["person"]),
        ("Och vilken chef är ytterst ansvarig?", ["person"]),
        ("Which police representative can be co-opted to the group?", ["person"]),
        ("Vilken projektledare har arbetet?", ["person"]),
        # A profession asks for the person who holds it.
        ("Vilken läkare kan adjungeras till arbetsgruppen?", ["person"]),
        ("Och vilken socialsekreterare kan kallas in?", ["person"]),
        ("Which nurse leads the team?", ["person"]),
        ("Vart ska kommunen skicka sin ansökan?", ["address"]),
        ("Vilken e-postadress har RSS Dalarna?", ["address"]),
        ("Var på nätet hittar jag RSS sida med mallar för SIP?", ["address"]),
        ("Which website has the templates?", ["address"]),
        # "Link" is also the name of a system.
        ("What is Cosmic Link going to be used for?", []),
        ("Vilket datum gick ansökningstiden ut?", ["day"]),
        ("När beslutade länschefsnätverket om revideringen?", ["time"]),
        ("Var och när hålls länsdialogen?", ["time"]),
        ("Vem leder arbetet, och när ska det vara klart?", ["leader", "person", "time"]),
        # "när" inside a clause is a conjunction, not a question about time.
        ("Vad gäller när den enskilde har behov av insatser från båda huvudmännen?", []),
        ("Hur mycket fick Region Dalarna 2025?", []),
        ("Vilka mål har den nationella strategin?", []),
        ("Vilka regioner leder arbetet?", []),
    ],
)
def test_asked_kinds(question: str, kinds: list[str]) -> None:
    assert [kind.name for kind in asked_kinds(question)] == kinds


@pytest.mark.parametrize(
    ("text", "leads"),
    [
        ("- Projektledare Carina Wadås, utvecklingsledare beroende och samsjuklighet.", True),
        ("Uppdragsledare Robin Ström", True),
        ("att RSS får i uppdrag att leda arbetet med att revidera riktlinjen", True),
        ("Arbetet leds av Socialstyrelsen.", True),
        # A member of the group with a title that leads nothing.
        ("- Caroline Mörk och Henrietta Forsman RSS Dalarna (utvecklingsledare)", False),
        ("- Katja Glav verksamhetschef BUP", False),
        # A leading post without a name.
        ("En projektledare ska utses.", False),
    ],
)
def test_names_leader(text: str, leads: bool) -> None:
    assert names_leader(text) is leads


@pytest.mark.parametrize(
    ("question", "post"),
    [
        ("Vem är ordförande i Välfärdsrådet i Dalarna?", True),
        ("Vem är SiS kontaktperson för pilotprojektet?", True),
        ("Vem är suicidpreventionssamordnare i Dalarna?", True),
        ("Och vem är verksamhetschef där?", True),
        ("Vilken person är brukarinflytandesamordnare i Dalarna?", True),
        ("Who chairs the new comorbidity delegation?", True),
        ("Who is the project manager for the assignment?", True),
        ("Vem var särskild utredare för Samsjuklighetsutredningen?", True),
        ("Vem var socialminister när uppdraget gavs?", True),
        # An organisation can lead work or answer for it, and a role asked for by "vilken" may
        # be answered by another role.
        ("Vem leder arbetet med att revidera riktlinjen?", False),
        ("Vem ansvarar för upphandlingen?", False),
        ("Och vilken chef är ytterst ansvarig?", False),
        ("Vilka chefer ingår i styrgruppen?", False),
    ],
)
def test_asks_post_holder(question: str, post: bool) -> None:
    assert asks_post_holder(question) is post


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("- Projektledare Carina Wadås, utvecklingsledare beroende och samsjuklighet.", True),
        ("Olivia Wigzell Generaldirektör", True),
        ("Projektledare för arbetet med regeringsuppdraget är Pär Alexandersson.", True),
        ("Anna-Karin Svensson håller i utbildningen.", True),
        ("Projektledare för Projekt Blåklint är Gunvor Stenlund.", True),
        ("alma.haracic@socialstyrelsen.se", True),
        # Capitalised words that are no one's name.
        ("- Mini Maria- uppstart projektgrupp", False),
        ("Region Dalarna och Västra Götalandsregionen", False),
        ("Mental Health First Aid, MHFA av KI", False),
        ("rss.dalarna@regiondalarna.se", False),
        # A first name alone, or before a lower-case word, names no one in particular.
        ("Maria ungdom i Region Stockholm", False),
        ("Maria", False),
    ],
)
def test_names_person(text: str, person: bool) -> None:
    assert names_person(text) is person


def test_the_first_names_are_read_without_their_comments() -> None:
    names = first_names()
    assert {"Carina", "Pär", "Olivia", "Åsa"} <= names
    assert not any(name.startswith("#") for name in names)
    # Capitalised common words are not names ("Dag 1", "Liv och hälsa").
    assert {"Dag", "Liv"}.isdisjoint(names)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Ansökan skickas till rss.dalarna@regiondalarna.se", True),
        ("Ring 023-49 00 00 för frågor.", True),
        ("PLUSwebb: www.regiondalarna.se/sip", True),
        ("Mallarna finns på regiondalarna.se/plus/sip.", True),
        ("Vi följer t.ex. HälsoSAMS.", False),
        ("Ansökan skickas till RSS Dalarna.", False),
        ("Totalt 21 724 099 kr", False),
    ],
)
def test_states_address(text: str, address: bool) -> None:
    assert states_address(text) is address


@pytest.mark.parametrize(
    ("text", "day", "time"),
    [
        ("Sista dag för ansökan var den 20 april 2020.", True, True),
        ("Beslut i länschefsnätverket 220923.", True, True),
        ("Rapporten publicerades 2024-06-12.", True, True),
        ("Beslut om ny SIP-riktlinje september 2023", False, True),
        ("Arbetet startar hösten 2024.", False, True),
        ("Pilotprojektet pågår 2021–2025.", False, False),
        # A sum is not a day, and "may" in English is a verb.
        ("Västra Götaland får 29 276 915 kr.", False, False),
        ("The region may apply again.", False, False),
    ],
)
def test_states_day_and_time(text: str, day: bool, time: bool) -> None:
    assert states_day(text) is day
    assert states_time(text) is time
