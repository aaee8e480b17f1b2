"""Places, institutions and professions: shapes of addresses and word lists with context.

| rule | subtype | finds |
|---|---|---|
| street | STREET | 1234 NW 13th Street, 55 Oak Ridge Rd., Apt 4, P.O. Box 1182 |
| address | CITY, STATE, ZIP | "Gainesville, FL 32608(-1234)", "Ocala, Florida", ZIP after a label, ZIP+4 |
| places | STATE, COUNTRY, CITY | state and country names; cities of the US and the world's large ones (GeoNames); a name that is also a common word or a person's name only after "in", "from", "lives in", ... |
| institutions | HOSPITAL, ORGANIZATION | capitalised names ending in a head word: Hospital, Medical Center, Clinic, Hospice, ... (HOSPITAL); University, College, School, Church, Inc, Pharmacy, ... (ORGANIZATION); "University of Florida" |
| department | DEPARTMENT | "Department of Radiology", "Division of Cardiac Electrophysiology" |
| landmarks | LOCATION-OTHER | "Lake Santa Fe", "Lake Underhill Park", "Mare Island Naval Shipyard" |
| organizations | HOSPITAL, ORGANIZATION | well-known health systems, insurers, pharmacies, labs, employers by name (the organizations list) |
| professions | PROFESSION | an occupation (the professions list) after "works as a", "retired", "occupation:", "is a" |
"""  # noqa: E501  (markdown table rows: a row cannot be wrapped)

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from finetune.deid.lexicon import LANGUAGES, Lexicon
from finetune.deid.note_words import Word
from finetune.deid.rules import ListRule, PhiSpan, Rule, rule_span
from finetune.deid.words import fold

_STREET_SUFFIX = (r"(?i:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Court|Ct|Way|Place|Pl"
                  r"|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Trail|Trl|Loop|Square|Sq|Pike|Run|Path"
                  r"|Row|Crossing|Xing|Plaza|Plz|Alley|Aly|Expressway|Expy|Freeway|Fwy|Turnpike|Tpke|Cove|Cv"
                  r"|Point|Pt|Ridge|Hollow|Bend|Landing|Commons|Walk|Estates|Heights|Hts|Manor|Creek|Crescent|Cres|Close"
                  r"|Glen|Grove|Mews|Gate|Knoll|Chase|Meadows?|Green)")
_UNIT = (r"(?:,?[ \t]*\d{1,2}(?:st|nd|rd|th)[ \t]+Floor)?"
         r"(?:,?[ \t]*(?i:Apt|Apartment|Unit|Suite|Ste|Lot|Rm|Room|Bldg|Building|Fl|Floor|#)"
         r"\.?\s*#?\s*[\w-]{1,6})?")
