"""The bundled sample sources in `pipelines/sources/`: programmatic generators with ground truth, seeded with defects.

Five sources in five layouts (math problem/solution JSONL, code Alpaca JSONL with tests, instruction-following OpenAI
messages JSONL with IFEval constraints, knowledge multiple-choice prompt/response Parquet, general chat ShareGPT
JSONL) plus small benchmark sets to decontaminate against (`benchmarks/`). Every good record is checked while it is
made (math answers computed, reference programs run against their tests, IF responses checked by the IFEval
verifier), and each source carries deliberate defects so every stage has work: exact and near duplicates,
benchmark-contaminated prompts, broken formats (invalid JSON, missing fields, wrong types, non-UTF-8 bytes, bad role
order, empty content, malformed think tags), wrong math answers, failing code and constraint-violating responses.

Regenerate (deterministic for a seed):

    python -m nebula_hub.curate.samples pipelines/sources
"""

import json
import random
import sys
from pathlib import Path


NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noor",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zane",
]
ITEMS = [
    "apples",
    "marbles",
    "stickers",
    "books",
    "pencils",
    "cookies",
    "stamps",
    "shells",
    "coins",
    "cards",
    "balloons",
    "candles",
    "buttons",
    "tickets",
    "seeds",
    "beads",
]
PLACES = [
    "the market",
    "school",
    "the fair",
    "a garage sale",
    "the library sale",
    "the corner shop",
    "the museum store",
    "a flea market",
    "the bakery",
    "the harbor",
]
TOPICS = [
    "the ocean",
    "a rainy afternoon",
    "learning to cook",
    "city gardens",
    "old maps",
    "winter mornings",
    "the night sky",
    "a train journey",
    "honeybees",
    "mountain hiking",
    "public libraries",
    "desert plants",
    "river boats",
    "coffee farming",
    "paper kites",
    "lighthouses",
    "street music",
    "glass making",
    "owls",
    "tea ceremonies",
    "volcanoes",
    "bicycle repair",
    "coral reefs",
    "birdsong",
    "ancient bridges",
    "sourdough bread",
    "chess openings",
    "wind farms",
    "pottery wheels",
    "jazz records",
    "snow leopards",
    "salt marshes",
    "board games",
    "solar eclipses",
    "rice terraces",
    "sailing knots",
    "fossil hunting",
    "typewriters",
    "maple syrup",
    "cave paintings",
    "tidal pools",
    "origami cranes",
    "woolly mammoths",
    "handwritten letters",
    "street markets",
]


# ---- math --------------------------------------------------------------------------------------------------
def _math_problem(rng: random.Random) -> tuple[str, str, int]:
    name, other = rng.sample(NAMES, 2)
    item, place = rng.choice(ITEMS), rng.choice(PLACES)
    a, b, c = rng.randint(3, 60), rng.randint(2, 40), rng.randint(2, 9)
    kind = rng.randrange(5)
    if kind == 0:
        q = (
            f"{name} buys {a} {item} at {place} and then gets {b} more from {other}. Later {name} gives away {c} "
            f"{item}. How many {item} does {name} have now?"
        )
        steps, ans = f"{a} + {b} = {a + b}, then {a + b} - {c} = {a + b - c}.", a + b - c
    elif kind == 1:
        q = (
            f"At {place}, {name} packs {item} into {c} boxes with {b} {item} in each box, and {a} {item} are left "
            f"over. How many {item} did {name} start with?"
        )
        steps, ans = f"{c} x {b} = {c * b}, plus {a} left over gives {c * b + a}.", c * b + a
    elif kind == 2:
        total = c * b
        q = (
            f"{name} and {c - 1} friends share {total} {item} from {place} equally. How many {item} does each "
            f"person get?"
        )
        steps, ans = f"There are {c} people, so {total} / {c} = {b}.", b
    elif kind == 3:
        q = (
            f"{name} earns {b} dollars a day for {c} days selling {item} at {place}, then spends {a} dollars on "
            f"supplies. How many dollars does {name} keep?"
        )
        steps, ans = f"{b} x {c} = {b * c}, then {b * c} - {a} = {b * c - a}.", b * c - a
    else:
        q = (
            f"A crate at {place} holds {a} {item}. {name} adds {b} {item} to it {c} times while {other} watches. How "
            f"many {item} are in the crate at the end?"
        )
        steps, ans = f"{b} x {c} = {b * c}, and {a} + {b * c} = {a + b * c}.", a + b * c
    return q, steps, ans


