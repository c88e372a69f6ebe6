#!/usr/bin/env python3
"""Writes examples/customers.csv: 2,000 synthetic customers for the README demo and tests.

Four planted personas (young urban singles, suburban families, affluent professionals,
rural retirees) with realistic quirks: right-skewed incomes, ~2% missing values, mixed-case
categories. Deterministic: the same file every run. Standard library only.
Usage: python3 scripts/make_example.py [OUT.csv]
"""
import csv
import random
import sys

PERSONAS = [
    # weight, age (mean, sd), log-income mean (k$), education, marital, region, household
    (0.30, (27, 4), 3.5, ["Bachelor", "Bachelor", "High school"], ["Single", "Single", "Married"], ["Urban"], (1, 2)),
    (0.30, (39, 5), 4.2, ["Bachelor", "High school", "Master"], ["Married"], ["Suburban", "Suburban", "Urban"], (3, 5)),
    (0.20, (47, 6), 4.9, ["Master", "Doctorate", "Master"], ["Married", "Single"], ["Urban"], (1, 3)),
    (0.20, (68, 5), 3.6, ["High school", "Bachelor"], ["Married", "Widowed"], ["Rural", "Rural", "Suburban"], (1, 2)),
]


def main(path: str) -> None:
    rng = random.Random(20261123)
    weights = [p[0] for p in PERSONAS]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id", "age", "gender", "income", "education", "marital_status", "region", "household_size"])
        for i in range(1, 2001):
            _, (am, asd), li, edu, mar, reg, (h0, h1) = rng.choices(PERSONAS, weights)[0]
            age = max(18, min(90, round(rng.gauss(am, asd))))
            income = round(rng.lognormvariate(li, 0.35), 1)
            row = [
                f"C{i:06d}",
                age,
                rng.choice(["Female", "Male"]),
                income,
                rng.choice(edu),
                rng.choice(mar),
                rng.choice(reg),
                rng.randint(h0, h1),
            ]
            for j in range(1, len(row)):
                if rng.random() < 0.02:
                    row[j] = rng.choice(["", "NA"])
            w.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/customers.csv")
