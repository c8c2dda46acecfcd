"""Instruction-following candidates: validate existing IFEval constraints, or give a seed prompt generated ones.

A candidate with constraints keeps them if every instruction id and kwarg is valid for the IFEval verifier
(`nebula_hub.verify.ifeval.parse_constraints`), else it is rejected with reason `invalid_constraints`. A seed prompt
(no constraints) gets `if_constraints_per_seed` compatible constraints from `sample_constraints`, their texts
appended to the prompt; the draw is seeded by the config seed and the seed prompt's id, so reruns and resumed runs
draw the same constraints. Other tasks pass through.

    step = IFConstraintsStep(n_per_seed=2, seed=0, exclusion_writer=RejectedWriter(work_dir, "if_constraints"))
"""

import json
import random

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.document import refresh, reject
from nebula_hub.verify.ifeval import InvalidConstraintError, parse_constraints, sample_constraints


class IFConstraintsStep(BaseFilter):
    """Keep instruction-following candidates with valid constraints; generate constraints for seed prompts."""

    name = "IF constraints"

    def __init__(self, n_per_seed: int = 2, seed: int = 0, exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.n_per_seed = n_per_seed
        self.seed = seed

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        md = doc.metadata
        if md["task"]["label"] != "instruction_following":
            return True
        constraints = md["reference"].get("constraints")
        if constraints is None:
            return self._generate(doc)
        try:
            instructions = parse_constraints(constraints)
        except InvalidConstraintError as err:
            return reject(doc, "invalid_constraints", f"{md.get('where', doc.id)}: {err.message}")
        if not instructions:
            return reject(doc, "invalid_constraints", f"{md.get('where', doc.id)}: the constraint list is empty")
        # store IFEval's layout whatever layout the source used, so the published column has one shape
        if isinstance(constraints, str):
            constraints = json.loads(constraints)
        if isinstance(constraints, dict):
            kwargs = constraints.get("kwargs") or [{}] * len(instructions)
        else:
            kwargs = [item.get("kwargs") or {} for item in constraints]
        md["reference"]["constraints"] = {"instruction_id_list": [i.id for i in instructions], "kwargs": kwargs}
        return True

    def _generate(self, doc: Document) -> bool:
        md = doc.metadata
        # seeded by the seed prompt's id (a content hash): the same prompt always gets the same constraints
        rng = random.Random(f"{self.seed}:{doc.id}")
        drawn = sample_constraints(rng, n=self.n_per_seed, prompt=md["messages"][-1]["content"])
        md["messages"] = md["messages"][:-1] + [{"role": "user", "content": drawn.prompt}]
        md["reference"]["constraints"] = drawn.as_constraints()
        md["meta"]["seed_id"] = doc.id
        refresh(doc)
        self.stat_update("generated_constraints")
        return True
