"""Pseudonyms for generated participants: given names by gender, surnames once they run out.

Used by :mod:`compendium.maintenance.generate` (larger studies) and
:mod:`compendium.maintenance.twin` (a synthetic twin).
"""

from __future__ import annotations

import random

from ..errors import CompendiumError

__all__ = ["WOMEN", "MEN", "SURNAMES", "pseudonyms"]

# Pseudonyms: ordinary given names (none of the eight canonical pseudonyms, to
# avoid confusing a generated case with a hand-written one). When a list runs
# out, a surname is added: "Alice Oakley". Every given name used that way is
# then also a pseudonym on its own, so the anonymisation gate accepts it
# mid-sentence; the surnames are chosen to be absent from the gate's first-name
# dictionary (tests/test_generate.py checks this), because the gate checks a
# capitalised word after a lower-case letter ("...ice Oakley").
WOMEN = (
    "Abigail Alice Alison Amanda Andrea Angela Anna Anne Barbara Belinda Bethany Brenda Bronwyn Caitlin "
    "Carmen Caroline Catherine Charlotte Chloe Christine Claire Deborah Denise Diana Donna Eleanor Elena "
    "Elise Emily Emma Erin Fiona Frances Gemma Georgia Grace Hannah Harriet Heather Helen Holly Imogen "
    "Irene Isabel Jacqueline Jane Janet Jessica Joanne Josephine Karen Kate Kathleen Kirsten Laura Leanne "
    "Linda Lisa Louise Lucy Lydia Madeleine Maria Marion Megan Melanie Melissa Miriam Monica Naomi Natalie "
    "Nina Olivia Pamela Patricia Paula Penelope Priya Rachel Rebecca Rose Ruth Sally Samantha Sandra Sarah "
    "Sharon Sophie Stephanie Tamara Tanya Teresa Tessa Valerie Vanessa Victoria Wendy Yvonne Zoe Ingrid "
    "Meera Leila Rosa"
).split()
MEN = (
    "Aaron Adam Adrian Alan Alexander Andrew Anthony Arjun Ben Brendan Brian Bruce Cameron Carl Christopher "
    "Colin Connor Craig Damian Daniel Darren David Dean Declan Dominic Douglas Duncan Edward Elliot Ethan "
    "Felix Francis Gareth Gavin George Gordon Graham Gregory Harry Henry Hugh Ian Isaac Jack Jacob James "
    "Jason Jeremy Jonathan Joseph Joshua Julian Justin Keith Kevin Lachlan Liam Luke Malcolm Marcus Mark "
    "Martin Matthew Neil Nathan Nicholas Noah Oliver Oscar Owen Patrick Paul Peter Philip Raymond Richard "
    "Robert Roger Rohan Ross Rowan Russell Ryan Samuel Scott Sean Simon Stephen Stuart Thomas Timothy "
    "Tobias Trevor Vincent Warren Wayne William Xavier Yusuf Zachary Ravi Tomas"
).split()
SURNAMES = (
    "Abbott Acton Alderton Appleby Ashworth Atherton Bagshaw Bainbridge Barnard Barraclough Beckett Bellamy "
    "Bickford Birtles Blackwood Bramwell Brockway Broughton Calloway Chatterton Cobbold Colquhoun Cotterill "
    "Cranston Crowther Dalrymple Dawlish Denholm Dunstable Eastwood Edgerton Fairbrother Fairweather Forsyth "
    "Fothergill Gatley Gladwell Goodall Greenhalgh Gresham Halliwell Hambly Hargreaves Haworth Heathcote "
    "Hepworth Hollingsworth Horsfall Huxtable Ingleby Jarrold Kettering Kilbride Kingswood Lambourne Langford "
    "Leadbetter Lockwood Longworth Lyttleton Maitland Marchbank Merriweather Millward Moffatt Netherwood "
    "Northcott Oakley Ormerod Pemberton Penhaligon Pickering Pilkington Prendergast Quarrie Radcliffe "
    "Rawlinson Redfern Rigby Rockcliffe Rushworth Saltmarsh Satterthwaite Shackleton Southwell Stainforth "
    "Stockdale Sutcliffe Tattersall Thistlewood Thornbury Trelawney Tunnicliffe Underwood Upton Vickery "
    "Wadsworth Wainwright Whitfield Whittaker Winterbottom Woodhouse Worsley Yardley Yeoman"
).split()


def pseudonyms(rng: random.Random, genders: list[str]) -> list[str]:
    """Unique pseudonyms, given names matched to the source's gender."""
    lists = {"Man": rng.sample(MEN, len(MEN)), "Woman": rng.sample(WOMEN, len(WOMEN))}
    surnames = rng.sample(SURNAMES, len(SURNAMES))
    used = {"Man": 0, "Woman": 0}
    names = []
    for gender in genders:
        key = "Man" if gender == "Man" else "Woman"  # no source is non-binary; the notes' pronouns decide
        given, k = lists[key], used[key]
        used[key] += 1
        if k < len(given):
            names.append(given[k])
        else:
            names.append(f"{given[k % len(given)]} {surnames[(k // len(given) - 1) % len(surnames)]}")
    if len(set(names)) != len(names):  # only if n exceeds the lists' capacity (about 11,000 per gender)
        raise CompendiumError("generate: ran out of distinct pseudonyms.", fix="ask for fewer participants.")
    return names
