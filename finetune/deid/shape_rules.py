"""Rules for PHI with a fixed shape: dates, contacts, identifiers after a label, ages, rooms.

US conventions, as in the i2b2 2014 notes. The shapes were listed from what notes write, not from
this project's synthetic templates; `tests/data/deid_shapes.jsonl` has one hand-written case per
shape.

| rule | subtype | finds |
|---|---|---|
| date | DATE | 2019-03-04 (also before T10:22), 2019/03/04, 03/04/2019, 3/4/19, 03.04.2019, 3-4-2019; 3/4 after a date word ("on 3/4") |
| date_words | DATE | 04Mar2019, 04-MAR-2019, 4 March 2019, March 4th, 2019, Mar. 4, March 2019, May of 2018, months alone |
| year | DATE | a year 1900-2099 standing alone (not a quantity: 2000 mg, at 1900) |
| weekday | DATE | Monday ... Sunday, Tues, Thurs |
| holiday | DATE | Christmas, Thanksgiving, New Year's, Fourth of July, ...; seasons with a year ("spring 2018") |
| phone | PHONE / FAX | (352) 555-0101, 352-555-0101, 352.555.0101, +1 352 555 0101, 352 555 0101, x23 / ext. 22, 10 digits after a phone label, pagers, international; FAX after "fax" |
| email | EMAIL | name@host.domain |
| url | URL | http(s):// in any case, www., bare domains (mychart.example.org/portal) |
| ipaddr | IPADDR | IPv4 (octets <= 255), IPv6 full and compressed |
| ssn | SSN | 123-45-6789; after an SSN label also 123 45 6789, 123.45.6789, 123456789 |
| mrn, account, healthplan, license, device, vehicle, bioid, idnum | those IDs | a value with digits after its labels (MRN, MR#, Medical Record Number, Acct, FIN, Member ID, Policy #, DEA, NPI, S/N, Plate, VIN, Accession, Specimen, Claim #, ...) |
| dea | LICENSE | a DEA registration number (2 letters, 7 digits, valid check digit) |
| id_number | IDNUM | any other run of 6+ digits, or letters + 5+ digits, that is not a quantity |
| username | USERNAME | the value after username / login / user ID |
| room | ROOM | Room 412B, Rm 3, bed 14, Bay 2 |
| age | AGE | 92 yo, 45 y/o, 67-year-old, 67 years old, ninety-two year old, age 34, aged 80, 9 mo old, 52M / 52 F, in her 70s |
"""  # noqa: E501  (markdown table rows: a row cannot be wrapped)

from __future__ import annotations

import regex

from finetune.deid.ages import WRITTEN_NUMBER
from finetune.deid.rules import Rule

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:(?:19|20)\d{2}|'?\d{2})"
# Numbers followed by one of these are quantities, never dates or identifiers.
_UNIT = (r"(?:\s*(?:mg|mcg|µg|ug|g|gm|grams?|kg|lbs?|oz|ml|mL|cc|l|L|dl|dL|meq|mEq|mmol|units?|u|iu|IU|"
         r"kcal|cal|calories|mmhg|mmHg|bpm|%|percent|cm|mm|m|km|ft|feet|in|inches|steps|hrs?|hours|h|min|"
         r"minutes|sec|x|times|tabs?|tablets?|caps?|capsules?|puffs?|drops?|cells|copies|/(?:hr|h|min|day|d|kg|ul|uL|mcL|mm3))\b)")
_NO_WORD_BEFORE = r"(?<![\w/.-])"
_NO_WORD_AFTER = r"(?![\w/-]|\.\w)"
_DATE_CONTEXT = (r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday"
                 r"|saturday|sunday|on|since|from|until|till|to|through|thru|by|after|before|dated?|DOS|seen|visit|last|next|"
                 r"of|starting|started|beginning|effective|due|admitted|discharged|returned?|surgery|procedure|"
                 r"call|called|appt|appointment|f/u|follow-up|followup|rtw|off|thru|due)")


def _valid_ip(text: str) -> bool:
    return all(int(part) <= 255 for part in text.split("."))