DEPARTMENT_RULE = Rule("department", "DEPARTMENT", (
    r"\b(?i:department|dept\.?|division|section)[ \t]+(?i:of)[ \t]+"
    r"(?:\p{Lu}[\p{L}\p{M}-]*(?:[ \t]+(?:and|&|AND)[ \t]+|[ \t]+)?){1,4}",
), score=0.7)
LANDMARK_RULE = Rule("landmarks", "LOCATION-OTHER", (
    r"\b(?:Lake|Mount|Mt\.|Camp|Fort)[ \t]+\p{Lu}\p{Ll}+(?:[ \t]+\p{Lu}\p{Ll}+){0,2}",
    r"\b\p{Lu}\p{Ll}+[ \t]+County\b(?![ \t]+\p{Lu})",
    r"\b(?:\p{Lu}[\p{L}'’]+[ \t]+){1,3}(?=\p{Lu})"
    r"(?i:Park|Beach|Island|River|Mountains?|Forest|Springs|Mall|Shipyard|Airport"
    r"|Stadium|Zoo|Trailhead|Lake|Bay|Canyon|Campground|Marina|Pier|Bridge|Exit|Reservation|Crossroads|Reserve"
    r"|Preserve|Gardens|Plantation|Pavilion|Center\s+Mall|Outlets|Air\s+Base|Base|National\s+Park|Cemetery"
    r"|Memorial\s+(?:Park|Gardens)|Marina|Pier|Harbor|Harbour|Dock)\b",
    r"\b(?:Pier|Dock|Gate|Terminal)[ \t]+\d{1,3}[A-Z]?\b",
), score=0.6)
STREET_RULE = Rule("street", "STREET", (
    rf"\b\d{{1,6}}[A-Za-z]?[ \t]+(?:(?:[NSEW]|NE|NW|SE|SW|North|South|East|West)\.?[ \t]+)?"
    r"(?:(?:\p{Lu}[\p{L}\p{M}'’.-]*|\d{1,3}(?i:st|nd|rd|th)|(?:del|de|la|los|las|of|the|to))[ \t]+){1,4}"
    rf"{_STREET_SUFFIX}\b\.?"
    rf"(?:[ \t]+(?:[NSEW]|NE|NW|SE|SW)\b\.?)?{_UNIT}",
    r"\b(?:P\.?\s?O\.?\s*Box|Post\s+Office\s+Box|PO\s+Box)\s*#?\s*\d{1,6}\b",
    # numbered streets in any case ("1122 se 4th st", "2250 NW 43RD ST APT 112")
    r"(?i:\b\d{1,6}[ \t]+(?:[nsew]{1,2}\.?[ \t]+)?\d{1,3}(?:st|nd|rd|th)[ \t]+"
    rf"{_STREET_SUFFIX}\b\.?){_UNIT}",
    # a numbered street without a house number ("the walgreens on nw 13th st")
    rf"(?i:\b(?:[nsew]{{1,2}}|north|south|east|west|northwest|northeast|southwest|southeast)\.?[ \t]+"
    rf"\d{{1,3}}(?:st|nd|rd|th)[ \t]+{_STREET_SUFFIX}\b\.?)",
    r"\b\d{1,6}[ \t]+(?:Calle|Avenida|Av\.|Rua|Rue|Via|Camino|Paseo|Carrera|Strada)"
    rf"(?:[ \t]+[\p{{L}}\p{{M}}'’.-]+){{1,3}}{_UNIT}",
    r"(?:(?<=\b(?:on|at|off|near|down)[ \t])|(?<=\p{Ll},[ \t]))(?:(?:[NSEW]|NE|NW|SE|SW)[ \t])?"
    r"(?:\p{Lu}\p{Ll}+[ \t]){1,2}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Lane|Ln|Parkway|Pkwy|Highway|Hwy)\b\.?",
    r"\b(?:Route|Rte|Rt|State\s+Road|SR|County\s+Road|CR|Highway|Hwy|Interstate|I-)\s*\d{1,4}[A-Z]?\b(?!\s*(?:mg|ml|%))",
    # lower-case text ("my home address is 88 linden st"): one or two words and a common suffix
    r"(?=\d)(?<=\b(?:address|is|at|on|to|from|lives|live|moved)[ \t:]+)\d{1,6}[ \t]+(?:[a-z]{3,}[ \t]+){1,2}"
    r"(?:street|st|avenue|ave|road|rd|court|ct|lane|ln|drive|dr|way|boulevard|blvd|place|pl|terrace|circle"
    r"|parkway|trail|highway)\b\.?",
), score=0.8)

