"""One search shared by many workers through an Optuna RDB storage — a runner plug-in.

``storage=sqlite:///runs.db study=NAME`` (any SQLAlchemy URL, e.g.
``postgresql://host/db``) makes every ``python -m nasframe`` process that names
the same study a worker of one search. Each worker runs the normal runner loop
with its own seed and run folder; ``SharedStudy`` hooks into it (``before_ask``,
``after_ask``, ``after_evaluate``) and adds:

* **Budget** (``budget``) — ``budget.queries`` counts the queries of the whole
  study. A query holds a *slot* (row ``(study, slot)`` of ``nasframe_slots``,
  unique), reserved before the ask, so the study never runs more than its budget.
* **No architecture evaluated twice** (``claims``) — before evaluating, a worker
  claims the architecture (row ``(study, arch)`` of ``nasframe_claims``). One
  another worker already evaluated is answered from the study and told to the
  strategy free of charge; one another worker is still evaluating is waited for.
* **Multi-fidelity** — a claim is keyed by (architecture, fidelity) (``arch@3``
  below full fidelity), so ``strategy=asha`` workers never evaluate one
  architecture twice at one fidelity nor promote it twice to one rung. An
  asynchronous strategy does not wait for a claim held elsewhere: it skips it
  (the result arrives later through ``observe``) and asks again; the skipped
  claims are stored on the trial of the query taken instead (user attribute
  ``skipped``), which is how a resumed worker skips them again. Synchronous
  halving (``sh``, ``hyperband``) is refused, and so is ``budget.epochs``: a
  study's budget is ``budget.queries``, whatever each query's fidelity.
* **Whole-study history** (``plugin._sync``) — before each ask, results other
  workers finished since the last ask are given to the strategy
  (``Strategy.observe``), so every worker asks with everything the study knows.
* **Crash recovery** (``heartbeat``) — workers beat in ``nasframe_workers``; a
  worker silent past the grace period is dead: its running trials are failed and
  its slots and claims are taken over. A worker resumed with ``resume=true``
  fails its own leftover trials at once.
* **A real Optuna study** (``trials``) — one trial per query, the architecture
  as parameters and as the ``arch`` user attribute (and its ``fidelity``, for a
  multi-fidelity evaluator), the objective values with their directions,
  failed evaluations as FAIL: ``optuna-dashboard URL`` and
  ``optuna.visualization`` open it. With one worker it mirrors a single run.

Optuna is driven through its public API only (``create_study``, ``ask``/``tell``,
``set_user_attr``, ``get_trials(states=...)``); the three tables above live in
the same database because Optuna's storage has no uniqueness on attributes.

A worker's own repeat of an architecture (REA re-proposing its own child) is
charged and recorded exactly as in a serial run, so one worker on a fresh study
produces the serial run's history for the same seed. Results told from other
workers go to the worker's ``history.jsonl`` under ``phase: "shared"`` (with the
search step they arrived at), which is how a resumed worker replays them in the
same order.
"""
from nasframe.plugins.shared_study.connection import study_fingerprint
from nasframe.plugins.shared_study.plugin import SharedStudy, make_shared, worker_id

__all__ = ["SharedStudy", "make_shared", "study_fingerprint", "worker_id"]
