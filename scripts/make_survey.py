#!/usr/bin/env python3
"""Writes examples/survey.csv and examples/survey_truth.csv: 1,000 synthetic survey respondents
for the psychographic strategy's demo and its planted-segment test.

survey.csv has `respondent_id`, 16 Likert items answered 1-5 in five groups (`Music: Rock`,
`Outdoor: Hiking`, `Fashion: Brands`, `Tech: Gaming`, `Home: Cooking`, ...), four 0-10 interest
scores (`Interest: Travel`, ...) and one lifestyle category. Four planted personas (outdoor
adventurers, tech enthusiasts, fashion followers, home and culture lovers) each rate their own
items high and some others low; every respondent also has a personal yea-saying bias (some
answer everything a little higher), answer noise, a lifestyle that matches the persona only
most of the time, and about 2% of answers left blank or "NA". survey_truth.csv
(`respondent_id,persona`) says which persona each respondent was drawn from.

Deterministic: the same files every run. Standard library only.
Usage: python3 scripts/make_survey.py [SURVEY.csv [TRUTH.csv]]
"""
import csv
import random
import sys

LIKERT = [
    "Music: Rock", "Music: Pop", "Music: Classical", "Music: Hip-hop",
    "Outdoor: Hiking", "Outdoor: Camping", "Outdoor: Cycling",
    "Fashion: Shopping", "Fashion: Brands", "Fashion: Trends",
    "Tech: Gadgets", "Tech: Gaming", "Tech: Coding",
    "Home: Cooking", "Home: Gardening", "Home: DIY",
]
INTERESTS = ["Interest: Travel", "Interest: Sports", "Interest: Arts", "Interest: Finance"]
LIFESTYLES = ["Active", "Urban", "Homebody", "Family"]

# name, weight, Likert item means (others 3.0), interest means (others 5), usual lifestyle
PERSONAS = [
    ("outdoor_adventurer", 0.30,
     {"Outdoor: Hiking": 4.6, "Outdoor: Camping": 4.4, "Outdoor: Cycling": 4.2, "Music: Rock": 3.6,
      "Fashion: Shopping": 1.8, "Fashion: Brands": 1.6, "Fashion: Trends": 1.8, "Tech: Gaming": 2.2},
     {"Interest: Sports": 8.5, "Interest: Travel": 7.5, "Interest: Finance": 4.0},
     "Active"),
    ("tech_enthusiast", 0.25,
     {"Tech: Gadgets": 4.6, "Tech: Gaming": 4.5, "Tech: Coding": 4.2, "Music: Hip-hop": 3.6,
      "Outdoor: Hiking": 1.9, "Outdoor: Camping": 2.0, "Home: Gardening": 1.7, "Music: Classical": 2.2},
     {"Interest: Finance": 7.0, "Interest: Sports": 3.0, "Interest: Arts": 3.5},
     "Homebody"),
    ("fashion_follower", 0.25,
     {"Fashion: Shopping": 4.7, "Fashion: Brands": 4.5, "Fashion: Trends": 4.6, "Music: Pop": 4.4,
      "Tech: Coding": 1.7, "Home: DIY": 1.9, "Outdoor: Camping": 1.9, "Music: Rock": 2.4},
     {"Interest: Travel": 8.0, "Interest: Arts": 6.5, "Interest: Finance": 3.0},
     "Urban"),
    ("home_and_culture", 0.20,
     {"Home: Cooking": 4.6, "Home: Gardening": 4.5, "Home: DIY": 4.2, "Music: Classical": 4.3,
      "Music: Hip-hop": 1.6, "Tech: Gaming": 1.7, "Fashion: Trends": 2.0, "Music: Pop": 2.4},
     {"Interest: Arts": 8.0, "Interest: Travel": 4.0, "Interest: Sports": 3.5},
     "Family"),
]


def clip(x: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(x)))


def main(survey_path: str, truth_path: str) -> None:
    rng = random.Random(20261124)
    weights = [p[1] for p in PERSONAS]
    with open(survey_path, "w", newline="") as f, open(truth_path, "w", newline="") as t:
        w = csv.writer(f, lineterminator="\n")
        tw = csv.writer(t, lineterminator="\n")
        w.writerow(["respondent_id", *LIKERT, *INTERESTS, "Lifestyle"])
        tw.writerow(["respondent_id", "persona"])
        for i in range(1, 1001):
            name, _, likert, interests, lifestyle = rng.choices(PERSONAS, weights)[0]
            bias = rng.gauss(0.0, 0.35)  # yea-saying: some answer everything higher
            row = [f"R{i:04d}"]
            row += [clip(rng.gauss(likert.get(q, 3.0) + bias, 0.75), 1, 5) for q in LIKERT]
            row += [clip(rng.gauss(interests.get(q, 5.0) + 2 * bias, 1.5), 0, 10) for q in INTERESTS]
            row.append(lifestyle if rng.random() < 0.7 else rng.choice(LIFESTYLES))
            for j in range(1, len(row)):
                if rng.random() < 0.02:
                    row[j] = rng.choice(["", "", "NA"])
            w.writerow(row)
            tw.writerow([row[0], name])


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "examples/survey.csv",
        sys.argv[2] if len(sys.argv) > 2 else "examples/survey_truth.csv",
    )
