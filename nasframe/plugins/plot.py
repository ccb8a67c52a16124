"""``best_so_far.png`` in the run folder when a run completes."""
from __future__ import annotations

from nasframe.core.plugin import RunContext, RunnerPlugin


class BestSoFarPlot(RunnerPlugin):
    def open(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def on_finish(self, summary, history) -> None:
        from nasframe.analysis.plots import plot_run

        plot_run(history, self.ctx.objectives[0], self.ctx.plot_path, title=self.ctx.names.get("title", ""))