def _valid_numeric_date(text: str) -> bool:
    """Month 1-12 and day 1-31 in m/d(/y), m.d.y, m-d-y or yyyy-mm-dd shapes."""
    if text.isdigit() and len(text) == 8:  # yyyymmdd
        return 1 <= int(text[4:6]) <= 12 and 1 <= int(text[6:]) <= 31
    parts = regex.split(r"[/.\-]", regex.split(r"[T ]", text, maxsplit=1)[0])
    if len(parts) < 2 or not all(part.isdigit() for part in parts):
        return False
    if len(parts) == 2 and len(parts[1]) == 4:  # month / year
        return 1 <= int(parts[0]) <= 12
    if len(parts[0]) == 4:
        month, day = int(parts[1]), int(parts[2])
    else:
        month, day = int(parts[0]), int(parts[1])
    return 1 <= month <= 12 and 1 <= day <= 31


def _valid_dea(text: str) -> bool:
    """The DEA check digit: (d1 + d3 + d5) + 2 * (d2 + d4 + d6), last digit = d7."""
    digits = [int(char) for char in text[2:]]
    total = digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])
    return total % 10 == digits[6]


def _has_digits(count: int):
    def check(text: str) -> bool:
        return sum(char.isdigit() for char in text) >= count
    return check


def _labelled(labels: str,
              value: str = r"((?:(?<![A-Za-z])(?-i:[A-Z]{2,5})[ ](?=(?-i:[A-Z]{0,3})\d[\d-]{2}))?"
                           r"(?:[A-Za-z]{1,6}[-#.]?){0,3}\d[A-Za-z0-9]*"
                           r"(?:[-./][A-Za-z0-9]+)*)") -> str:
    """A value after one of `labels`, with the words and marks between them ("MRN #:", "No. is")."""
    return (rf"\b(?:{labels})\s*(?:#|no\.?|num(?:ber)?\.?|id)?\s*[:#=.]?\s*(?:is\s+|of\s+)?{value}"
            r"(?![\w-])")


_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_ORDINAL_WORD = (r"(?:(?:twenty|thirty)[\s-]+)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
                 r"|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth"
                 r"|nineteenth|twentieth|thirtieth")
_SPOKEN_YEAR = (r"(?:two\s+thousand(?:\s+and)?(?:\s+(?:twenty|ten|eleven|twelve|thirteen|fourteen|fifteen"
                r"|sixteen|seventeen|eighteen|nineteen))?(?:[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))?"
                r"|(?:nineteen|twenty)\s+(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|ten|eleven|twelve"
                r"|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|oh\s+\w+)(?:[\s-]+(?:one|two|three"
                r"|four|five|six|seven|eight|nine))?)")
_AGE_UNIT = r"(?:years?|yrs?|yr\.|y\.?o\.?|y/o)"
_AGE_SMALL_UNIT = r"(?:months?|mos?|mo\.|weeks?|wks?|days?)"

