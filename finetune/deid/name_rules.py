"""Names of people from context, name lists and the shape of words.

Three kinds of evidence, strongest first (score in brackets):

1. context (0.9): a title ("Dr.", "Mrs."), a label ("Patient:", "Attending:", "cc:", "Dear",
   "seen by", "Electronically signed by", "From:"), a relative ("her daughter, Latoya") or a
   credential after the name (", MD", "PA-C"); the capitalised words that follow (or precede) are
   the name, "LAST, FIRST" and ALL CAPS included. Doctors' labels, titles and credentials give
   DOCTOR, the others PATIENT.
2. name lists (0.7): a run of capitalised words holding a given name or surname (US Census lists)
   that English does not use first as a common word, with no clinical or common word in it.
3. the shape of the word (0.5): a capitalised word on no list at all (not English, not clinical,
   not a place) that does not open a sentence: what is left unexplained is most often a name
   ("Dlamini"). This is Philter's default-deny stance, kept to capitalised words.

`propagate` then finds every other occurrence in the note of a word found as a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import regex

from finetune.deid.lexicon import LANGUAGES, Lexicon
from finetune.deid.names import PARTICLES, SUFFIXES, TITLES
from finetune.deid.note_words import Word
from finetune.deid.rules import PhiSpan, rule_span
from finetune.deid.words import fold

DOCTOR_TITLES = frozenset(("dr", "doctor", "prof", "professor"))
CREDENTIALS = SUFFIXES | frozenset(
    "do pa pac pa-c dnp fnp anp lcsw licsw msw lmsw lpc lmhc ot otr otr/l pt dpt slp ccc rd bsn cma emt "
    "medic paramedic psyd edd dc od mbbs frcp frcs cnp arnp rph pmhnp bc cst rpsgt rrt rdcs ocs facc absm "
    "crnp ccrn cnor ctr cpht rph lmft lcpc cadc ladc atc cscs rrt crt rcp ibclc cde cdces mt mls ascp esq jd "
    "div mdiv bcc".split())
# Job-title words: part of a role, never of a name ("Discharge Nurse Educator")
JOB_WORDS = frozenset("educator manager coordinator navigator specialist practitioner supervisor director "
                      "assistant technician technologist aide attending resident fellow intern chaplain "
                      "dietitian liaison counselor therapist officer worker clerk secretary scribe".split())
_ROMAN = frozenset(("ii", "iii", "iv"))
# Labels followed by a colon ("Attending: ...", "From: ...") and phrases that need none ("seen by").
_DOCTOR_COLON = (
    r"attending(?:\s+(?:physician|md|surgeon))?|pcp|primary\s+care(?:\s+(?:physician|provider|doctor))?|provider"
    r"|referring(?:\s+(?:physician|provider|md|doctor))?|resident|intern|fellow|surgeon|co-?surgeon|assistants?"
    r"|anesthesi(?:a|ologist)|crna|nurse|rn|np|cc|c\.c\.|physician|therapist|counsel+or|pharmacist|social\s+worker"
    r"|case\s+manager|dentist|midwife|author|clinician|psychiatrist|psychologist|cardiologist|oncologist"
    r"|neurologist|radiologist|pathologist|from|to|sender|recipient|covering|on-?call|consult(?:ant|ing)?"
    r"(?:\s+physician)?|dictated|signed|transcriptionist|preparer|prepared\s+by|supervising(?:\s+physician)?"
    r"|interpreting|ordering|scrub|tech|technologist|grossed\s+by|charge(?:\s+nurse)?|chaplain|scribe|coordinator"
    r"|care\s+team|sonographer|interpreter|ma|medical\s+assistant|cna|aide|entered\s+by|provider\s+sig|pct")
_DOCTOR_PHRASE = (
    r"dictated\s+by|transcribed\s+by|(?:electronically\s+)?signed\s+by|e-?signed\s+by|authenticated\s+by"
    r"|reviewed\s+by|seen\s+(?:and\s+examined\s+)?by|seen\s+with|discussed\s+with|staffed\s+with|evaluated\s+by"
    r"|examined\s+by|performed\s+by|read\s+by|interpreted\s+by|reported\s+by|verified\s+by|ordered\s+by"
    r"|requested\s+by|referred\s+by|cc|sincerely,|regards,|respectfully,|thanks,|thank\s+you,|best,"
    r"|(?-i:RN|NP|LPN|CRNA|PA-C|CNA|Nurse|NURSE|Tech|TECH|Therapist|Pharmacist)(?=[ \t])|interpreter|fellow"
    r"|nurse|pharmacist|therapist|social\s+worker|case\s+manager|coordinator|specialist|chaplain|dietitian"
    r"|navigator|physician|resident|attending|midwife|doula|technician|technologist|scribe|administrator|director"
    r"|educator|(?:follow(?:[- ]?up)?|f/u|appointment|appt|visit|session|therapy|meeting|rounds"
    r"|consult(?:ation)?)"
    r"\s+with|(?:2nd-|double-|co-?)?(?:checked|witnessed|cosigned|signed|administered|drawn|collected|given|approved"
    r"|completed|documented|released|issued|fitted|programmed|counseled|screened|triaged|relieved)\s+by"
    r"|audiologist|optometrist|podiatrist|nutritionist|physiatrist|anesthetist|phlebotomist|hygienist|sonographer"
    r"|perfusionist|dentist|hospitalist|intensivist|neonatologist|obstetrician|pediatrician|surgeon|allergist"
    r"|investigator|reviewer|abstractor|registrar|lactation\s+consultant")
_PATIENT_COLON = (
    r"patient(?:\s+name)?|pt(?:\s+name)?|name|re|regarding|subject|guardian|(?:emergency\s+)?contact"
    r"|next\s+of\s+kin|nok|poa|hcp|proxy|guarantor|insured|informant|historian|parents?|child|baby|infant|caller"
    r"|client|member(?:\s+name)?|subscriber(?:\s+name)?|former\s+name|maiden\s+name|aka|candidate|participant"
    # people who are neither patient nor clinician are PATIENT in i2b2 2014
    r"|officer|detective|deputy|trooper|judge|attorney|lawyer|(?:public\s+)?defender|(?:head\s+)?coach|case\s*worker"
    r"|adjuster|witness|teacher|supervisor|employer\s+contact|guardian\s+ad\s+litem|pastor|owner|victim|driver"
    r"|student|pupil|athlete|inmate|detainee|decedent|deceased|(?:resident|client|inmate|student)\s+name"
    r"|traveler|traveller|claimant|employee|applicant|injured\s+worker|beneficiary"
    r"|(?:mother|father|baby|parent|spouse)'?s\s+name")
_RELATIVE = (
    r"(?:father|mother)\s+of\s+(?:the\s+)?baby|(?:mother|father|son|daughter|sister|brother)-in-law|"
    r"mother|father|mom|dad|wife|husband|son|daughter|sister|brother|spouse|partner|boyfriend|girlfriend"
    r"|fianc[eé]e?|grandmother|grandfather|grandson|granddaughter|grandma|grandpa|aunt|uncle|niece|nephew|dtr"
    r"|cousin|friend|neighbou?r|caregiver|sibling|step-?(?:father|mother|son|daughter|dad|mom)|roommate|children"
    r"|kids|classmate|co-?worker|colleague|teammate|housemate|landlord|landlady|god(?:mother|father)"
    r"|foster\s+(?:mother|father|parent)|fob|mob")
_PATIENT_PHRASE = (
    rf"dear|{_RELATIVE}|accompanied\s+by|brought\s+in\s+by|lives\s+with|spoke\s+with|talked\s+(?:to|with)"
    r"|care\s+of|c/o|named|(?-i:Pt|Patient)|case\s*worker|officer|coach|adjuster|pastor|(?-i:Rev\.?)|supervisor|boss"
    r"|manager|sponsor|teacher|counsel+or|candidate|participant")
_LABEL = regex.compile(
    rf"\b(?:(?P<doctor>{_DOCTOR_COLON})\s*:|(?P<doctor_phrase>{_DOCTOR_PHRASE})"
    rf"|(?P<patient>{_PATIENT_COLON}|{_RELATIVE})\s*:|(?P<patient_phrase>{_PATIENT_PHRASE}))"
    r"(?:\s*[,:(-]\s*|\s+)(?:is\s+|was\s+)?[\"“]?",
    regex.IGNORECASE)
_CAPS_NAME = regex.compile(
    r"(?:^|(?<=[:.][ \t]{1,30})|(?<=\|)|(?<=\S[ \t]{2,}))[ \t]*(\p{Lu}[\p{Lu}\p{M}'’-]+),[ \t]?"
    r"(\p{Lu}[\p{L}\p{M}'’-]+)"
    r"(?:[ \t]\p{Lu}\.?(?![\p{L}]))?(?=[ \t]{2,}|[ \t]*$|[ \t]*[|(,;])", regex.MULTILINE)
_RELATIVE_WORD = regex.compile(_RELATIVE, regex.IGNORECASE)
# a chat line's speaker: "[23:15] tuan: ...", "06:40 Priscila R: ..."
_CHAT_SPEAKER = regex.compile(r"^[ \t]*\[?[0-2]?\d:[0-5]\d(?::[0-5]\d)?\]?[ \t]+(\p{L}[\p{L}\p{M}'’-]{1,20}"
                              r"(?:[ \t]\p{L}[\p{L}\p{M}'’-]{0,20}\.?)?)[ \t]*:", regex.MULTILINE)
_AGE_AFTER_NAME = regex.compile(r"[ \t]*\((\d{1,3})(?=[,)])|,[ \t](\d{1,3})(?=,|[ \t]*(?:--|—))")
_NICKNAME = regex.compile(r"[ \t]*\(?(?:(?:goes\s+by|aka|a\.k\.a\.|prefers|called|to\s+be\s+named)[ \t]+)?"
                          r"[\"“'](\p{Lu}[\p{L}\p{M}'-]{1,14}(?:[ \t]\p{Lu}[\p{L}\p{M}'-]{1,14})?)[\"”']\)?")
_HANDLE_BEFORE = frozenset(("by", "account", "user", "login", "sig", "signed"))
# Spoken titles in dictated text ("mister washington", "doctor el sayed")
_WORD_ENDING = regex.compile(r"(?:logy|ment|tion|sion|ness|ity|ing|ism|ist|ics|ive|ous|able|ible)$")
_SPOKEN_TITLES = frozenset(("doctor", "mister", "missus", "miss"))
# HL7 v2 person fields: LAST^FIRST^MIDDLE (or & inside a component)
_HL7_NAME = regex.compile(r"(?<=[|~^&])(\p{Lu}[\p{Lu}'’-]+)[\^&](\p{Lu}[\p{Lu}'’-]+)"
                          r"(?:[\^&](\p{Lu})(?=[\^&|]))?(?=[\^&|])")
# a handle in parentheses or closing a line ("(olmoswhitb)", "-- kaminsm")
_HANDLE = regex.compile(r"\(([a-z][a-z0-9._]{5,})\)|(?:--|—)[ \t]*([a-z][a-z0-9._]{4,})[ \t]*$",
                        regex.MULTILINE)
_SIGN_OFF = regex.compile(r"(?:^|(?<=\s))(?:--?|—|~)[ \t]*(\p{Lu}{2,3})[ \t]*$", regex.MULTILINE)
# A listed name written in lower case is taken only when English rarely writes it so ("gonzalez",
# "danny"; not "will", "rose", "bill").
_LOWER_NAME_ZIPF = 4.3
# ... and after a relative ("my wife jiyoung"), any lower-case word English uses less than this
_RELATIVE_LOWER_ZIPF = 3.5
# After a name's context, a capitalised word English uses less than this is taken ("cc: Rahul").
_CONTEXT_WORD_ZIPF = 4.0
# ... and a listed surname or given name up to these ("Dr. Rose Bell"; not "Dear Records Custodian").
_CONTEXT_SURNAME_ZIPF = 4.7
_CONTEXT_GIVEN_ZIPF = 5.5
# Medical word endings: a capitalised unknown word with one is a drug or a disease, not a name.
_MEDICAL_ENDING = regex.compile(
    r"(?:ol|olol|pril|sartan|statin|mab|nib|zole|azole|cillin|mycin|cycline|floxacin|vir|dine|pine|pam|lam"
    r"|done|tide|parin|xaban|gatran|lukast|sone|olone|asone|itis|osis|emia|ectomy|otomy|ostomy|plasty|scopy"
    r"|graphy|gram|pathy|algia|oma|uria|penia|cytosis|trophy|plegia|paresis|ase|ide|ine|ate|ium|gen|cin)$")


@dataclass
class NameRule:
    """Finds names of people in a note's words.

    Args:
        name: the rule's name (spans say `rule:<name>`).
        lexicon: the word lists.
        allowed: folded words and phrases never taken as names from lists or word shape (the
            clinical allow-list and the institution's allow-list).
        score: the score of context spans (lists: 0.7, shape: 0.5 below it).
        places: one-word place names that are no person's name (left to the place rules).
    """

    name: str
    lexicon: Lexicon
    allowed: frozenset[str] = frozenset()
    score: float = 0.9
    places: frozenset[str] = field(default_factory=frozenset)

    def _plain(self, word: Word) -> bool:
        """A word that is first an English or clinical word."""
        return word.key in self.allowed or self.lexicon.is_common_word(word.key)

    def _can_continue(self, word: Word) -> bool:
        """A word that can be part of a name next to another name word or after a name's context."""
        return (word.capital and word.key not in CREDENTIALS and word.key not in self.allowed
                and word.key not in JOB_WORDS and word.key not in LANGUAGES
                and _name_like(word.text)
                and (not self.lexicon.is_common_word(word.key) or self.lexicon.is_name_word(word.key)
                     or self.lexicon.is_given_name(word.key)))

    def _in_context(self, word: Word) -> bool:
        """A word that continues a name begun by context: also listed names that are words ("Bell")."""
        zipf = self.lexicon.english.get(word.key, 0.0)
        return self._can_continue(word) or (
            word.capital and _name_like(word.text) and word.key not in CREDENTIALS
            and word.key not in JOB_WORDS and word.key not in LANGUAGES
            and ((word.key in self.lexicon.surnames and zipf < _CONTEXT_SURNAME_ZIPF)
                 or (self.lexicon.is_given_name(word.key) and zipf < _CONTEXT_GIVEN_ZIPF)
                 or (word.key not in self.allowed and zipf < _CONTEXT_WORD_ZIPF)))

    def _take(self, text: str, words: Sequence[Word], index: int, *, first_plain: bool,
              lower: bool = False) -> int:
        """How many words from `index` make a name (0: none); "LAST, FIRST", initials, hyphens."""
        taken, comma_used = 0, False
        for position in range(index, min(len(words), index + 5)):
            word = words[position]
            if taken:
                gap = text[words[position - 1].end:word.start]
                previous = words[position - 1]
                if gap == "-" and not word.capital and previous.capital:  # Hyun-woo, Soo-jin
                    taken += 1
                    continue
                if gap in (" ", "-", "  ") or (gap in (". ", ".") and previous.initial):
                    pass
                elif gap in (", ", ",") and not comma_used and word.key not in CREDENTIALS and \
                        (word.shape == words[index].shape or word.initial
                         or (words[index].shape == "upper" and word.capital)):  # "Smith, John", "OKAFOR, Ada"
                    comma_used = True
                else:
                    break
                if word.key in PARTICLES and position + 1 < len(words) and (
                        words[position + 1].capital or words[position + 1].key in PARTICLES):
                    taken += 1
                    continue
                if not (self._in_context(word) or (previous.initial and word.capital and _name_like(word.text)
                                                   and word.key not in CREDENTIALS)
                        or (word.shape == "title" and word.key in self.lexicon.surnames  # "Hyun-woo Park"
                            and self.lexicon.english.get(word.key, 0.0) < _CONTEXT_GIVEN_ZIPF)
                        or (comma_used and word.initial)):
                    break
            elif lower and not word.capital and len(word.key) > 2 and word.key not in self.allowed and (
                    not self._plain(word) or self.lexicon.english.get(word.key, 0.0) < _CONTEXT_WORD_ZIPF):
                pass  # "dr okonkwo" in a patient's message, "(dr nakamura)" in a chat
            elif word.initial and position + 1 < len(words) and words[position + 1].capital and \
                    text[word.end:words[position + 1].start] in (". ", ".", " "):
                pass  # "A. Raghunathan"
            elif not word.capital or word.key in CREDENTIALS or word.key in TITLES:
                return 0
            elif not first_plain and not self._in_context(word):
                return 0
            taken += 1
        if comma_used and taken == 1:
            return 0
        return taken

    def _span(self, words: Sequence[Word], index: int, count: int, subtype: str, score: float) -> PhiSpan:
        last = words[index + count - 1]
        # "Haddad's"
        end = last.end - 2 if last.text.endswith(("'s", "’s")) and len(last.text) > 3 else last.end
        return rule_span(words[index].start, end, subtype, score, self.name)

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        """Name spans of the note."""
        found: list[PhiSpan] = []
        covered: set[int] = set()
        starts = {word.start: index for index, word in enumerate(words)}

        def add(index: int, count: int, subtype: str, score: float) -> None:
            found.append(self._span(words, index, count, subtype, score))
            covered.update(range(index, index + count))

        for index, word in enumerate(words):  # titles
            title = word.key in TITLES or (word.key in _SPOKEN_TITLES and word.shape == "lower")
            if title and index + 1 < len(words) and (index == 0 or not _street_before(text, words, index)):
                count = self._take(text, words, index + 1, first_plain=word.key in TITLES,
                                   lower=word.shape == "lower")
                if count:
                    add(index + 1, count, "DOCTOR" if word.key in DOCTOR_TITLES else "PATIENT", self.score)
        for match in _LABEL.finditer(text):  # labels and relatives
            index = starts.get(match.end())
            if index is None or index in covered:
                continue
            phrase = match.group("patient_phrase") is not None
            count = self._take(text, words, index, first_plain=False)
            if count and (not phrase or words[index].capital):
                doctor = match.group("doctor") is not None or match.group("doctor_phrase") is not None
                add(index, count, "DOCTOR" if doctor else "PATIENT", self.score)
            elif phrase and not words[index].capital and \
                    _RELATIVE_WORD.fullmatch(match.group("patient_phrase")):
                # "my wife jiyoung", "maternal aunt ngozi okonkwo"
                count = self._lower_run(text, words, index)
                if count:
                    add(index, count, "PATIENT", 0.6)
        for index, word in enumerate(words):  # credentials after a name
            roman_ok = word.key not in _ROMAN or (index >= 2 and words[index - 2].capital and
                                                  text[words[index - 2].end:words[index - 1].start] == " ")
            if word.key in CREDENTIALS and word.shape != "lower" and index and index - 1 not in covered \
                    and roman_ok:
                gap = text[words[index - 1].end:word.start]
                if gap in (", ", " ", ",") and len(word.text) > 1 and not _acronym(words[index - 1]) and (
                        self._in_context(words[index - 1]) or words[index - 1].initial):
                    first = index - 1
                    while first > 0 and index - first < 4 and words[first - 1].capital and \
                            text[words[first - 1].end:words[first].start] in (" ", ". ", "-") and \
                            not _acronym(words[first - 1]) and \
                            (self._in_context(words[first - 1]) or words[first - 1].initial):
                        first -= 1
                    if self._in_context(words[first]) or words[first].initial:
                        add(first, index - first, "DOCTOR", self.score)
        for match in _CAPS_NAME.finditer(text):  # "VENKATARAMAN, PRIYA" heading a line or a field
            parts = [fold(part) for part in (match.group(1), match.group(2))]
            named = [self.lexicon.is_name_word(key) or self.lexicon.is_given_name(key)
                     or key not in self.lexicon.english for key in parts]
            if any(named) and not any(key in self.allowed or key in CREDENTIALS for key in parts):
                found.append(rule_span(match.start(), match.end(), "PATIENT", 0.8, self.name))
        for index, word in enumerate(words[1:], start=1):  # "closed by tlindqvist", "account knakamura"
            if (word.shape == "lower" or (word.shape == "upper" and len(word.key) >= 6)) and \
                    words[index - 1].key in _HANDLE_BEFORE and len(word.key) >= 5 and \
                    word.key not in self.lexicon.english and word.key not in self.allowed and \
                    text[words[index - 1].end:word.start] in (" ", ": "):
                found.append(rule_span(word.start, word.end, "USERNAME", 0.6, self.name))
        for match in _HL7_NAME.finditer(text):  # PID|...|BRZEZINSKI^HALINA^M|...
            parts = [fold(match.group(i)) for i in (1, 2)]
            if not any(key in self.allowed or key in CREDENTIALS or (key in self.lexicon.english and not
                       self.lexicon.is_name_word(key) and not self.lexicon.is_given_name(key))
                       for key in parts):
                doctor = bool(regex.search(r"\d{6,}\^$", text[max(0, match.start() - 14):match.start()]))
                found.append(rule_span(match.start(), match.end(), "DOCTOR" if doctor else "PATIENT", 0.8,
                                       self.name))
        named = {fold(part) for span in found if span.category == "NAME"
                 for part in regex.findall(r"[\p{L}\p{M}'’]+", text[span.start:span.end])}
        for match in _HANDLE.finditer(text):
            group = 1 if match.group(1) else 2
            key = match.group(group)
            # an initial and a surname ("klindqvist" beside "Kirsten Lindqvist")
            initial_surname = any(key[cut:] in self.lexicon.surnames or key[cut:] in named for cut in (1, 2))
            if key not in self.lexicon.english and key not in self.allowed and (
                    initial_surname or not _WORD_ENDING.search(key)):
                found.append(rule_span(match.start(group), match.end(group), "USERNAME", 0.6, self.name))
        for match in _CHAT_SPEAKER.finditer(text):
            keys = [fold(part) for part in regex.findall(r"[\p{L}\p{M}'’-]+", match.group(1))]
            if not any(key in self.allowed or key in CREDENTIALS or key in JOB_WORDS
                       or self.lexicon.english.get(key, 0.0) >= _CONTEXT_GIVEN_ZIPF for key in keys):
                found.append(rule_span(match.start(1), match.end(1), "DOCTOR", 0.8, self.name))
        for match in _SIGN_OFF.finditer(text):  # "-- MG" closing a line: a clinician's initials
            found.append(rule_span(match.start(1), match.end(1), "DOCTOR", self.score, self.name))
        for index, word in enumerate(words[:-1]):  # "G. Ohlsen" opening a line or after a label
            following = words[index + 1]
            if word.initial and index not in covered and index + 1 not in covered and \
                    text[word.end:following.start] in (". ", ".") and following.shape == "title" and \
                    (word.opens or text[max(0, word.start - 2):word.start].strip() in ("", ":", "|")) and \
                    (self.lexicon.is_name_word(following.key) or self._unknown(following)):
                add(index, 2, "PATIENT", 0.6)
        self._from_lists(text, words, covered, add)
        found.extend(self.lower_names(words, covered))
        for span in list(found):  # "Kemi (19)", "Oluwaseun Adeyemi, 58, is a ...", 'Rosalind ("Roz")'
            nickname = _NICKNAME.match(text, span.end)
            if nickname and span.category == "NAME":
                found.append(rule_span(nickname.start(1), nickname.end(1), span.subtype, 0.8, self.name))
            if span.subtype == "PATIENT":
                age = _AGE_AFTER_NAME.match(text, span.end)
                if age:
                    group = 1 if age.group(1) else 2
                    found.append(rule_span(age.start(group), age.end(group), "AGE", 0.7, self.name))
        return found

    def _from_lists(self, text: str, words: Sequence[Word], covered: set[int], add) -> None:
        lexicon = self.lexicon
        index = 0
        while index < len(words):
            word = words[index]
            if index in covered or not word.capital or word.key in self.places \
                    or not self._can_continue(word) \
                    or (self._plain(word) and not lexicon.is_name_word(word.key)) \
                    or text.startswith(":", word.end):  # "Iris:", "RE:" label a field
                index += 1
                continue
            run = 1
            while index + run < len(words) and index + run not in covered:
                following, gap = words[index + run], text[words[index + run - 1].end:words[index + run].start]
                hyphenated = run == 2 and text[word.end:words[index + 1].start] == "-"  # "Kim-Ott, Grace"
                if gap == "-" and not following.capital:  # Soo-jin
                    run += 1
                elif gap in (" ", "-") and self._can_continue(following) and following.key not in self.places:
                    run += 1
                elif gap == ", " and (run == 1 or hyphenated) \
                        and lexicon.is_name_word(words[index + run - 1].key) and following.shape == "title" \
                        and lexicon.is_given_name(following.key) and following.key not in self.allowed \
                        and not self._plain(following):  # "Ferreira, Luis"
                    run += 1
                else:
                    break
            members = words[index:index + run]
            listed = [w for w in members if lexicon.is_name_word(w.key)]
            unknown = [w for w in members if self._unknown(w)]
            plain = [w for w in members if self._plain(w) and not lexicon.is_name_word(w.key)]
            titled = any(w.shape == "title" for w in members)
            if listed and not plain and (titled or (run > 1 and len(listed) == run)):
                add(index, run, "PATIENT", 0.7)
            elif unknown and not plain and titled and not (run == 1 and word.opens):
                add(index, run, "PATIENT", 0.5)
            elif run > 1 and listed and len(listed) + len(unknown) == run:
                add(index, run, "PATIENT", 0.6)
            index += run

    def _lower_run(self, text: str, words: Sequence[Word], index: int) -> int:
        """How many lower-case words from `index` are a name after a relative: words English rarely
        writes, listed as names or on no list at all."""
        count = 0
        for position in range(index, min(len(words), index + 3)):
            word = words[position]
            if position > index and text[words[position - 1].end:word.start] not in (" ", "-"):
                break
            listed = self.lexicon.is_given_name(word.key) or word.key in self.lexicon.surnames
            if word.shape != "lower" or len(word.key) < 3 or word.key in self.allowed \
                    or self.lexicon.english.get(word.key, 0.0) >= _RELATIVE_LOWER_ZIPF \
                    or (not listed and (word.key in self.lexicon.english or _WORD_ENDING.search(word.key)
                                        or _MEDICAL_ENDING.search(word.key))):
                break
            count += 1
        return count

    def lower_names(self, words: Sequence[Word], covered: set[int]) -> list[PhiSpan]:
        """Names written in lower case ("my brother danny"): listed names no English writes lower-case."""
        found = []
        for index, word in enumerate(words):
            if index not in covered and word.shape == "lower" and len(word.key) > 2 and \
                    self.lexicon.is_name_word(word.key) and word.key not in self.allowed and \
                    self.lexicon.english.get(word.key, 0.0) < _LOWER_NAME_ZIPF and \
                    max(self.lexicon.given.get(word.key, 0.0),
                        self.lexicon.surnames.get(word.key, 0.0)) >= 0.005:
                found.append(rule_span(word.start, word.end, "PATIENT", 0.5, self.name))
        return found

    def _unknown(self, word: Word) -> bool:
        """A capitalised word on no list: not English, clinical, a name list or a place."""
        key = word.key
        if len(key) < 3 or key in self.lexicon.english or key in self.allowed or key in self.places \
                or key in LANGUAGES:
            return False
        if word.shape == "upper" and len(key) <= 5:  # acronyms
            return False
        return key.replace("'", "").isalpha() and _name_like(word.text) and not _MEDICAL_ENDING.search(key)


_NAME_PREFIX = regex.compile(r"^(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|O'|O’|D'|D’|Al-|El-|St)\p{Lu}")


def _acronym(word: Word) -> bool:
    """A short all-capitals word ("NYHA", "MICU"): an acronym before a credential-like "IV", not a name."""
    return word.shape == "upper" and len(word.key) <= 4


def _name_like(text: str) -> bool:
    """Capitals where names have them: "HFrEF", "SpO", "ResMed" are not; McDonald, LaToya, O'Brien are."""
    inner = sum(char.isupper() for char in text[1:])
    return inner == 0 or text.isupper() or (inner == 1 and bool(_NAME_PREFIX.match(text)))


_NUMBER_BEFORE = regex.compile(r"\d+[A-Za-z]?[ \t]+(?:\S+[ \t]+){0,3}$")


def _street_before(text: str, words: Sequence[Word], index: int) -> bool:
    """"Dr" after a street name ("12 Oak Dr") is Drive, not Doctor."""
    return words[index].key == "dr" and index >= 1 and words[index - 1].capital and \
        bool(_NUMBER_BEFORE.search(text, max(0, words[index].start - 40), words[index].start))


def name_keys(text: str, words: Sequence[Word], spans: Iterable[PhiSpan], lexicon: Lexicon,
              allowed: frozenset[str]) -> dict[str, str]:
    """The folded name words inside name spans -> their subtype (the words `propagate` looks for)."""
    keys: dict[str, str] = {}
    names = [span for span in spans if span.subtype in ("PATIENT", "DOCTOR")]
    if not names:
        return keys
    for word in words:
        for span in names:
            if span.start <= word.start and word.end <= span.end:
                if len(word.key) > 1 and word.key not in TITLES and word.key not in CREDENTIALS \
                        and word.key not in allowed and word.key not in PARTICLES:
                    keys.setdefault(word.key, span.subtype)
                break
    return keys


def propagate(words: Sequence[Word], keys: dict[str, str], lexicon: Lexicon, name: str) -> list[PhiSpan]:
    """Every occurrence of a known name word: capitalised, or in any case when it is no common word."""
    found = []
    for word in words:
        subtype = keys.get(word.key)
        if subtype is None or len(word.key) < 3 or (word.shape == "upper" and len(word.key) < 4):
            continue  # "Ed" found once does not make every "ED" a name
        if word.capital or not lexicon.is_common_word(word.key) and \
                lexicon.english.get(word.key, 0.0) < _LOWER_NAME_ZIPF:  # not "brown" stools after Dr. Brown
            end = word.end - 2 if word.text.endswith(("'s", "’s")) and len(word.text) > 3 else word.end
            found.append(rule_span(word.start, end, subtype, 0.6, name))
    return found