_HOSPITAL_HEAD = (
    r"Hospitals?|Hosp\.?|Hospice\s+House|Medicine|Physical\s+Therapy|Rehabilitation|Therapy|Dental|Dentistry|"
    r"Pediatrics|Orthopaedics|Orthopedics|Cardiology|Dermatology|Oncology|Urology|Radiology|Imaging|Diagnostics|"
    r"Open\s+MRI|Research\s+Unit|Cent(?:er|re)|Associates|Practice|Primary\s+Care|General|Medical\s+(?:Center|Centre|Group|Associates|Clinic|Plaza|Pavilion|Campus|Offices?)"
    r"|Med(?:ical)?\.?\s+Ctr\.?|Health(?:care|\s+Care|\s+System|\s+Center|\s+Clinic|\s+Network|\s+Services)?"
    r"|Clinics?|Infirmary|Hospice|Rehab(?:ilitation)?(?:\s+(?:Center|Hospital|Institute|Facility))?"
    r"|Rehab(?:ilitation)?\s+(?:&|and)\s+(?:Nursing|Healing|Health)(?:\s+Center)?"
    r"|Nursing\s+(?:Home|Center|Facility|(?:and|&)\s+Rehab(?:ilitation)?(?:\s+Center)?)|Care\s+Cent(?:er|re)"
    r"|Surgery\s+Center|Surgical\s+(?:Center|Associates|Hospital)|Cancer\s+(?:Center|Institute)"
    r"|(?:Heart|Eye|Kidney|Spine|Orthopaedic|Orthopedic)\s+(?:Institute|Center)|Urgent\s+Care"
    r"|Family\s+(?:Practice|Medicine|Health)|Pediatrics|Physicians|Dialysis(?:\s+(?:Center|Unit))?"
    r"|Imaging(?:\s+Center)?|Memorial|Sanatorium|Assisted\s+Living|Senior\s+Living|Retirement\s+(?:Home|Community)"
    r"|Skilled\s+Nursing(?:\s+Facility)?|Behavioral\s+Health|(?:Recovery|Treatment|Wellness|Counseling)\s+Center"
    r"|Memory\s+Care|VAMC|CBOC|FQHC|VA\s+Medical\s+Center|Medical|Institute|Regional|Lab|Laboratory"
    r"|Recovery\s+Center|Cancer\s+Institute")
# Heads that are ordinary words too: followed by another capitalised word they name no place
_GENERIC_HEAD = regex.compile(
    r"(?i:Health(?:\s+Care)?|Healthcare|Medical|Care|Medicine|Therapy|General|Practice)")
_SPECIALTY = regex.compile(
    r"(?i:Medicine|Physical\s+Therapy|Rehabilitation|Therapy|Dental|Dentistry|Pediatrics|Orthopaedics|Orthopedics"
    r"|Cardiology|Dermatology|Oncology|Urology|Radiology|Imaging|Diagnostics|Open\s+MRI|Research\s+Unit|Practice"
    r"|Primary\s+Care|Associates|Physicians|Family\s+(?:Practice|Medicine|Health)|Urgent\s+Care|General|Regional"
    r"|Lab|Laboratory)")
_ORGANIZATION_HEAD = (
    r"University|College|Schools?|Academy|Elementary|Church|Temple|Mosque|Synagogue|Inc\.?|LLC|Corp(?:oration)?\.?"
    r"|Supply|Supplies|Distribution|Fabrication|Cooperative|Co-op|Hotel|Inn|Coffee|Lines|Solutions|Division"
    r"|Company|Co\.|Bank|Foundation|Association|Society|Jail|Prison|Correctional\s+(?:Institution|Facility)"
    r"|Pharmacy|Drugs?|Stores?|Market|Supermarkets?|Motors|Airlines?|Construction|Industries|Services|Partners"
    r"|Daycare|Day\s+Care|Preschool|Library|Museum|Restaurant|Grill|Cafe|Diner|Farms?|Ministries|Fellowship"
    r"|Logistics|Manufacturing|Enterprises|Group|Agency|Authority|Club|YMCA|Shelter|Court|Consortium|Biorepository"
    r"|Biobank|Laboratories|Labs|Freight|Trucking|Transport|Insurance|Mutual|Parish|Ministry|Cathedral|Chapel"
    r"|Mills|Apartments|League|Team|Union|Council|Coalition|Network|Partnership|Alliance|Commission|Bureau")
# Public agencies, tried before the hospital heads ("Lakeshore County Health Department" is no "... Health")
_AGENCY_HEAD = (
    r"(?:Health|Police|Fire|Sheriff'?s?|Corrections?|Public\s+Safety|Human\s+Services)\s+Department"
    r"|Administration|Fire(?:\s+(?:Rescue|Department|Dept\.?|District|&\s+EMS))?|EMS|Police"
    r"|(?:Examiner|Sheriff|Coroner|Attorney|Prosecutor|Defender|Clerk)'?s?\s+Office"
    r"|Funeral\s+(?:Home|Chapel|Services)"
    r"|Mortuary|Cremation\s+(?:Services|Society)|Toxicology|Forensics?")
