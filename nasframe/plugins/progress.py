"""A tqdm bar over the search budget, with the best primary value so far."""
from __future__ import annotations

import math

from nasframe.core.evaluator import fitness
from nasframe.core.plugin import RunContext, RunnerPlugin


class ProgressBar(RunnerPlugin):
    def start(self, ctx: RunContext, state) -> None:
        from tqdm.auto import tqdm

        self.primary = ctx.objectives[0]
        self.best = max((fitness(e, self.primary) for e in ctx.seen.values()), default=-math.inf)
        self.bar = tqdm(total=ctx.budget.queries, initial=ctx.count("search"), desc=ctx.names.get("title", "search"),
                        unit="query", dynamic_ncols=True, leave=False)

    def after_tell(self, archs, evaluations) -> None:
        self.best = max([self.best, *(fitness(e, self.primary) for e in evaluations)])  # O(batch), not O(history)
        self.bar.update(len(archs))
        shown = self.best if self.primary.direction == "max" else -self.best
        self.bar.set_postfix_str(f"best {self.primary.name}={shown:.4g}", refresh=False)

    def close(self) -> None:
        if getattr(self, "bar", None) is not None:
            self.bar.close()
            self.bar = None
