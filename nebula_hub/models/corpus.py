"""A seeded synthetic text corpus for training the tiny models' BPE tokenizer.

Nothing can be downloaded here and the project ships only data it makes itself, so the tokenizer is trained on text
generated from small word lists: chat-like sentences, arithmetic, Python snippets and instruction phrasing, enough
distinct merges to reach a 1-2K vocabulary. The same seed gives byte-identical text on every machine, so a student and
its teachers built separately share one tokenizer.
"""

import random


_NOUNS = (
    "answer question model teacher student problem solution number function string list value dataset record "
    "sample token reward policy gradient loss batch epoch checkpoint branch tag commit file folder shard corpus "
    "prompt response message assistant user system language code test result score benchmark metric table chart "
    "city river mountain ocean forest planet star garden kitchen library museum school market village bridge "
    "apple orange banana bread coffee water music story letter poem book paper idea reason method process "
    "triangle circle square angle fraction decimal equation variable matrix vector integer prime sum product"
).split()
_VERBS = (
    "write explain compute check return build train verify publish load count sort filter sample read find "
    "compare describe summarize translate solve prove measure improve reduce increase choose list show give "
    "create remove update keep drop merge split parse print call define test evaluate generate answer"
).split()
_ADJECTIVES = (
    "small large quick careful simple clear correct wrong short long exact hard easy medium new old open "
    "private public stable fast slow bright quiet happy strong gentle ancient modern curious useful precise"
).split()
_NAMES = "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Oscar Peggy Sybil Trent Victor Wendy".split()
_PY_TEMPLATES = (
    "def {f}({a}, {b}):\n    return {a} {op} {b}\n",
    "for {a} in range({n}):\n    print({a} {op} {m})\n",
    "if {a} > {n}:\n    {b} = {a} {op} {m}\nelse:\n    {b} = {n}\n",
    "assert {f}({n}, {m}) == {r}\n",
    "class {C}:\n    def __init__(self, {a}):\n        self.{a} = {a}\n",
    "import math\nprint(math.sqrt({n}))\n",
    "{a} = [{n}, {m}, {r}]\n{b} = sorted({a}, reverse=True)\n",
)
_INSTRUCTIONS = (
    "Write a {adj} {noun} about the {noun2} in at most {n} words.",
    "Answer in {n} sentences and wrap your whole response in double quotes.",
    "Your response should contain at least {n} paragraphs separated by ***.",
    "Do not use any commas in your response. End it with the phrase 'Is there anything else?'",
    "Respond in all lowercase letters. Include the keywords {noun} and {noun2}.",
    "Explain why the {noun} is {adj}. Highlight at least {n} sections with markdown.",
    "Please {verb} the {noun} and give the final answer in \\boxed{{}}.",
)


def tokenizer_corpus(num_lines: int = 6000, seed: int = 0) -> list[str]:
    """`num_lines` lines of varied synthetic text, identical for a given `seed`.

    Example:
        >>> tokenizer_corpus(3, seed=1) == tokenizer_corpus(3, seed=1)
        True
    """
    rng = random.Random(seed)
    lines: list[str] = []
    for i in range(num_lines):
        kind = i % 6
        n, m = rng.randint(0, 999), rng.randint(1, 99)
        noun, noun2 = rng.choice(_NOUNS), rng.choice(_NOUNS)
        adj, verb, name = rng.choice(_ADJECTIVES), rng.choice(_VERBS), rng.choice(_NAMES)
        if kind == 0:
            lines.append(f"{name} wants to {verb} the {adj} {noun} before the {noun2} is ready.")
        elif kind == 1:
            op = rng.choice("+-*")
            result = {"+": n + m, "-": n - m, "*": n * m}[op]
            lines.append(f"What is {n} {op} {m}? The answer is \\boxed{{{result}}}.")
        elif kind == 2:
            a, b = rng.sample(["x", "y", "total", "count", "value", "items", "acc", "idx"], 2)
            tpl = rng.choice(_PY_TEMPLATES)
            lines.append(
                tpl.format(f=f"{verb}_{noun}", a=a, b=b, op=rng.choice("+-*"), n=n, m=m, r=n + m, C=noun.title())
            )
        elif kind == 3:
            lines.append(rng.choice(_INSTRUCTIONS).format(adj=adj, noun=noun, noun2=noun2, n=m % 9 + 1, verb=verb))
        elif kind == 4:
            lines.append(
                f"<think>\nThe {noun} has {n} parts and each needs {m}, so {n} * {m} = {n * m}.\n</think>\n\n"
                f"So the {noun} needs {n * m} in total."
            )
        else:
            lines.append(
                f"The {adj} {noun} of {name.lower()} can {verb} {m} {noun2}s; "
                f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s cannot."
            )
    return lines