_NAME_WORD = r"(?:\p{Lu}[\p{L}\p{M}'’.&-]*)"
_INSTITUTION = regex.compile(
    r"(?P<name>(?:(?:St\.?|Saint|Mt\.?|Mount)[ \t]+)?"
    rf"(?:{_NAME_WORD}[ \t]+(?:(?:of|the|and|&|for|de)[ \t]+)?){{1,5}})"
    rf"(?=\p{{Lu}})(?P<head>(?P<agency>(?i:{_AGENCY_HEAD}))|(?i:{_HOSPITAL_HEAD})"
    rf"|(?P<org>(?i:{_ORGANIZATION_HEAD})))\b"
    rf"(?:[ \t]+(?:North|South|East|West|Northside|Southside|Campus|Downtown|Main|Annex))?"
    rf"(?P<tail>[ \t]+(?:of|in)[ \t]+{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})?"
    rf"|\b(?P<of>(?:University|College|Bank|Church|Hospital|Department|Dept\.?)[ \t]+of[ \t]+(?:the[ \t]+)?"
    rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})")
# Words that do not make a head word a name ("the Clinic", "Outpatient Surgery Center").
_GENERIC = frozenset(("the", "a", "an", "our", "this", "that", "your", "his", "her", "their", "general",
                      "community", "main", "outpatient", "inpatient", "local", "same", "nearest", "other",
                      "new", "st", "saint", "of", "and", "for", "at", "de", "mt", "mount", "medical",
                      "health", "county", "state", "regional", "city", "private", "public", "high", "middle",
                      "nursing", "family", "primary", "care", "senior", "elementary", "university",
                      "hospital", "clinic", "department", "dept", "admitted", "transferred", "discharged",
                      "seen", "followed", "referred", "sent", "went", "from", "to", "in", "by", "called",
                      "pediatric", "adult", "memory", "disorders", "sleep", "pain", "wound", "cancer",
                      "heart", "vascular", "infusion", "behavioral", "women's", "children's", "specialty",
                      "multi-specialty", "surgical", "surgery", "internal", "emergency", "urgent"))
_LOCATION_CONTEXT = frozenset(("in", "from", "to", "near", "at", "visiting", "visited", "outside", "around",
                               "born", "resides", "lives", "moved", "relocated", "immigrated", "emigrated",
                               "native", "traveled", "travelled", "trip", "via"))
# Words before a profession that are not part of it ("worked as a", "full-time")
_NOT_MODIFIERS = frozenset("a an as the at in for of full part time retired former current currently now "
                           "also still self employed unemployed working worked works".split())
_PROFESSION_CONTEXT = regex.compile(
    r"\b(?:(?:works?|worked|working|employed|employment|job(?:\s+title)?|occupation|profession|career|trade|retired"
    r"|work(?:/social)?|social|military\s+(?:hx|history)|mos"
    r"|formerly|for\s+a\s+living)"
    r"(?:\s+(?:as|at|in|for))?\s*(?::\s*|\s*\.{3,}\s*|\s+)(?:as\s+)?(?:an?\s+)?"
    r"|(?:retired|former|ex-|part-?time|full-?time|self-employed|unemployed|laid-off|disabled)\s+"
    r"|\b(?:is|was|as|became|becoming|being|she's|he's|shes|hes|i'm|im|i\s+am|previously|formerly)\s+an?\s+"
    r"(?:retired\s+|former\s+|self-employed\s+|part-?time\s+|full-?time\s+|local\s+)?"
    r"|(?<=[\p{L}\p{N})],\s)an?\s+|(?<=\()an?\s+|(?<=\p{L}[ \t]\()"
    r"|\b(?:served|serves|serving)\s+as\s+(?:an?\s+)?"
    # "a 53-year-old dental hygienist", "19-year-old right-handed college student"
    r"|\b\d{1,3}[- ](?:year|yr)[- ]old\s+(?:(?:male|female|man|woman|right-handed|left-handed|married|single"
    r"|divorced|widowed|retired|former|unemployed)\s+)*)",
    regex.IGNORECASE)


_NEXT_WORD = regex.compile(r"[ \t]+(\p{Lu}[\p{L}\p{M}'’-]+)")
_PLACE_PARTICLES = frozenset(("au", "de", "la", "del", "du", "sur", "upon", "on", "es", "el", "al"))
_AMBIGUOUS_CODES = ("MD|PA|ME|OR|IN|OK|HI|DE|OH|CO|CT|MS|MA|AL|LA|GA|VA|ID|MO|NE|SC|NC|MT|PR|DC|AS|GU|MP"
                    "|VI|NP|MI|IA|WI")