SHAPE_RULES: tuple[Rule, ...] = (
    Rule("date", "DATE", (
        rf"{_NO_WORD_BEFORE}\d{{4}}-[01]?\d-[0-3]?\d(?:[T ][0-2]?\d:[0-5]\d(?::[0-5]\d)?)?{_NO_WORD_AFTER}",
        rf"{_NO_WORD_BEFORE}\d{{4}}[/.][01]?\d[/.][0-3]?\d{_NO_WORD_AFTER}",
        rf"{_NO_WORD_BEFORE}[01]?\d/[0-3]?\d/(?:\d{{4}}|\d{{2}}){_NO_WORD_AFTER}",
        rf"{_NO_WORD_BEFORE}[01]?\d-[0-3]?\d-(?:\d{{4}}|\d{{2}})(?![\w-]|\.\d|{_UNIT})",
        rf"{_NO_WORD_BEFORE}[01]?\d\.[0-3]?\d\.\d{{4}}{_NO_WORD_AFTER}",
        # a month and day without a year only after a date word ("seen 3/4"), or the second of a range
        rf"(?<!(?:pain|score|rated|scale)[^\n]{{0,24}})"
        rf"(?:(?<=\b{_DATE_CONTEXT}\.?,?\s+)|(?<=\d/\d{{1,2}}\s*[-–]\s*)|(?<=^[ \t]*)|(?<=[(]))"
        r"[01]?\d/[0-3]?\d"
        rf"(?![\w/]|\s*(?:strength|murmur|power|scale|mg){_UNIT}?)",
        # a month and day followed by a time or starting a range ("3/3 18:00", "3/11-3/15")
        rf"{_NO_WORD_BEFORE}[01]?\d/[0-3]?\d"
        r"(?=[ \t]+[0-2]?\d:[0-5]\d|[ \t]*[-–][ \t]*[01]?\d/[0-3]?\d(?![\d/]))",
        # a two-digit day needs no context ("around 2/20"): fractions rarely have such denominators
        rf"(?<!(?:pain|score|rated|scale|apgars?)[^\n]{{0,24}}){_NO_WORD_BEFORE}[01]?\d/(?:1[1-9]|2\d|3[01])"
        rf"(?![\w/]|\.\d|\s*(?:strength|murmur|power|scale){_UNIT}?)",
        # compact yyyymmdd, alone or leading a timestamp or a file name ("20190304", "IMG_20230914_1015")
        r"(?<![0-9])(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?=\d{4,6}(?![0-9])|(?![0-9]))",
        # month / year ("12/2018")
        rf"{_NO_WORD_BEFORE}[01]?\d/(?:19|20)\d{{2}}{_NO_WORD_AFTER}",
    ), score=0.8, validate=_valid_numeric_date, ignore_case=True),
    Rule("date_words", "DATE", (
        rf"(?<!\w)[0-3]?\d(?:st|nd|rd|th)?[-\s]?(?:of\s+)?{_MONTH}\.?(?:[-\s,]*{_YEAR})?(?![\w])",
        rf"\b{_MONTH}\.?\s*{_DAY}(?:[ \t]*[-–][ \t]*{_DAY}(?![ \t]*(?:mg|%)))?"
        r"(?:,?\s*(?:19|20)\d{2})?(?![\w/]|:\d|\.\w)",
        rf"\b{_MONTH}\.?,?\s+(?:of\s+)?(?:19|20)\d{{2}}\b",
        r"\b(?-i:January|February|March|April|June|July|August|September|October|November|December)\b"
        r"(?!(?-i:\s+\p{Lu}\p{Ll}))",
        # "in May", "late May": the month, not the verb
        r"(?=M)(?<=\b(?:in|early|late|mid|since|until|till|by|of|last|next|this|through|before|after)[ \t-])"
        r"(?-i:May)\b(?![ \t]+(?:be|have|not|need|take|help|also|cause|want|require|benefit|consider|use"
        r"|return|resume|continue|try|get|go|do|call|come|feel|experience|develop|see)\b)",
        # "on the 20th", "the twelfth of november"
        r"(?=\d)(?<=\b(?:on|by|until|til|till|thru|through|since|from|before|after|(?:mon|tues|wednes|thurs|fri|satur|sun)day)"
        r"[ \t]+the[ \t]+)[0-3]?\d(?:st|nd|rd|th)\b(?![ \t]+(?:percentile|day|week"
        r"|month|year|dose|cycle|time|floor|grade|rib|toe|finger|ed(?:ition)?)\b)",
        rf"\b(?:{_ORDINAL_WORD})[ \t]+of[ \t]+{_MONTH}\b(?:,?[ \t]+{_YEAR}\b)?",
    ), score=0.8, ignore_case=True),
    # dictated text: "october third two thousand twenty three"
    Rule("spoken_date", "DATE", (
        rf"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)"
        rf"\s+(?:the\s+)?(?:{_ORDINAL_WORD})\b(?:,?\s+{_SPOKEN_YEAR}\b)?",
    ), score=0.7, ignore_case=True),
    Rule("year", "DATE", (
        r"(?<![\w$#@.,/:-])(?<!\b(?:at|@|by|x|times|around)\s)(?<!^[ \t]*(?=\d{4}(?:[ \t]{2}|\t)))"
        rf"(?:19|20)\d{{2}}(?![\w/:-]|[.,]\d|{_UNIT}|'?s\b)",
        r"(?<![\w$#@.,/:-])'?(?:19|20)?\d0'?s\b(?<=\d{4}'?s)",
        r"(?<![\w$#@.,/:-])(?:19|20)\d{2}[ \t]*[-–][ \t]*(?:(?:19|20)\d{2}|\d{2})(?![\w/:-]|[.,]\d)",
    ), score=0.6),
    Rule("weekday", "DATE", (r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|tues|thurs)\b",
                             r"(?<=\()(?:mon|tue|wed|thu|fri|sat|sun)(?=\))",
                             r"\b(?:mon|tue|wed|thu|fri|sat|sun)\b\.?"
                             rf"(?=,?[ \t]+(?:\d{{1,2}}/|\d{{1,2}}[ \t]+{_MONTH}\b|{_MONTH}[ \t]+\d"
                             r"|thru|through|to|-|and|or)|[ \t]*[-–])"
                             r"|(?<=\b(?:thru|through|to|-|and|or|on|next|last|every)[ \t]+)"
                             r"(?:mon|tue|wed|thu|fri|sat|sun)\b",),
         score=0.7, ignore_case=True),
    Rule("holiday", "DATE", (
        r"\b(?:christmas(?:\s+(?:eve|day))?|xmas|thanksgiving|easter|halloween|new\s+year'?s(?:\s+(?:eve|day))?"
        r"|memorial\s+day|labor\s+day|independence\s+day|fourth\s+of\s+july|july\s+4th|valentine'?s\s+day"
        r"|mother'?s\s+day|father'?s\s+day|veterans\s+day|hanukk?ah|chanukah|ramadan|passover|diwali|kwanzaa"
        r"|yom\s+kippur|rosh\s+hashanah|good\s+friday|(?:lunar|chinese)\s+new\s+year"
        r"|(?:martin\s+luther\s+king|mlk)(?:\s+jr\.?)?\s+day|presidents'?\s+day)\b",
        r"\b(?:spring|summer|fall|autumn|winter)(?:\s+of)?\s+(?:19|20)\d{2}\b",
    ), score=0.7, ignore_case=True),
    Rule("phone", "PHONE", (
        r"(?<![\w.+-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)[\s.-]?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
        r"(?:\s*(?:x|ext\.?|extn\.?|extension)\s*\d{1,5})?(?![\w-])",
        r"\b(?:phone|ph|tel|telephone|cell|mobile|home|work|call|fax|contact|pager|pgr|beeper|#)\s*"
        r"(?:#|no\.?|number)?\s*[:.]?\s*(\d{10}|\d[\d-]{3,8}\d)(?![\w-])",
        r"(?<![\w+])\+(?:[2-9]\d{0,2})(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])",
        # an extension alone after a paging word ("paged to x4471")
        r"(?=\d)(?<=\b(?:paged?|called?|call|reach|dial|ext\.?)[ \t]+(?:to[ \t]+|at[ \t]+)?x)(\d{3,5})\b",
    ), context=("fax", "f:", "facsimile"), context_subtype="FAX", context_chars=16, ignore_case=True,
        validate=lambda text: _has_digits(5)(text) or (text.isdigit() and len(text) >= 3)),  # or an extension
    Rule("email", "EMAIL", (r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",), score=0.95),
    Rule("url", "URL", (
        r"\b(?:https?://|ftp://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]",
        r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|org|net|edu|gov|mil|info|io|us|health|care|biz)"
        r"(?![\w@-])(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])?",
    ), ignore_case=True),
    Rule("ipaddr", "IPADDR", (
        r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)",
    ), validate=_valid_ip),
    Rule("ipv6", "IPADDR", (
        r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])",
        r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,5})?(?![\w:])",
    ), validate=lambda text: text.count(":") >= 2 and any(char.isdigit() for char in text)),
    Rule("ssn", "SSN", (
        r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",
        r"\b(?:SSN|SS#|SS\s+#|soc(?:ial)?\.?\s+sec(?:urity)?\.?(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*"
        r"(\d{3}[\s.-]?\d{2}[\s.-]?\d{4})(?!\d)",
    ), score=0.95, ignore_case=True),
    Rule("mrn", "MEDICALRECORD", (_labelled(
        r"MRN|MR\s*#|MR\s+(?:no|number)\.?|medical\s+record(?:\s+(?:number|no\.?|#))?|med\.?\s*rec(?:ord)?\.?"
        r"|unit\s+(?:no|number)\.?|hospital\s+(?:no|number)\.?|chart\s*(?:#|no\.?|number)|EMPI|patient\s+ID"
        r"|clinic\s+(?:no|number)\.?"
        r"|pt\.?\s+ID|MR"),), ignore_case=True, validate=_has_digits(3)),
    Rule("account", "ACCOUNT", (_labelled(
        r"acc(?:oun)?t\.?|FIN|encounter|enc\.?\s*#|visit\s*(?:#|no\.?|number|ID)|CSN|HAR|billing\s*(?:#|no|number)"
        r"|invoice"),), ignore_case=True, validate=_has_digits(3)),
    Rule("healthplan", "HEALTHPLAN", (_labelled(
        r"member|subscriber|policy(?:\s+holder)?|group|insurance|ins\.|plan|medicaid|medicare|MBI|HICN"
        r"|health\s*plan|beneficiary|BCBS|payer|carrier|MBR|GRP"),),
        ignore_case=True, validate=_has_digits(2)),
    Rule("license", "LICENSE", (_labelled(
        r"driver'?s?\s+licen[sc]e|DL|DEA|NPI|licen[sc]e(?!\s+plate)|lic\.?|certificate|registration"
        r"|(?:RN|LPN|nursing|medical|state|professional)\s+licen[sc]e"),),
        ignore_case=True, validate=_has_digits(3)),
    Rule("dea", "LICENSE", (r"\b[A-Z][A-Z9]\d{7}\b",), validate=_valid_dea),
    Rule("license_number", "LICENSE", (
        r"\b(?:licen[sc]e|lic\.?)[ \t]*(?:#|no\.?|number)?[ \t]*:?[ \t]*([A-Z]{1,4}[ -]?\d{4,})\b",),
         ignore_case=True),
    Rule("device", "DEVICE", (_labelled(
        r"serial|S/N|SN|device(?:\s+(?:ID|serial))?|model/serial|UDI|IMEI|generator|lead|lot"),),
         ignore_case=True, validate=_has_digits(3)),
    Rule("vehicle", "VEHICLE", (
        _labelled(r"(?:licen[sc]e\s+)?plate|tag|VIN|vehicle",
                  r"((?=[A-Z0-9]{0,4}[- ]?[A-Z0-9]*\d)[A-Z0-9]{1,4}[- ]?[A-Z0-9]{2,14})"),
    ), ignore_case=True, validate=_has_digits(2)),
    Rule("bioid", "BIOID", (_labelled(
        r"specimen|accession|acc\.?\s*#|sample|biobank|biorepository|block|slide|surgical\s+pathology"
        r"|path(?:ology)?(?:\s+case)?|biospecimen|DNA|lab\s*(?:ID|#)|tube|barcode|aliquot|cassette"),),
         ignore_case=True, validate=_has_digits(3)),
    Rule("idnum", "IDNUM", (_labelled(
        r"claim|case|order|requisition|req\.?|study|subject|participant|reference|ref\.?|confirmation"
        r"|authori[sz]ation|auth\.?|PA|ticket|badge|employee|protocol|report|incident|record|file|ID"
        r"|identifier|docket|trial|enrollment|screening|passport|a-?number|alien|kit|microchip|tag"
        r"|photos?|image|img|randomization|meeting\s+ID|CLIA|(?:access|clinic|transmitter|sensor|pairing|activation"
        r"|verification|security|enrollment|tracking|door|gate|lock|transmitter/sensor)\s+code"),),
         ignore_case=True, validate=_has_digits(3)),
    Rule("id_number", "IDNUM", (
        rf"(?<![\w.,/$:-])(?:[A-Z]{{1,4}}-?\d{{5,}}|\d{{6,}})(?:-[A-Z0-9]+)*(?![\w/%:-]|[.,]\w|{_UNIT})",
        # groups of digits after a letter and digits, 10+ digits in all (ISBT 128 "W0412 19 448271 7")
        r"(?<![\w.,/$:-])(?=(?:[A-Z ]*\d){10})[A-Z]{1,3}\d{3,}(?:[ ]\d{1,7}){2,}(?![\w/%:-]|[.,]\w)",
        # letters inside a long run of digits ("05D2149877")
        r"(?<![\w.,/$:-])(?=[A-Z0-9]{8,}(?![\w-]))(?=(?:[A-Z]*\d){6})\d+[A-Z]+\d[A-Z0-9]*(?![\w/%:-]|[.,]\w)",
        # hyphenated codes with 5+ digits and a run of 4
        # ("S19-04412-A", "ROI-2019-00388", "K240-118-59-072-0")
        r"(?<![\w.,/$#:-])(?=[A-Z0-9-]*\d{4})(?=(?:[A-Z-]*\d){5})(?=[0-9-]*[A-Z]|(?:[A-Z0-9]+-){2}|[A-Z0-9-]*\d{6})"
        r"[A-Z0-9]+(?:-[A-Z0-9]+)+(?![\w/%:-]|[.,]\w)",
    ), score=0.6),
    # dictated numbers: seven or more digits spoken one by one, or digits spaced out after a label
    Rule("spoken_number", "IDNUM", (
        rf"\b{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD}){{6,}}\b",
        r"\b(?:number|no\.?|#)[ \t]+((?:\d[ \t]){4,}\d)\b",
        r"\b(?:ID|number|no\.?|#)[ \t]+(\d{3,4}(?:[ \t]\d{3,4}){2,})\b",
    ), context=("phone", "call", "cell", "fax", "number is"), context_subtype="PHONE", context_chars=24,
        score=0.7, ignore_case=True),
    Rule("username", "USERNAME", (
        r"\b(?:user\s*name(?:[ \t]+on[ \t]+[\w ]{1,24}(?=:))?|username|user\s*id|userid|login(?:\s+id)?"
        r"|logged\s+in\s+as|log-?in|uid|user|"
        r"account\s+name|handle|screen\s*name)(?:\s*[:=]\s*|\s+(?:is\s+)?)[\"'(]?([A-Za-z][A-Za-z0-9._-]{2,30}\d*)"
        r"(?=[\s\"').,;]|$)(?<=[0-9._-][A-Za-z0-9]*|(?<=[:=]\s*[\"'(]?)[A-Za-z]{3,})",
        r"(?<=\b(?-i:RN|MD|NP|PA|DO|LPN|PharmD|CNA|MA|RT)[ \t]\()(?-i:[a-z][a-z0-9._]{3,})(?=\))",
        r"(?<![\w@.-])(?-i:[a-z]{4,}\d{1,4}|[A-Z]{5,}\d{2,3}|[a-z]{2,}(?:_[a-z0-9]{2,})+|[a-z]{3,}\.[a-z]{2,3})"
        r"(?![\w@-]|\.\w)(?<!\.(?:com|org|net|edu|gov))",
    ), ignore_case=True, score=0.8),
    Rule("room", "ROOM", (
        r"\b(?:room|rm\.?|bed(?:\s+assignment)?|bed\s*space|bay|pod|cubicle|chair|courtroom|cell|(?-i:LDR|OR|PACU))"
        r"\s*#?\s*:?\s*"
        r"(\d{1,4}[A-Za-z]?(?:-\d{1,3}[A-Za-z]?|-[A-Za-z])?"
        r"|[A-Za-z]\d{1,4}|[A-Za-z]{1,5}-\d{1,4}[A-Za-z]?|[A-Za-z]\d{1,2}-\d{1,4}"
        r"|(?<=:\s*)(?-i:[A-Z][a-z]{1,7})[ ]\d{1,3})"
        r"(?![\w-]|\s*(?:days?|hours?|rest)\b)",
    ), ignore_case=True, score=0.7),
    Rule("age", "AGE", (
        rf"(?<![\w.])(\d{{1,3}}|{WRITTEN_NUMBER})\s*-?\s*{_AGE_UNIT}[\s-]*(?:old|of\s+age)\b",
        rf"(?<![\w.])(\d{{1,3}}|{WRITTEN_NUMBER})\s*-?\s*{_AGE_SMALL_UNIT}[\s-]*old\b",
        r"(?<![\w.])(\d{1,3})\s*(?:yo|y/o|y\.o\.?|yom|yof|yowm|yowf|yobm|yobf)(?!\w)",
        r"\b(?:aged?|age:)\s*:?\s*(\d{1,3})(?![\d%/]|\.\d)(?!\s*(?:weeks?|wks?|days?|%))",
        r"(?:(?<=^|\n)[ \t]*|(?<=\b(?:a|an|is|pt|patient|this|ID|CC|HPI)\s*:?\s+)|(?<=[:,]\s*)"
        r"|(?<=\S[ \t]{2,}))"
        r"(\d{1,3})\s?(?-i:M|F)(?![\w°])",
        # right after a name: "Kemi (19)", "Oluwaseun Adeyemi, 58, is"
        r"(?<=(?-i:\p{Lu}\p{Ll}+),[ \t])(\d{1,3})"
        r"(?=,[ \t]+(?:is|was|who|a|an|lives|works|has|had)\b|[ \t]*(?:--|—))",
        r"\((\d{1,3})[ \t]*(?:y|yr|yrs|yo|y/o|years?)(?=[ \t]*(?:(?-i:[MF])\b|\)))",
        r"\b(?:turns|turned|turning)[ \t]+(\d{1,3})\b(?![\d.%/])",
        r"\b(?:dx|diagnosed|died|d\.)[ \t]+(?:\p{L}+ly[ \t]+)?(?:at[ \t]+(?:age[ \t]+)?)?(\d{2})\b"
        r"(?![\d.%/]|[ \t]*(?:mg|days?|weeks?|months?|years?|y|yrs?|cm|mm))",
        r"\b(?:she|he|they)(?:'?s|\s+is|\s+was|\s+turned|\s+will\s+be)\s+(\d{1,3})\b(?![\d.%]|\s*(?:mg|lbs?|kg|min"
        r"|minutes|weeks?|wks?|days?|times|hours?|percent|years\s+ago|and\s+a\s+half))",
        r"\bin\s+(?:his|her|their|the)\s+(?:early\s+|mid-?\s*|late\s+)?((?:[1-9]0|one\s+hundred)'?s)\b",
        r"\b(?:in|since|until|by|during)\s+(?:his|her|their|my)\s+(?:early\s+|mid-?\s*|late\s+)?(twenties|thirties"
        r"|forties|fifties|sixties"
        r"|seventies|eighties|nineties)\b",
        r"(?<![\w.])(\d{1,3})\s*/\s*(?-i:M|F)\b",
        r"\b(?:is|was)\s+((?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](?:one|two|three|four"
        r"|five|six|seven|eight|nine))?)\b(?=\s*[,.;]|\s+(?:and|with|who|widowed|married|single|divorced)\b)",
        rf"\b(?:age|aged)\s+({WRITTEN_NUMBER})\b",
        # the age after a birth date: "DOB 04/30/1947 (76)"
        r"\b(?:DOB|D\.O\.B\.|born|birth\s*date|date\s+of\s+birth)[ \t:]*[\d/.-]{6,10}[ \t]*\((\d{1,3})"
        r"(?=[ \t]*(?:y|yo|yrs?|years?)?[ \t]*\))",
        # children's ages in a list ("three children (16, 12 and 7)"), "now ninety-one", "married at nineteen"
        # (the digits first: the look-behind is tried only where a list of small numbers closes)
        r"(?<![\w.])(\d{1,2})(?=(?:[ \t]*(?:,|and|&)[ \t]*\d{1,2})*\))"
        r"(?<=\b(?:children|kids|sons|daughters|grandchildren|grandkids|siblings|sisters|brothers|twins)\b[^()\n]{0,20}"
        r"\((?:\d{1,2}[ \t]*(?:,|and|&)[ \t]*)*\d{1,2})",
        rf"\b(?:now|married\s+at|widowed\s+at|at\s+age)\s+({WRITTEN_NUMBER})\b(?=\s*[,.;)]|\s+(?:and|when)\b)",
    ), score=0.85, ignore_case=True, validate=lambda text: not text.isdigit() or int(text) <= 125),
)