def math_records(rng: random.Random, n: int, bench: list[str]) -> list[dict]:
    rows = []
    for i in range(n):
        q, steps, ans = _math_problem(rng)
        rows.append(
            {
                "id": f"math-{i:04d}",
                "problem": q,
                "solution": f"{steps} The answer is $\\boxed{{{ans}}}$.",
                "answer": str(ans),
                "reasoning": f"I need to combine the quantities step by step. {steps}",
            }
        )
    # defects: wrong answers (solution disagrees with the gold), exact and near duplicates, contamination
    for row in rng.sample(rows, 12):
        wrong = int(row["answer"]) + rng.randint(1, 9)
        row["solution"] = row["solution"].rsplit("The answer is", 1)[0] + f"The answer is $\\boxed{{{wrong}}}$."
        row["id"] += "-wrong"
    dups = [dict(r, id=r["id"] + "-dup") for r in rng.sample(rows, 10)]
    near = [
        dict(r, id=r["id"] + "-near", problem=r["problem"].replace(" How many", " Please answer: how many"))
        for r in rng.sample(rows, 8)
    ]
    contaminated = []
    for j, q in enumerate(bench[:6]):
        contaminated.append(
            {"id": f"math-bench-{j}", "problem": q, "solution": "The answer is $\\boxed{1}$.", "answer": "1"}
        )
    return rows + dups + near + contaminated