_AFTER_CITY = regex.compile(r",?[ \t]+(?:(?P<STATE>[A-Z]{2})\b"
                            r"(?:,?[ \t]+(?P<ZIP>\d{5}(?:-\d{4})?)(?![\d-]))?"
                            r"|(?P<ZIP2>\d{5}(?:-\d{4})?)(?![\d-]))")

def address_rule(lexicon: Lexicon) -> Rule:
    """City, state and ZIP in an address line ("Gainesville, FL 32608"), ZIPs after a label, ZIP+4."""
    codes = "|".join(sorted(lexicon.state_codes))
    names = "|".join(regex.escape(name.title()) for name in sorted(lexicon.states, key=len, reverse=True))
    city = r"(?P<CITY>\p{Lu}[\p{L}\p{M}.'’-]*(?:[ -]\p{Lu}[\p{L}\p{M}.'’-]*){0,2})"
    return Rule("address", "ZIP", (
        rf"{city},?\s+(?P<STATE>(?-i:{codes})|{names})\.?,?\s+(?P<ZIP>\d{{5}}(?:-\d{{4}})?)(?!\d)",
        # without a ZIP, not the codes that notes use for other things (MD, PA, CT, MS, GA, LA, ...)
        rf"{city},\s*(?P<STATE>(?!(?:{_AMBIGUOUS_CODES})\b)(?-i:{codes})|{names})\b(?![\w-])",
        r"\b(?:zip|zip\s*code|postal\s+code)\s*:?\s*(?P<ZIP>\d{5}(?:-\d{4})?)(?!\d)",
        r"(?<![\w-])(?P<ZIP>\d{5}-\d{4})(?![\w-])",
        # HL7 v2 addresses: ...^^OCALA^FL^34471^USA
        rf"\^(?P<CITY>[A-Z][A-Z .'-]+)\^(?P<STATE>(?-i:{codes}))\^(?P<ZIP>\d{{5}}(?:-\d{{4}})?)"
        r"(?:\^(?P<COUNTRY>USA|US))?",
        # form fields: "City: GAINESVILLE   State: FL   ZIP: 32609"
        r"\bCity[ \t]*:[ \t]*(?P<CITY>\p{Lu}[\p{L}.'’-]*(?:[ -]\p{Lu}[\p{L}.'’-]*){0,2})"
        r"(?=[ \t]{2,}|[ \t]*$|,)",
        rf"\bState[ \t]*:[ \t]*(?P<STATE>(?-i:{codes})|{names})\b",
        r"(?<![\w.])(?P<COUNTRY>U\.S\.A?\.?|USA|U\.K\.)(?![\w])",
        r"(?<=\bthe[ \t])(?P<COUNTRY>US|UK)\b",
    ), score=0.85)


