"""Word material for the synthetic corpora: fixed clinical lists plus a Zipf long tail.

Everything here is invented or generic (common US given/family names, generic street names,
well-known drugs). Nothing is drawn from real records, so generated text never contains PHI.

The long tail matters: a WordPiece vocabulary of ~50k pieces is only meaningful when the corpus
keeps introducing rare words as it grows, the way real clinical text does. `pseudo_terms()` builds
~200k distinct pseudo-medical words from Greek/Latin morphemes and `ZipfTerms` samples them with a
power-law rank distribution, so the unique-word count keeps rising with corpus size.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The name and place lists are the de-identification tool's (its surrogates draw from them); the
# synthetic notes use the same ones.
from finetune.deid.surrogate_lists import CITIES as CITIES
from finetune.deid.surrogate_lists import FIRST_NAMES as FIRST_NAMES
from finetune.deid.surrogate_lists import LAST_NAMES as LAST_NAMES
from finetune.deid.surrogate_lists import STREET_NAMES as STREET_NAMES
from finetune.deid.surrogate_lists import US_STATES as US_STATES

# --- fixed word lists -------------------------------------------------------------------------

# Most frequent first: `COMMON_WORDS` is sampled by rank, so order sets frequency.
FUNCTION_WORDS: tuple[str, ...] = tuple(
    """the of and with to in was is for on no a at by from as not an be are were this that has
    had which or but there without after prior also noted per status post likely may within than
    into over under his her he she they patient been will should today further during since
    then both all any some other than""".split()
)

CLINICAL_WORDS: tuple[str, ...] = tuple(
    """pain chest abdominal shortness breath fever chills nausea vomiting diarrhea cough edema
    lower upper extremity bilateral left right acute chronic mild moderate severe history admitted
    discharged presented presents denies reports stable unremarkable normal abnormal elevated
    decreased increased tenderness swelling erythema rash wound infection pneumonia sepsis failure
    renal hepatic cardiac pulmonary atrial fibrillation hypertension diabetes mellitus
    hyperlipidemia coronary artery disease myocardial infarction stroke seizure anemia
    thrombocytopenia leukocytosis creatinine hemoglobin platelets sodium potassium glucose troponin
    lactate culture blood urine sputum imaging x-ray ultrasound echocardiogram ejection fraction
    effusion consolidation opacity nodule mass lesion fracture surgery procedure catheterization
    intubated extubated ventilator oxygen nasal cannula saline diuresis antibiotics clinic
    follow-up outpatient inpatient emergency department floor unit telemetry monitoring improved
    worsening resolved continued started discontinued held titrated tolerated diet ambulating
    afebrile hemodynamically tachycardic bradycardic hypotensive hypoxic dyspnea orthopnea
    palpitations syncope dizziness headache weakness fatigue malaise weight loss appetite
    urinary frequency dysuria hematuria melena hematochezia jaundice confusion altered mental
    examination exam evaluation workup consult consultation recommended recommendation plan
    therapy dose doses medication medications regimen insulin anticoagulation heparin drip
    transfusion units packed cells biopsy pathology malignancy carcinoma metastatic tumor
    chemotherapy radiation oncology cardiology nephrology neurology gastroenterology surgery
    orthopedics physical occupational rehabilitation nursing facility home services family wife
    husband daughter son tobacco alcohol smoking pack-year drinks occasionally daily weekly
    tolerating oral intake abdomen soft nontender nondistended bowel sounds murmur rubs gallops
    clear auscultation wheezes crackles rales rhonchi regular rate rhythm extremities pulses
    palpable neurologically intact oriented alert cooperative distress appears comfortable
    given received treated managed noted found showed demonstrated revealed suggestive concerning
    consistent compatible without evidence significant interval change compared previous study
    images obtained contrast administered technique findings impression visualized measures
    approximately small large diffuse focal mild-to-moderate trace minimal prominent enlarged
    thickening narrowing stenosis occlusion obstruction dilation collapse atelectasis
    cardiomegaly pneumothorax hemorrhage infarct ischemia aneurysm thrombus embolism cyst
    calcification density attenuation enhancement signal intensity margins borders""".split()
)

# Multi-word chunks sampled like words: they make random sentences read far less like word salad.
CLINICAL_PHRASES: tuple[str, ...] = (
    "was started on", "with a history of", "no evidence of", "chest pain", "status post",
    "shortness of breath", "was admitted to", "was found to have", "in the setting of", "secondary to",
    "was noted to be", "likely due to", "will continue", "was given", "was transferred to",
    "on room air", "at baseline", "per report", "with improvement in", "without complication",
    "was seen by", "was evaluated by", "recommended continuing", "follow-up with", "prior to admission",
    "on the day of discharge", "was restarted on", "was held for", "was treated with",
    "blood cultures", "urine culture", "vital signs", "hemodynamically stable", "tolerated well",
    "as an outpatient", "over the past week", "for several days", "for the past 2 weeks",
    "on presentation", "on exam", "in the emergency department", "to the floor", "from home",
    "risk of", "concern for", "consistent with", "suggestive of", "rule out", "negative for",
    "positive for", "elevated at", "trended down", "remained stable", "improved with",
    "was consulted", "was discontinued", "was increased to", "was decreased to", "his wife",
    "her husband", "the family", "goals of care", "code status", "full code", "DNR/DNI",
)

# dict.fromkeys: drop repeats but keep first-seen (rank) order.
COMMON_WORDS: tuple[str, ...] = tuple(dict.fromkeys(FUNCTION_WORDS + CLINICAL_PHRASES + CLINICAL_WORDS))

ABBREVIATIONS: tuple[str, ...] = (
    "b.i.d.", "q.d.", "p.o.", "t.i.d.", "q.i.d.", "q.h.s.", "p.r.n.", "q.4h.", "q.6h.", "q.8h.",
    "mg.", "mg", "mcg", "mL", "mEq", "IV", "IM", "SL", "PO", "BID", "TID", "PRN", "QHS", "SOB",
    "CHF", "COPD", "HTN", "DM2", "CAD", "CKD", "ESRD", "GERD", "UTI", "DVT", "PE", "MI", "CVA",
    "TIA", "AFib", "NSTEMI", "STEMI", "BPH", "OSA", "CABG", "PCI", "EKG", "ECG", "CXR", "CTA",
    "MRI", "ABG", "BMP", "CBC", "LFTs", "INR", "PTT", "BNP", "A1c", "NKDA", "RA", "NC", "ICU",
    "ED", "PCP", "s/p", "w/", "h/o", "c/o", "r/o", "y.o.", "NAD", "RRR", "CTAB", "NT/ND",
)

FREQUENCIES: tuple[str, ...] = (
    "b.i.d.", "t.i.d.", "q.i.d.", "q.d.", "daily", "q.h.s.", "nightly", "q.a.m.", "q.4h.", "q.6h.",
    "q.8h.", "q.12h.", "every other day", "weekly", "BID", "TID", "once daily",
)

MONTHS: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July", "August",
                           "September", "October", "November", "December")
# Area codes of the invented phone numbers (Florida and neighbours); the numbers are 555-01xx.
PHONE_AREA_CODES: tuple[str, ...] = ("352", "904", "386", "813", "407", "850", "912", "217")

ROUTES: tuple[str, ...] = ("p.o.", "PO", "by mouth", "IV", "subcutaneously", "SL", "inhaled",
                           "topically", "PR", "IM")


@dataclass(frozen=True)
class Drug:
    """One drug with plausible strengths, unit, usual route and usual frequencies."""

    name: str
    strengths: tuple[str, ...]
    unit: str
    route: str
    frequencies: tuple[str, ...]
    prn_reason: str | None = None


DRUGS: tuple[Drug, ...] = (
    Drug("Metoprolol tartrate", ("12.5", "25", "50", "100"), "mg", "p.o.", ("b.i.d.",)),
    Drug("Metoprolol succinate", ("25", "50", "100", "200"), "mg", "p.o.", ("daily", "q.d.")),
    Drug("Lisinopril", ("2.5", "5", "10", "20", "40"), "mg", "p.o.", ("daily", "q.d.")),
    Drug("Losartan", ("25", "50", "100"), "mg", "p.o.", ("daily",)),
    Drug("Amlodipine", ("2.5", "5", "10"), "mg", "p.o.", ("daily", "q.d.")),
    Drug("Atorvastatin", ("10", "20", "40", "80"), "mg", "p.o.", ("q.h.s.", "daily")),
    Drug("Simvastatin", ("20", "40"), "mg", "p.o.", ("q.h.s.",)),
    Drug("Aspirin", ("81", "325"), "mg", "p.o.", ("daily", "q.d.")),
    Drug("Clopidogrel", ("75",), "mg", "p.o.", ("daily",)),
    Drug("Warfarin", ("1", "2", "2.5", "5"), "mg", "p.o.", ("daily", "q.h.s.")),
    Drug("Apixaban", ("2.5", "5"), "mg", "p.o.", ("b.i.d.",)),
    Drug("Furosemide", ("20", "40", "80"), "mg", "p.o.", ("daily", "b.i.d.")),
    Drug("Hydrochlorothiazide", ("12.5", "25"), "mg", "p.o.", ("daily",)),
    Drug("Spironolactone", ("25", "50"), "mg", "p.o.", ("daily",)),
    Drug("Carvedilol", ("3.125", "6.25", "12.5", "25"), "mg", "p.o.", ("b.i.d.",)),
    Drug("Digoxin", ("0.125", "0.25"), "mg", "p.o.", ("daily",)),
    Drug("Amiodarone", ("200", "400"), "mg", "p.o.", ("daily", "b.i.d.")),
    Drug("Diltiazem", ("30", "60", "120"), "mg", "p.o.", ("t.i.d.", "q.6h.")),
    Drug("Hydralazine", ("10", "25", "50"), "mg", "p.o.", ("t.i.d.",)),
    Drug("Isosorbide mononitrate", ("30", "60"), "mg", "p.o.", ("daily",)),
    Drug("Nitroglycerin", ("0.4",), "mg", "SL", ("q.5min x 3",), "chest pain"),
    Drug("Metformin", ("500", "850", "1000"), "mg", "p.o.", ("b.i.d.",)),
    Drug("Insulin glargine", ("10", "15", "20", "30", "40"), "units", "subcutaneously", ("q.h.s.",)),
    Drug("Insulin lispro", ("2", "4", "6"), "units", "subcutaneously", ("t.i.d. with meals",)),
    Drug("Levothyroxine", ("25", "50", "75", "88", "100", "112"), "mcg", "p.o.", ("daily",)),
    Drug("Omeprazole", ("20", "40"), "mg", "p.o.", ("daily", "b.i.d.")),
    Drug("Pantoprazole", ("40",), "mg", "p.o.", ("daily",)),
    Drug("Famotidine", ("20",), "mg", "p.o.", ("b.i.d.",)),
    Drug("Gabapentin", ("100", "300", "600"), "mg", "p.o.", ("t.i.d.", "q.h.s.")),
    Drug("Acetaminophen", ("325", "500", "650"), "mg", "p.o.", ("q.6h.",), "pain"),
    Drug("Oxycodone", ("5", "10"), "mg", "p.o.", ("q.4h.",), "severe pain"),
    Drug("Albuterol", ("2 puffs",), "", "inhaled", ("q.4h.",), "wheezing"),
    Drug("Tiotropium", ("18",), "mcg", "inhaled", ("daily",)),
    Drug("Prednisone", ("5", "10", "20", "40"), "mg", "p.o.", ("daily",)),
    Drug("Vancomycin", ("1", "1.25"), "g", "IV", ("q.12h.",)),
    Drug("Piperacillin-tazobactam", ("3.375", "4.5"), "g", "IV", ("q.8h.", "q.6h.")),
    Drug("Ceftriaxone", ("1", "2"), "g", "IV", ("q.24h.",)),
    Drug("Azithromycin", ("250", "500"), "mg", "p.o.", ("daily",)),
    Drug("Cephalexin", ("500",), "mg", "p.o.", ("q.i.d.",)),
    Drug("Heparin", ("5000",), "units", "subcutaneously", ("t.i.d.", "q.8h.")),
    Drug("Enoxaparin", ("40", "60", "80"), "mg", "subcutaneously", ("daily", "q.12h.")),
    Drug("Sertraline", ("25", "50", "100"), "mg", "p.o.", ("daily",)),
    Drug("Trazodone", ("50", "100"), "mg", "p.o.", ("q.h.s.",), "insomnia"),
    Drug("Docusate sodium", ("100",), "mg", "p.o.", ("b.i.d.",)),
    Drug("Senna", ("8.6", "17.2"), "mg", "p.o.", ("q.h.s.",), "constipation"),
    Drug("Potassium chloride", ("10", "20", "40"), "mEq", "p.o.", ("daily",)),
    Drug("Magnesium oxide", ("400",), "mg", "p.o.", ("daily", "b.i.d.")),
    Drug("Tamsulosin", ("0.4",), "mg", "p.o.", ("q.h.s.",)),
    Drug("Ondansetron", ("4", "8"), "mg", "IV", ("q.8h.",), "nausea"),
    Drug("Lorazepam", ("0.5", "1"), "mg", "p.o.", ("q.6h.",), "anxiety"),
    Drug("Quetiapine", ("25", "50"), "mg", "p.o.", ("q.h.s.",)),
    Drug("Allopurinol", ("100", "300"), "mg", "p.o.", ("daily",)),
    Drug("Colchicine", ("0.6",), "mg", "p.o.", ("daily", "b.i.d.")),
    Drug("Montelukast", ("10",), "mg", "p.o.", ("q.h.s.",)),
    Drug("Levetiracetam", ("500", "750", "1000"), "mg", "p.o.", ("b.i.d.",)),
    Drug("Dexamethasone", ("4", "10"), "mg", "IV", ("q.6h.",)),
    Drug("Sodium chloride 0.9%", ("75", "100"), "mL/hr", "IV", ("continuous",)),
)

CONDITIONS: tuple[str, ...] = (
    "hypertension", "HTN", "type 2 diabetes mellitus", "DM2", "hyperlipidemia", "coronary artery disease",
    "CAD s/p CABG", "congestive heart failure", "CHF with reduced ejection fraction", "COPD",
    "chronic kidney disease stage 3", "CKD", "atrial fibrillation", "obstructive sleep apnea",
    "GERD", "hypothyroidism", "osteoarthritis", "gout", "depression", "anxiety", "BPH",
    "prior CVA", "peripheral vascular disease", "asthma", "obesity", "anemia of chronic disease",
    "cirrhosis", "morbid obesity", "history of DVT", "breast cancer s/p lumpectomy",
    "prostate cancer", "seizure disorder", "migraine", "rheumatoid arthritis", "ESRD on hemodialysis",
)

SYMPTOMS: tuple[str, ...] = (
    "chest pain", "shortness of breath", "SOB", "abdominal pain", "nausea and vomiting", "fever",
    "productive cough", "dyspnea on exertion", "lower extremity edema", "syncope", "palpitations",
    "altered mental status", "generalized weakness", "dizziness", "melena", "hematuria",
    "worsening headache", "right upper quadrant pain", "back pain", "fatigue", "dysuria",
)

ALLERGIES: tuple[str, ...] = (
    "Penicillin (rash)", "Sulfa drugs (hives)", "Codeine (nausea)", "Iodinated contrast (itching)",
    "Latex", "Lisinopril (angioedema)", "Morphine (pruritus)", "Shellfish", "Amoxicillin (rash)",
)

SECTION_HEADERS: dict[str, tuple[str, ...]] = {
    "discharge": (
        "CHIEF COMPLAINT:", "HISTORY OF PRESENT ILLNESS:", "PAST MEDICAL HISTORY:",
        "PAST SURGICAL HISTORY:", "MEDICATIONS ON ADMISSION:", "ALLERGIES:", "SOCIAL HISTORY:",
        "FAMILY HISTORY:", "PHYSICAL EXAMINATION:", "LABORATORY DATA:", "HOSPITAL COURSE:",
        "DISCHARGE MEDICATIONS:", "DISCHARGE DIAGNOSES:", "DISCHARGE CONDITION:",
        "DISCHARGE INSTRUCTIONS:", "FOLLOW-UP:",
    ),
    "progress": ("SUBJECTIVE:", "OBJECTIVE:", "MEDICATIONS:", "LABS:", "ASSESSMENT AND PLAN:"),
    "radiology": ("EXAM:", "CLINICAL HISTORY:", "INDICATION:", "TECHNIQUE:", "COMPARISON:",
                  "FINDINGS:", "IMPRESSION:"),
}

RADIOLOGY_EXAMS: tuple[str, ...] = (
    "CT CHEST WITH CONTRAST", "CHEST X-RAY, PA AND LATERAL", "PORTABLE CHEST X-RAY",
    "MRI BRAIN WITHOUT AND WITH CONTRAST", "CT ABDOMEN AND PELVIS WITH CONTRAST",
    "ULTRASOUND RIGHT UPPER QUADRANT", "CT HEAD WITHOUT CONTRAST", "CTA CHEST PE PROTOCOL",
    "MRI LUMBAR SPINE WITHOUT CONTRAST", "RENAL ULTRASOUND", "X-RAY LEFT KNEE, 3 VIEWS",
)

ANATOMY: tuple[str, ...] = (
    "right upper lobe", "left lower lobe", "right middle lobe", "lingula", "liver", "gallbladder",
    "pancreatic head", "left kidney", "right kidney", "spleen", "mediastinum", "left hilum",
    "frontal lobe", "basal ganglia", "L4-L5 level", "pleural space", "pericardium", "adrenal gland",
)


STREET_SUFFIXES: tuple[str, ...] = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr",
                                    "Lane", "Ln", "Boulevard", "Blvd", "Court", "Ct", "Way", "Terrace",
                                    "Place", "Circle")


HOSPITALS: tuple[str, ...] = (
    "Shands Hospital", "North Central Regional Medical Center", "Lakeside General Hospital",
    "Riverside Community Hospital", "St. Elsewhere Medical Center", "Gator Memorial Hospital",
)

# --- morphemes for the pseudo-medical long tail -------------------------------------------------

PREFIXES: tuple[str, ...] = tuple(
    """a an ante anti auto brady circum contra dys ecto endo epi eu extra hemi hetero homo hyper
    hypo infra inter intra iso macro mega meso meta micro mono multi neo pan para peri poly post
    pre pro pseudo retro semi sub super supra tachy trans tri uni bi di""".split()
)

# Combining forms without the linking vowel; "o" is inserted before consonant-initial parts.
ROOTS: tuple[str, ...] = tuple(
    """aden angi arteri arthr bronch carcin cardi cephal cerebr cholecyst chondr col cost crani
    cyst cyt dactyl dent derm duoden encephal enter erythr esophag fibr gastr gloss glyc gynec hem
    hemat hepat hist hydr hyster ile kerat lapar laryng leuk lip lith lymph mamm mast melan mening
    my myel nephr neur ocul odont onc oophor ophthalm orch oste ot pancreat path ped pharyng phleb
    pneum proct prostat psych pulmon py pyel rhin sarc scler spin splen spondyl stern stomat ten
    thorac thromb thyr tox trache ur ureter urethr uter vas ven vertebr vesic viscer axill blephar
    bucc calc cheil chol cholangi choroid cleid colp cor cortic cutane cyan dacry diaphragmat dipl
    dors electr embry episi fasci femor fet gingiv glomerul gluc gnath hidr ichthy irid ischi jejun
    kal kyph labi lacrim lei lob lumb mandibul maxill medull metr muc myc myring nas necr noct
    ocl olig omphal onych orth pachy palat palpebr pariet pector pelv perine phac phalang phren
    plasm pleur poster pub radi rect ren retin sacr salping scapul sial somat spermat steat
    synov tars tend thalam thym tonsill tympan uvul vagin valv varic vulv xer""".split()
)

SUFFIXES: tuple[str, ...] = tuple(
    """itis osis oma algia emia ectomy otomy ostomy plasty pathy scopy graphy gram logy megaly
    penia plasia trophy rrhea rrhage sclerosis genesis genic lysis lytic ic al ous oid iasis cele
    stasis spasm malacia phagia philia plegia ptosis cyte blast poiesis uria esthesia pnea tropic
    static ase ine ectasis desis pexy rrhaphy tripsy""".split()
)

PSEUDO_TERM_COUNT = 200_000
ZIPF_EXPONENT = 1.05
# Zipf-Mandelbrot rank offset for the pseudo-terms: keeps the commonest invented term from
# being as frequent as "the" (common words already cover the head of the distribution).
PSEUDO_TERM_RANK_OFFSET = 20
_VOCAB_SEED = 20_260_101  # fixed: the vocabulary is part of the lexicon, not of a corpus seed


def _link(left: str, right: str) -> str:
    """Join two morphemes, inserting the linking vowel "o" before a consonant-initial part."""
    if right[0] in "aeiouy" or left[-1] in "aeiou":
        return left + right
    return left + "o" + right


@functools.lru_cache(maxsize=4)
def pseudo_terms(count: int = PSEUDO_TERM_COUNT) -> tuple[str, ...]:
    """`count` distinct pseudo-medical terms, in a fixed (seed-independent) rank order.

    Shapes: prefix+root+suffix ("hypercardiopathy"), root+root+suffix ("cardiomyopathy") and
    prefix+root+root+suffix. About 6% are capitalized and 5% hyphenated at a morpheme boundary,
    which gives tokenizers the case and punctuation variety real text has.
    """
    rng = np.random.default_rng(_VOCAB_SEED)
    seen: dict[str, None] = {}  # insertion-ordered; a set would make order depend on PYTHONHASHSEED
    batch = max(count // 2, 1024)
    while len(seen) < count:
        shape = rng.integers(0, 3, batch).tolist()
        pre = rng.integers(0, len(PREFIXES), batch).tolist()
        r1 = rng.integers(0, len(ROOTS), batch).tolist()
        r2 = rng.integers(0, len(ROOTS), batch).tolist()
        suf = rng.integers(0, len(SUFFIXES), batch).tolist()
        style = rng.random(batch).tolist()
        for i in range(batch):
            root1, root2, suffix = ROOTS[r1[i]], ROOTS[r2[i]], SUFFIXES[suf[i]]
            hyphen = style[i] < 0.05
            if shape[i] == 0:
                head, body = PREFIXES[pre[i]], _link(root1, suffix)
            elif shape[i] == 1:
                head, body = root1 + "o", _link(root2, suffix)
            else:
                head, body = PREFIXES[pre[i]] + root1 + "o", _link(root2, suffix)
            term = f"{head}-{body}" if hyphen else head + body
            if 0.05 <= style[i] < 0.11:
                term = term[0].upper() + term[1:]
            seen.setdefault(term, None)
            if len(seen) >= count:
                break
    return tuple(seen)


@functools.lru_cache(maxsize=4)
def _pseudo_term_array(count: int) -> np.ndarray:
    return np.asarray(pseudo_terms(count), dtype=object)


@functools.lru_cache(maxsize=16)
def _zipf_cdf(n: int, exponent: float, offset: float) -> np.ndarray:
    """Cumulative distribution of a finite Zipf(-Mandelbrot) law over ranks 1..n."""
    weights = (np.arange(1, n + 1, dtype=np.float64) + offset) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


class ZipfTerms:
    """Samples words by rank with P(rank r) proportional to r**-exponent, in numpy batches.

    Why not `Generator.zipf`: it is unbounded (most draws fall past the vocabulary at exponent
    ~1) and needs rejection; inverting a precomputed finite CDF with `searchsorted` is exact,
    vectorised and cheap.

    Args:
        rng: the seeded generator all draws come from (shared with the caller for determinism).
        terms: words in rank order; defaults to the pseudo-medical vocabulary.
        exponent: Zipf exponent; ~1.05 gives a natural-language-like long tail.
        offset: rank offset q in P(r) ~ (r + q)**-exponent (0: plain Zipf); defaults to
            `PSEUDO_TERM_RANK_OFFSET` for the pseudo-terms and 0 for caller-supplied words.
    """

    def __init__(self, rng: np.random.Generator, terms: Sequence[str] | None = None,
                 exponent: float = ZIPF_EXPONENT, offset: float | None = None) -> None:
        self.rng = rng
        self.exponent = exponent
        if terms is None:
            self._items = _pseudo_term_array(PSEUDO_TERM_COUNT)
            offset = PSEUDO_TERM_RANK_OFFSET if offset is None else offset
        else:
            self._items = np.asarray(list(terms), dtype=object)
        if len(self._items) == 0:
            raise ValueError("ZipfTerms needs at least one term")
        self._cdf = _zipf_cdf(len(self._items), float(exponent), float(offset or 0))

    def __len__(self) -> int:
        return len(self._items)

    def sample_indices(self, n: int) -> np.ndarray:
        """`n` ranks (0-based) drawn from the Zipf law."""
        idx = np.searchsorted(self._cdf, self.rng.random(n), side="right")
        # Guard the float edge case u == cdf[-1] == 1.0 which would index one past the end.
        return np.minimum(idx, len(self._items) - 1)

    def sample_array(self, n: int) -> np.ndarray:
        """`n` sampled words as a numpy object array (cheap to splice into other arrays)."""
        return self._items[self.sample_indices(n)]

    def sample(self, n: int) -> list[str]:
        """`n` sampled words."""
        return self.sample_array(n).tolist()