def math_benchmark(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        name = rng.choice(NAMES)
        a, b = rng.randint(100, 900), rng.randint(11, 99)
        out.append(
            f"A library in the town of {name}ville owns {a} rare volumes and receives {b} new donated volumes "
            f"every month for a full year. How many volumes does the library own after that year?"
        )
    return out


# ---- code --------------------------------------------------------------------------------------------------
CODE_OPS = [
    ("total_{n}", "returns the sum of all {n} in the list", "return sum(values)", "[1, 2, 3]", "6", "[]", "0"),
    (
        "largest_{n}",
        "returns the largest of the {n}, or None when the list is empty",
        "return max(values) if values else None",
        "[3, 9, 2]",
        "9",
        "[]",
        "None",
    ),
    (
        "smallest_{n}",
        "gives back the smallest value among the {n} (None for an empty list)",
        "return min(values) if values else None",
        "[3, 9, 2]",
        "2",
        "[]",
        "None",
    ),
    (
        "count_positive_{n}",
        "counts how many of the {n} are strictly positive",
        "return sum(1 for v in values if v > 0)",
        "[-1, 0, 4, 5]",
        "2",
        "[]",
        "0",
    ),
    (
        "count_even_{n}",
        "tells how many {n} are even numbers",
        "return sum(1 for v in values if v % 2 == 0)",
        "[1, 2, 4, 7]",
        "2",
        "[]",
        "0",
    ),
    (
        "sorted_{n}",
        "produces the {n} sorted from lowest to highest as a new list",
        "return sorted(values)",
        "[3, 1, 2]",
        "[1, 2, 3]",
        "[]",
        "[]",
    ),
    (
        "ranked_{n}",
        "orders the {n} from highest to lowest",
        "return sorted(values, reverse=True)",
        "[3, 1, 2]",
        "[3, 2, 1]",
        "[5]",
        "[5]",
    ),
    (
        "distinct_{n}",
        "keeps each of the {n} once, in increasing order",
        "return sorted(set(values))",
        "[3, 1, 3, 2, 1]",
        "[1, 2, 3]",
        "[]",
        "[]",
    ),
    (
        "spread_{n}",
        "computes the difference between the biggest and the smallest of the {n} (0 if empty)",
        "return max(values) - min(values) if values else 0",
        "[4, 10, 7]",
        "6",
        "[]",
        "0",
    ),
    (
        "running_{n}",
        "builds the running totals (prefix sums) of the {n}",
        "out, acc = [], 0\n    for v in values:\n        acc += v\n        out.append(acc)\n    return out",
        "[1, 2, 3]",
        "[1, 3, 6]",
        "[]",
        "[]",
    ),
    (
        "squared_{n}",
        "squares every one of the {n} and returns the new list",
        "return [v * v for v in values]",
        "[1, -2, 3]",
        "[1, 4, 9]",
        "[]",
        "[]",
    ),
    (
        "doubled_{n}",
        "multiplies each of the {n} by two",
        "return [2 * v for v in values]",
        "[1, 5]",
        "[2, 10]",
        "[]",
        "[]",
    ),
    (
        "reversed_{n}",
        "returns the {n} in the opposite order",
        "return list(reversed(values))",
        "[1, 2, 3]",
        "[3, 2, 1]",
        "[]",
        "[]",
    ),
    (
        "first_{n}",
        "picks the first of the {n}, or None if there are none",
        "return values[0] if values else None",
        "[7, 8]",
        "7",
        "[]",
        "None",
    ),
    ("zero_{n}", "counts the {n} equal to zero", "return values.count(0)", "[0, 1, 0]", "2", "[]", "0"),
    (
        "argmax_{n}",
        "finds the position of the largest of the {n} (-1 for an empty list)",
        "return max(range(len(values)), key=values.__getitem__) if values else -1",
        "[4, 9, 1]",
        "1",
        "[]",
        "-1",
    ),
    (
        "absolute_{n}",
        "adds up the absolute values of the {n}",
        "return sum(abs(v) for v in values)",
        "[-2, 3]",
        "5",
        "[]",
        "0",
    ),
    (
        "mean_{n}",
        "returns the average of the {n} as a float (0.0 for an empty list)",
        "return sum(values) / len(values) if values else 0.0",
        "[2, 4]",
        "3.0",
        "[]",
        "0.0",
    ),
    (
        "negatives_{n}",
        "keeps only the negative {n}, in their original order",
        "return [v for v in values if v < 0]",
        "[-1, 2, -3]",
        "[-1, -3]",
        "[]",
        "[]",
    ),
    (
        "odd_{n}",
        "filters the {n} down to the odd ones",
        "return [v for v in values if v % 2]",
        "[1, 2, 3]",
        "[1, 3]",
        "[]",
        "[]",
    ),
]
NOUNS = [
    "prices",
    "scores",
    "weights",
    "distances",
    "ages",
    "temperatures",
    "votes",
    "steps",
    "heights",
    "balances",
    "ratings",
    "minutes",
    "pages",
    "speeds",
    "volumes",
    "salaries",
    "depths",
    "points",
    "rainfall_readings",
    "altitudes",
]
PHRASES = [
    "Write a Python function `{f}(values)` that {d}.",
    "Implement `{f}(values)` in Python: it {d}.",
    "Create a small Python helper named `{f}` taking a list called values; it {d}.",
    "I need Python code: define `{f}(values)`, which {d}.",
]
EXTRA_CODE = [
    (
        "Write a Python function `reverse_words(sentence)` that reverses the order of the words in a sentence.",
        "def reverse_words(sentence):\n    return ' '.join(sentence.split()[::-1])",
        "assert reverse_words('a b c') == 'c b a'\nassert reverse_words('') == ''",
    ),
    (
        "Implement `is_palindrome(s)` returning True when s reads the same backwards, ignoring case.",
        "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]",
        "assert is_palindrome('Abba')\nassert not is_palindrome('abc')",
    ),
    (
        "Write a Python function `count_vowels(text)` that counts the vowels a, e, i, o and u in text.",
        "def count_vowels(text):\n    return sum(ch in 'aeiou' for ch in text.lower())",
        "assert count_vowels('Hello') == 2\nassert count_vowels('xyz') == 0",
    ),
    (
        "Write `fibonacci(n)` returning the n-th Fibonacci number with fibonacci(0) == 0 and fibonacci(1) == 1.",
        "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
        "assert fibonacci(0) == 0\nassert fibonacci(10) == 55",
    ),
    (
        "Implement `gcd(a, b)` that returns the greatest common divisor of two positive integers.",
        "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
        "assert gcd(12, 18) == 6\nassert gcd(7, 5) == 1",
    ),
]


def code_records(rng: random.Random, n: int) -> list[dict]:
    pairs = [(op, noun) for op in CODE_OPS for noun in NOUNS]
    rng.shuffle(pairs)
    rows = []
    for i, (op, noun) in enumerate(pairs[:n]):
        name, desc, body, arg1, exp1, arg2, exp2 = op
        f = name.format(n=noun)
        program = f"def {f}(values):\n    {body}"
        tests = f"assert {f}({arg1}) == {exp1}\nassert {f}({arg2}) == {exp2}"
        rows.append(
            {
                "id": f"code-{i:04d}",
                "instruction": rng.choice(PHRASES).format(f=f, d=desc.format(n=noun.replace("_", " "))),
                "input": "",
                "output": f"```python\n{program}\n```",
                "tests": {"kind": "assert", "assert_code": tests},
            }
        )
    for j, (instr, program, tests) in enumerate(EXTRA_CODE):
        rows.append(
            {
                "id": f"code-extra-{j}",
                "instruction": instr,
                "input": "",
                "output": f"```python\n{program}\n```",
                "tests": {"kind": "assert", "assert_code": tests},
            }
        )
    for row in rows:  # the reference programs must pass their own tests
        _run_tests(row["output"], row["tests"]["assert_code"], must_pass=True)
    for row in rng.sample(rows[:n], 8):  # defect: failing code (the function returns None)
        row["output"] = (
            row["output"]
            .replace("def ", "def _unused_", 1)
            .replace(
                "\n```",
                "\n" + "def " + row["output"].split("def ")[1].split("(")[0] + "(values):\n    return None\n```",
                1,
            )
        )
        row["id"] += "-failing"
        _run_tests(row["output"], row["tests"]["assert_code"], must_pass=False)
    return rows + [dict(r, id=r["id"] + "-dup") for r in rng.sample(rows, 6)]


def _run_tests(output: str, tests: str, must_pass: bool) -> None:
    program = output.split("```python\n", 1)[1].rsplit("\n```", 1)[0]
    scope: dict = {}
    try:
        exec(compile(program + "\n" + tests, "<sample>", "exec"), scope)  # our own generated programs only
        passed = True
    except Exception:  # a failing assert or a crash both mean the program fails its tests
        passed = False
    assert passed == must_pass, f"sample program {program!r} should {'pass' if must_pass else 'fail'} {tests!r}"


# ---- instruction following -------------------------------------------------------------------------------
SENTENCES = [
    "{t} has a quiet history that few people know",
    "people who study {t} often start by simply watching",
    "the best way to enjoy {t} is slowly and with patience",
    "many stories about {t} are passed between families",
    "there is always something new to notice about {t}",
    "some of the oldest records mention {t} in passing",
    "writers return to {t} again and again",
    "a small detail about {t} can change how you see it",
]


AUDIENCES = [
    "a curious ten-year-old",
    "my book club",
    "a retired sailor",
    "first-year students",
    "a busy nurse",
    "our village newsletter",
    "a visiting scientist",
    "my pen pal in Chile",
    "the local radio show",
    "a nervous traveller",
    "a group of hikers",
    "an art teacher",
]
PURPOSES = [
    "to spark their interest",
    "before our weekend trip",
    "as a bedtime story",
    "for a museum leaflet",
    "to start a friendly debate",
    "for a postcard",
    "as a toast at dinner",
    "to open a workshop",
    "for a school noticeboard",
    "as a thank-you gift",
    "for a podcast intro",
    "to calm them down",
]


def _if_case(rng: random.Random, topic: str, kind: int):
    kind = kind % 6
    topic = f"{topic} for {rng.choice(AUDIENCES)} {rng.choice(PURPOSES)}"
    lines = [s.format(t=topic) for s in rng.sample(SENTENCES, 4)]
    if kind == 0:
        prompt = f"Write a short note about {topic}. Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."
        resp = ". ".join(lines).lower() + "."
        cons = [("change_case:english_lowercase", {})]
    elif kind == 1:
        prompt = f"Describe {topic} in a few sentences. In your entire response, refrain from the use of any commas."
        resp = ". ".join(s.capitalize() for s in lines) + "."
        cons = [("punctuation:no_comma", {})]
    elif kind == 2:
        n = rng.choice([3, 4])
        prompt = f"Give me facts about {topic}. Your answer must contain exactly {n} bullet points. Use the markdown bullet points such as:\n* This is point 1."
        resp = "\n".join(f"* {s.capitalize()}." for s in lines[:n])
        cons = [("detectable_format:number_bullet_lists", {"num_bullets": n})]
    elif kind == 3:
        phrase = "Is there anything else I can help with?"
        prompt = f"Write a paragraph about {topic}. Finish your response with this exact phrase {phrase}. No other words should follow this phrase."
        resp = ". ".join(s.capitalize() for s in lines) + ". " + phrase
        cons = [("startend:end_checker", {"end_phrase": phrase})]
    elif kind == 4:
        n = rng.choice([20, 25, 30])
        prompt = f"Tell me about {topic}. Answer with at least {n} words."
        resp = ". ".join(s.capitalize() for s in lines) + "."
        cons = [("length_constraints:number_words", {"relation": "at least", "num_words": n})]
    else:
        prompt = f"Write a short letter about {topic}. At the end of your response, please explicitly add a postscript starting with P.S."
        resp = ". ".join(s.capitalize() for s in lines[:3]) + ".\n\nP.S. " + lines[3].capitalize() + "."
        cons = [("detectable_content:postscript", {"postscript_marker": "P.S."})]
    return prompt, resp, {"instruction_id_list": [c[0] for c in cons], "kwargs": [c[1] for c in cons]}


def if_records(rng: random.Random, n: int, bench: list[str]) -> list[dict]:
    from nebula_hub.verify.ifeval import check_constraints

    rows = []
    for i in range(n):
        prompt, resp, cons = _if_case(rng, TOPICS[i % len(TOPICS)], i // len(TOPICS))
        assert check_constraints(resp, cons).verdict == "pass", (prompt, resp)
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": resp}]
        if i % 7 == 0:
            msgs.insert(0, {"role": "system", "content": "You are a careful writing assistant."})
        if i % 5 == 0:
            msgs[-1]["reasoning_content"] = "I should satisfy the formatting constraint exactly."
        rows.append(
            {
                "id": f"if-{i:04d}",
                "messages": msgs,
                "instruction_id_list": cons["instruction_id_list"],
                "kwargs": cons["kwargs"],
            }
        )
    for row in rng.sample(rows, 8):  # defect: a response that breaks its constraint
        row["messages"][-1]["content"] = "NO, I WILL WRITE, AS I PLEASE, IN CAPITALS, WITH COMMAS."
        row["id"] += "-violates"
    for j, prompt in enumerate(bench[:5]):  # contaminated prompts
        rows.append(
            {
                "id": f"if-bench-{j}",
                "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "a response"}],
            }
        )
    rows.append(
        {
            "id": "if-bad-think",
            "messages": [
                {"role": "user", "content": "Say hi about owls."},
                {"role": "assistant", "content": "<think>hmm</think> hi <think>"},
            ],
        }
    )
    return rows + [dict(r, id=r["id"] + "-dup") for r in rng.sample(rows, 6)]


def if_benchmark(rng: random.Random, n: int) -> list[str]:
    return [
        f"Write an essay of at least 300 words about the history of {rng.choice(TOPICS)} and "
        f"{rng.choice(TOPICS)}, and wrap your entire response with double quotation marks."
        for _ in range(n)
    ]


# ---- knowledge ---------------------------------------------------------------------------------------------
FACTS = [
    ("capital of France", "Paris", ["Lyon", "Marseille", "Nice"]),
    ("capital of Japan", "Tokyo", ["Osaka", "Kyoto", "Nagoya"]),
    ("capital of Canada", "Ottawa", ["Toronto", "Vancouver", "Montreal"]),
    ("capital of Australia", "Canberra", ["Sydney", "Melbourne", "Perth"]),
    ("capital of Kenya", "Nairobi", ["Mombasa", "Kisumu", "Nakuru"]),
    ("capital of Peru", "Lima", ["Cusco", "Arequipa", "Trujillo"]),
    ("chemical symbol of gold", "Au", ["Ag", "Gd", "Go"]),
    ("chemical symbol of sodium", "Na", ["So", "Sd", "N"]),
    ("chemical symbol of iron", "Fe", ["Ir", "In", "F"]),
    ("largest planet in the solar system", "Jupiter", ["Saturn", "Neptune", "Earth"]),
    ("planet closest to the Sun", "Mercury", ["Venus", "Mars", "Earth"]),
    ("author of Pride and Prejudice", "Jane Austen", ["Emily Bronte", "Mary Shelley", "George Eliot"]),
    ("author of War and Peace", "Leo Tolstoy", ["Anton Chekhov", "Fyodor Dostoevsky", "Ivan Turgenev"]),
    ("boiling point of water at sea level in Celsius", "100", ["90", "80", "120"]),
    ("number of sides of a hexagon", "6", ["5", "7", "8"]),
    ("gas plants absorb for photosynthesis", "carbon dioxide", ["oxygen", "nitrogen", "helium"]),
    ("longest river in South America", "the Amazon", ["the Orinoco", "the Parana", "the Magdalena"]),
    ("inventor of the phonograph", "Thomas Edison", ["Nikola Tesla", "Alexander Graham Bell", "James Watt"]),
    ("hardest natural mineral", "diamond", ["quartz", "topaz", "corundum"]),
    ("smallest prime number", "2", ["1", "3", "0"]),
]
CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Canada": "Ottawa",
    "Australia": "Canberra",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Egypt": "Cairo",
    "Norway": "Oslo",
    "Chile": "Santiago",
    "Ghana": "Accra",
    "Portugal": "Lisbon",
    "Vietnam": "Hanoi",
    "Turkey": "Ankara",
    "Morocco": "Rabat",
    "Poland": "Warsaw",
    "Argentina": "Buenos Aires",
    "Thailand": "Bangkok",
    "Ireland": "Dublin",
    "Nigeria": "Abuja",
    "Brazil": "Brasilia",
    "India": "New Delhi",
    "Mexico": "Mexico City",
    "Sweden": "Stockholm",
    "Greece": "Athens",
    "Hungary": "Budapest",
    "Cuba": "Havana",
    "Nepal": "Kathmandu",
    "Iceland": "Reykjavik",
    "Finland": "Helsinki",
    "Colombia": "Bogota",
    "Austria": "Vienna",
    "Senegal": "Dakar",
    "Jordan": "Amman",
    "Mongolia": "Ulaanbaatar",
    "Uruguay": "Montevideo",
    "Tunisia": "Tunis",
    "Denmark": "Copenhagen",
    "Ecuador": "Quito",
    "Bolivia": "Sucre",
    "Ethiopia": "Addis Ababa",
}
SYMBOLS = {
    "gold": "Au",
    "sodium": "Na",
    "iron": "Fe",
    "silver": "Ag",
    "potassium": "K",
    "lead": "Pb",
    "tin": "Sn",
    "copper": "Cu",
    "mercury": "Hg",
    "tungsten": "W",
    "helium": "He",
    "neon": "Ne",
    "calcium": "Ca",
    "magnesium": "Mg",
    "zinc": "Zn",
    "nitrogen": "N",
    "oxygen": "O",
    "carbon": "C",
    "sulfur": "S",
    "chlorine": "Cl",
    "argon": "Ar",
    "nickel": "Ni",
    "platinum": "Pt",
    "uranium": "U",
    "iodine": "I",
}
STEMS = [
    "Which of the following is the {q}?",
    "Pick the correct answer. What is the {q}?",
    "Question about general knowledge: identify the {q}.",
    "Choose one option: the {q} is which of these?",
]


def _facts(rng: random.Random) -> list[tuple[str, str, list[str]]]:
    facts = list(FACTS)
    cities = list(CAPITALS.values())
    for country, city in CAPITALS.items():
        facts.append((f"capital city of {country}", city, rng.sample([c for c in cities if c != city], 3)))
    symbols = list(SYMBOLS.values())
    for element, symbol in SYMBOLS.items():
        facts.append(
            (f"chemical symbol for the element {element}", symbol, rng.sample([x for x in symbols if x != symbol], 3))
        )
    return facts


def knowledge_records(rng: random.Random, n: int) -> list[dict]:
    rows = []
    facts = _facts(rng)
    for i in range(min(n, len(facts))):
        q, right, wrong = facts[i]
        stem = STEMS[i % len(STEMS)]
        options = [right, *wrong]
        rng.shuffle(options)
        letter = "ABCD"[options.index(right)]
        body = "\n".join(f"{'ABCD'[j]}) {o}" for j, o in enumerate(options))
        rows.append(
            {
                "id": f"kn-{i:04d}",
                "prompt": f"{stem.format(q=q)}\n{body}",
                "response": f"The {q} is {right}, so the answer is {letter}.",
                "choices": options,
                "answer": letter,
                "license": "cc-by-4.0",
            }
        )
    for row in rng.sample(rows, 6):  # defect: the wrong letter
        row["response"] = row["response"][:-2] + ("A." if row["answer"] != "A" else "B.")
        row["id"] += "-wrong"
    return rows


# ---- general chat ------------------------------------------------------------------------------------------
CHAT = [
    (
        "How do I keep {t} in mind when planning a weekend?",
        "Start small: pick one afternoon, read a little about "
        "{t} beforehand and leave time to wander. Writing down two things you noticed helps you remember them.",
    ),
    (
        "Can you suggest a gift idea related to {t}?",
        "A good gift connected to {t} is a well illustrated book or a "
        "small hands-on kit. Add a handwritten note explaining why you thought of them.",
    ),
    (
        "What is a relaxing hobby connected to {t}?",
        "Sketching or journaling about {t} is relaxing: it needs no "
        "special equipment and lets you go at your own pace.",
    ),
    (
        "Give me a fun fact to share about {t} at dinner.",
        "Here is one: people have written about {t} for "
        "centuries, and many local museums keep surprising objects linked to it. Ask your friends what they know!",
    ),
    (
        "My friend loves {t}. What should I ask her about it?",
        "Ask what first got her interested in {t}, which "
        "place or moment she remembers best, and what she would recommend to a curious beginner.",
    ),
    (
        "Why do some people find {t} boring?",
        "Often because they meet {t} only through dry facts. Seeing it in "
        "person, or hearing a good story about it, usually changes their mind.",
    ),
    (
        "Suggest three words that describe {t}.",
        "Patient, surprising and timeless are three words that suit {t} "
        "well, though everyone will pick different ones.",
    ),
    (
        "Write one friendly sentence inviting a neighbour to learn about {t}.",
        "Would you like to join me this Saturday to learn a bit about {t}? I will bring tea and snacks.",
    ),
    (
        "What should a complete beginner read first about {t}?",
        "Begin with a short illustrated introduction to "
        "{t}, then a memoir by someone who loves it; both are easier than textbooks.",
    ),
    (
        "Is {t} a good theme for a school project?",
        "Yes, {t} works well: it is easy to find sources, it invites "
        "drawings and interviews, and students can relate it to their own town.",
    ),
    (
        "Plan a rainy-day activity around {t}.",
        "Gather pictures of {t}, make a small poster together, then end "
        "with a quiz where everyone writes one question for the others.",
    ),
    (
        "How can I explain {t} to my grandmother?",
        "Connect {t} to something she already knows, keep it to one "
        "example, and let her ask questions rather than giving a lecture.",
    ),
]


def chat_records(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        q, a = CHAT[i % len(CHAT)]
        t = TOPICS[(i // len(CHAT)) % len(TOPICS)]
        conv = [{"from": "human", "value": q.format(t=t)}, {"from": "gpt", "value": a.format(t=t)}]
        if i % 6 == 0:
            conv.insert(0, {"from": "system", "value": "You are a friendly assistant."})
        if i % 9 == 0:
            conv += [
                {"from": "human", "value": "Thanks! Anything else?"},
                {"from": "gpt", "value": f"Enjoy exploring {t}, and take notes along the way."},
            ]
        rows.append({"id": f"chat-{i:04d}", "conversations": conv})
    rows.append(
        {
            "id": "chat-bad-order",
            "conversations": [{"from": "gpt", "value": "I speak first."}, {"from": "human", "value": "Odd."}],
        }
    )
    rows.append(
        {"id": "chat-empty", "conversations": [{"from": "human", "value": "   "}, {"from": "gpt", "value": "?"}]}
    )
    rows.append(
        {
            "id": "chat-unknown-role",
            "conversations": [{"from": "narrator", "value": "Once upon a time"}, {"from": "gpt", "value": "Go on."}],
        }
    )
    rows.append({"id": "chat-no-reply", "conversations": [{"from": "human", "value": "Hello there, anyone?"}]})
    rows.append(
        {
            "id": "chat-repeat",
            "conversations": [
                {"from": "human", "value": "Tell me about kites."},
                {"from": "gpt", "value": "\n".join(["kites kites kites"] * 12)},
            ],
        }
    )
    return rows


def write_jsonl(path: Path, rows: list[dict], broken: list[bytes] = ()) -> None:
    lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in rows]
    for k, raw in enumerate(broken):
        lines.insert(len(lines) * (k + 1) // (len(broken) + 1), raw)
    path.write_bytes(b"\n".join(lines) + b"\n")


def generate_samples(out_dir: str | Path, seed: int = 0, scale: float = 1.0) -> dict[str, int]:
    """Write the bundled sources and benchmark sets into `out_dir`; returns {file: records}.

    `scale` shrinks every source (tests use ~0.05 for a few hundred records with every defect class still present).
    """

    def size(n):
        return max(int(n * scale), 40)

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    (out / "benchmarks").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    math_bench, if_bench = math_benchmark(rng, 40), if_benchmark(rng, 30)
    write_jsonl(out / "benchmarks" / "mini_math.jsonl", [{"question": q, "answer": ""} for q in math_bench])
    write_jsonl(out / "benchmarks" / "mini_ifeval.jsonl", [{"prompt": p} for p in if_bench])
    sizes = {}
    rows = math_records(rng, size(700), math_bench)
    write_jsonl(
        out / "math_problem_solution.jsonl",
        rows,
        [
            b'{"id": "math-broken-json", "problem": "What is 2+2?", "solution": ',
            b'{"id": "math-no-solution", "problem": "What is 3+3?"}',
            b'{"id": "math-bad-type", "problem": ["not", "text"], "solution": "6"}',
        ],
    )
    sizes["math_problem_solution.jsonl"] = len(rows) + 3
    rows = code_records(rng, size(380))
    write_jsonl(
        out / "code_alpaca.jsonl", rows, [b'{"id": "code-latin1", "instruction": "Write caf\xe9()", "output": "x"}']
    )
    sizes["code_alpaca.jsonl"] = len(rows) + 1
    rows = if_records(rng, size(300), if_bench)
    write_jsonl(out / "if_messages.jsonl", rows, [b'{"id": "if-messages-not-list", "messages": "hello"}'])
    sizes["if_messages.jsonl"] = len(rows) + 1
    rows = knowledge_records(rng, size(240))
    pq.write_table(pa.Table.from_pylist(rows), out / "knowledge_mc.parquet")
    sizes["knowledge_mc.parquet"] = len(rows)
    rows = chat_records(rng, size(560))
    write_jsonl(out / "chat_sharegpt.jsonl", rows)
    sizes["chat_sharegpt.jsonl"] = len(rows)
    return sizes


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "pipelines/sources"
    counts = generate_samples(target)
    print(json.dumps(counts, indent=2), f"total {sum(counts.values())}")