@dataclass
class InstitutionRule(ListRule):
    """Hospitals and organisations named by their head words (the allow-list's words name no place:
    "Cancer Center")."""

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        found = []
        starts = [word.start for word in words]
        for match in _INSTITUTION.finditer(text):
            start, end = match.span()
            if match.group("of") is None:
                modifiers = [w for w in regex.findall(r"[\p{L}\p{M}'’]+", match.group("name"))]
                # leading sentence words ("Admitted Shands ...") are not part of the name
                while len(modifiers) > 1 and \
                        modifiers[0].lower() in _GENERIC - {"st", "saint", "mt", "mount"}:
                    start = text.index(modifiers[0], start) + len(modifiers[0])
                    start += len(text[start:]) - len(text[start:].lstrip())
                    modifiers.pop(0)
                at = bisect.bisect_left(starts, start)  # the first word of the name
                first = words[at] if at < len(words) else None
                rest = [w.lower() for w in modifiers[1:]]
                whole_line = text[text.rfind("\n", 0, start) + 1:start].strip() == "" and \
                    text[end:text.find("\n", end) if "\n" in text[end:] else len(text)].strip() == ""
                if modifiers and first is not None and first.opens and first.text == modifiers[0] and \
                        not whole_line and \
                        first.key not in ("st", "saint", "mt", "mount") \
                        and self.lexicon.english.get(first.key, 0) >= 4.5 \
                        and first.key not in self.lexicon.states and first.key not in self.lexicon.cities \
                        and any(key not in _GENERIC and key not in self.allowed for key in rest):
                    start = words[at + 1].start  # "Attends Redeemed Christian Church"
                    modifiers.pop(0)
                keys = [w.lower() for w in modifiers]
                if match.group("tail"):  # "Children's Hospital of Marrowind": the tail names it
                    keys.append(regex.findall(r"[\p{L}\p{M}'’]+", match.group("tail"))[-1].lower())
                if not any(key not in _GENERIC and key not in self.allowed for key in keys):
                    continue
                head = match.group("head")
                if any(part[:1].islower() for part in head.split()):  # "Health care" is no name
                    continue
                # in capitals a line is a heading ("MENTAL HEALTH"): a name needs a word English rarely uses
                if match.group().isupper() and not any(
                        key not in _GENERIC and self.lexicon.english.get(key, 0) < 4.5 for key in keys):
                    continue
                # a specialty ("Internal Medicine", "Physical Therapy") names a place only with a proper name
                # ... or with two words that are neither generic nor clinical ("Tower Hill Primary Care")
                if _SPECIALTY.fullmatch(match.group("head")) and not any(
                        key not in _GENERIC and self.lexicon.english.get(key, 0) < 4.0 for key in keys) and \
                        (sum(key not in _GENERIC and key not in self.allowed
                             and self.lexicon.english.get(key, 0) < 5.5 for key in keys) < 2
                         or regex.search(r"\s(?:and|&)\s", match.group("name"))):  # "Social Work and Urology"
                    continue
            if match.group("of") is None:
                following = _NEXT_WORD.match(text, end)
                if following:
                    key = fold(following.group(1))
                    if key in self.lexicon.cities or key in self.lexicon.states \
                            or key in self.lexicon.countries:
                        end = following.end(1)  # "Baptist Health Jacksonville", "Mayo Clinic Florida"
                    elif _GENERIC_HEAD.fullmatch(match.group("head")) and (
                            self.lexicon.is_common_word(key) or key in self.allowed):
                        continue  # "Protected Health Information", "Health Care Surrogate"
            of_hospital = bool(match.group("of")) and match.group("of").startswith("Hospital")
            subtype = "ORGANIZATION" if match.group("org") or match.group("agency") or (
                match.group("of") and not of_hospital) else "HOSPITAL"
            found.append(rule_span(start, end, subtype, self.score, self.name))
        return found


@dataclass
class OrganizationRule:
    """Well-known organisations by name (the organizations list): "Mayo Clinic", "Humana", "DaVita".

    A name matches in its written form or in capitals, as a whole word; a city after it is part of
    it ("AdventHealth Ocala").

    Args:
        name: the rule's name.
        lexicon: the word lists (its organizations).
    """

    name: str
    lexicon: Lexicon
    score: float = 0.85

    def __post_init__(self) -> None:
        names = sorted(self.lexicon.organizations, key=len, reverse=True)
        variants = sorted({form for entry in names for form in (entry, entry.upper())}, key=len, reverse=True)
        self._pattern = regex.compile(
            rf"(?<![\p{{L}}\p{{N}}&])(?:{'|'.join(regex.escape(v) for v in variants)})(?![\p{{L}}\p{{N}}&])")
        self._subtypes = {**self.lexicon.organizations,
                          **{key.upper(): value for key, value in self.lexicon.organizations.items()}}

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        found = []
        for match in self._pattern.finditer(text):
            end = match.end()
            following = _NEXT_WORD.match(text, end)
            if following and fold(following.group(1)) in self.lexicon.cities:
                end = following.end(1)
            found.append(rule_span(match.start(), end, self._subtypes[match.group()], self.score, self.name))
        return found


