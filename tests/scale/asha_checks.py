"""What every ASHA run must satisfy, checked on a worker's ledger lines (in file order)."""
import math


def fitness(line, objective="score"):
    value = line["values"].get(objective)
    return -math.inf if line.get("failure") or value is None or not math.isfinite(value) else value


def check_promotions(lines, fidelities, eta=3, objective="score"):
    """Every search query above the bottom rung promotes an architecture that was among the top
    ``floor(n / eta)`` of the rung below, where ``n`` counts the results the worker knew when it asked
    (its ledger lines before the query: its own queries and those told from other workers).
    Returns the number of promotions checked."""
    known = {f: {} for f in fidelities}  # fidelity -> arch -> fitness, in the order known
    promotions = 0
    for line in lines:
        f = line["fidelity"]
        if line["phase"] == "search" and f != fidelities[0]:
            below = known[fidelities[fidelities.index(f) - 1]]
            ranked = sorted(below.values(), reverse=True)
            top = len(below) // eta
            assert top > 0 and line["arch"] in below, (line["arch"], f, len(below))
            assert below[line["arch"]] >= ranked[top - 1] > -math.inf, (line["arch"], f)
            promotions += 1
        known[f].setdefault(line["arch"], fitness(line, objective))
    return promotions
