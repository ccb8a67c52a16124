"""Runner plug-ins the composition root attaches: progress bar, end-of-run plot, shared study.

Each is a ``nasframe.core.plugin.RunnerPlugin``; write your own the same way and
pass it in ``Runner(plugins=[...])``.
"""
from nasframe.plugins.plot import BestSoFarPlot
from nasframe.plugins.progress import ProgressBar

__all__ = ["BestSoFarPlot", "ProgressBar"]