@dataclass
class PlaceRule(ListRule):
    """States, countries and cities by name."""

    score: float = 0.75

    def _ambiguous(self, key: str, subtype: str) -> bool:
        """A place name that is also a person's name, or (cities) a common word: needs context."""
        lexicon = self.lexicon
        if " " in key:
            return False
        if subtype == "STATE":  # "Georgia", "Virginia"; not "Maryland", borne by a handful
            bearers = max(lexicon.given.get(key, 0.0), lexicon.surnames.get(key, 0.0))
            return lexicon.is_name_word(key) or bearers >= 0.005
        return lexicon.is_name_word(key) or lexicon.is_given_name(key) or (
            subtype == "CITY" and (lexicon.is_common_word(key) or key in lexicon.surnames))

    def _never(self, key: str, subtype: str) -> bool:
        """A one-word city that English uses too much to be one even after "at" ("at HOME")."""
        return subtype == "CITY" and " " not in key and self.lexicon.english.get(key, 0.0) >= 4.5

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        found = []
        lexicon = self.lexicon
        index = 0
        while index < len(words):
            matched = False
            for length in ((3, 2, 1) if words[index].key in lexicon.place_heads else (1,)):
                members = words[index:index + length]
                if len(members) < length:
                    continue
                lower = not members[0].capital and index and words[index - 1].key in _LOCATION_CONTEXT \
                    and all(not w.capital for w in members) and \
                    all(self.lexicon.english.get(w.key, 0.0) < 3.0 for w in members) \
                    and len(members[0].key) > 4 \
                    or (length > 1 and not members[0].capital and index and
                        words[index - 1].key in _LOCATION_CONTEXT and all(not w.capital for w in members))
                if not lower and (not members[0].capital or not all(
                        w.capital or w.key in _PLACE_PARTICLES for w in members)):
                    continue
                if any(text[a.end:b.start] not in (" ", "-") and not (
                        text[a.end:b.start] == ". " and a.key in ("st", "ft", "mt", "pt"))
                        for a, b in zip(members, members[1:], strict=False)):
                    continue
                key = " ".join(w.key for w in members)
                if key in self.allowed or key in LANGUAGES:
                    continue
                subtype = ("STATE" if key in lexicon.states else "COUNTRY" if key in lexicon.countries
                           else "CITY" if key in lexicon.cities else None)
                if subtype is None:
                    continue
                before = words[index - 1].key if index else ""
                after_place = (index and words[index - 1].capital
                               and text[words[index - 1].end:members[0].start] == ", ")
                if self._ambiguous(key, subtype) \
                        and (before not in _LOCATION_CONTEXT or self._never(key, subtype)) \
                        and not after_place:
                    continue
                if length == 1 and members[0].shape == "upper" and len(key) <= 3:
                    continue
                found.append(rule_span(members[0].start, members[-1].end, subtype, self.score, self.name))
                if subtype == "CITY":  # "Valdosta, GA", "GAINESVILLE FL", "Jacksonville 32210"
                    after = _AFTER_CITY.match(text, members[-1].end)
                    if after and (after.group("STATE") is None
                                  or after.group("STATE") in lexicon.state_codes):
                        for group in ("STATE", "ZIP", "ZIP2"):
                            if after.group(group):
                                found.append(rule_span(after.start(group), after.end(group), group[:3] if
                                                       group != "STATE" else group, self.score, self.name))
                index += length
                matched = True
                break
            if not matched:
                index += 1
        return found


@dataclass
class ProfessionRule:
    """Occupations after words that introduce one ("works as a", "retired", "occupation:").

    Args:
        name: the rule's name.
        lexicon: the word lists (its professions).
    """

    name: str
    lexicon: Lexicon
    score: float = 0.75

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        found = []
        starts = {word.start: index for index, word in enumerate(words)}
        for match in _PROFESSION_CONTEXT.finditer(text):
            index = starts.get(match.end())
            if index is None:
                continue
            # the longest run of up to 4 words that ends in a listed profession ("petroleum engineer")
            best = 0
            for end in range(index, min(len(words), index + 4)):
                if end > index and (text[words[end - 1].end:words[end].start] not in (" ", "-")
                                    or words[end - 1].key in _NOT_MODIFIERS):
                    break
                if any(" ".join(w.key for w in words[first:end + 1]) in self.lexicon.professions
                       for first in range(index, end + 1)):
                    best = end - index + 1
            if best:
                found.append(rule_span(words[index].start, words[index + best - 1].end, "PROFESSION",
                                       self.score, self.name))
        return found
