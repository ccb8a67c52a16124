"""The three interfaces and the loop that drives them."""
from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked, fitness
from nasframe.core.plugin import RunContext, RunnerPlugin
from nasframe.core.runner import Budget, Runner, Source
from nasframe.core.space import (Architecture, Buildable, Decision, Enumerable, Mutable, Relaxable,
                                 SearchSpace, Sequential, require)
from nasframe.core.strategy import SourceTask, Strategy

__all__ = ["Architecture", "SearchSpace", "Enumerable", "Mutable", "Sequential", "Relaxable", "Buildable",
           "Decision", "require", "Evaluation", "Evaluator", "Objective", "checked", "fitness",
           "Strategy", "SourceTask", "Runner", "Budget", "Source", "RunnerPlugin", "RunContext"]
