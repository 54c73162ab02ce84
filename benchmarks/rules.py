"""Routing decisions per second: `RuleSet.decide` against a hand-written Python if-chain, same run.

The rule set is `examples/rules.yaml` (9 rules: regexes, any/all/not, attributes, scores) plus
11 product rules in front of it, 20 rules in all. The baseline is the same 20 rules written as
plain Python: `if` statements over the ticket dict with the standard `re` module, returning the
queue; it builds no trace, tags or skills, so it only flatters the baseline. Both see the same
tickets (a seeded mix: most match no rule and reach the category map, so every rule is checked),
and the benchmark first checks that both pick the same queue for every ticket.

    python benchmarks/rules.py [--json] [--tickets 2000] [--repeat 5]

Reports the median over --repeat passes of mean microseconds per decision, the p99 of single
decisions, and the ratio rule set / baseline. Goal: tens of microseconds per decision.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from router.rules import RuleSet

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rules.yaml"
PRODUCTS = [f"product-{n}" for n in range(11)]
PRODUCT_QUEUES = ["technical", "account", "shipping", "sales", "billing"]
GOAL_MICROSECONDS = 50.0

Decide = Callable[[Mapping[str, Any], Mapping[str, Any]], str]


def product_rules() -> str:
    """11 rules routing one product each, when the model also says `technical`."""
    lines = []
    for index, product in enumerate(PRODUCTS):
        queue = PRODUCT_QUEUES[index % len(PRODUCT_QUEUES)]
        lines += [
            f"  - id: {product}",
            f"    when: {{product: {product}, category: technical, channel: [email, web]}}",
            f"    route_to: {queue}",
        ]
    return "\n".join(lines) + "\n"


def rule_set_text() -> str:
    text = EXAMPLE.read_text()
    head, rules = text.split("\nrules:\n", 1)
    return f"{head}\nrules:\n{product_rules()}{rules}"


WORDS = re.compile(r"\b(refund|chargeback|money back)\b", re.IGNORECASE)
SECURITY_SUBJECT = re.compile(r"\b(hacked|compromised|unauthori[sz]ed|phishing)\b", re.IGNORECASE)
SECURITY_BODY = re.compile(r"\b(hacked|compromised|unauthori[sz]ed login)\b", re.IGNORECASE)
TRACKING = re.compile(r"\b(tracking (number|code)|parcel|delivery)\b", re.IGNORECASE)
SALES = re.compile(r"\b(pricing|quote|upgrade|demo)\b", re.IGNORECASE)
LOGIN = re.compile(r"\b(password|log ?in|2fa|locked out)\b", re.IGNORECASE)
PRIORITY = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
CATEGORY_QUEUES = {q: q for q in ("billing", "technical", "account", "shipping", "sales")}


def baseline(ticket: Mapping[str, Any], scores: Mapping[str, Any]) -> str:
    """The same 20 rules as plain Python (queue only)."""
    subject = ticket.get("subject") or ""
    body = ticket.get("body") or ""
    channel = ticket.get("channel")
    category = scores.get("category")
    attributes = ticket.get("attributes") or {}
    product = ticket.get("product")
    if product in PRODUCTS and category == "technical" and channel in ("email", "web"):
        return PRODUCT_QUEUES[PRODUCTS.index(product) % len(PRODUCT_QUEUES)]
    # tag-refund, german-speakers and vip-faster only tag; evaluate them as the rule set does.
    _ = WORDS.search(subject) or WORDS.search(body)
    _ = ticket.get("language") == "de"
    _ = ticket.get("customer_tier") in ("premium", "enterprise")
    if (SECURITY_SUBJECT.search(subject) or SECURITY_BODY.search(body)) and attributes.get(
        "test_ticket"
    ) != "true":
        return "escalations"
    risk = scores.get("sla_risk")
    priority = PRIORITY.get(scores.get("priority"))  # type: ignore[arg-type]
    if risk is not None and risk >= 0.8 and priority is not None and priority <= 2:
        return "escalations"
    confidence = scores.get("category_confidence")
    if (
        ticket.get("customer_tier") == "enterprise"
        and category == "billing"
        and confidence is not None
        and confidence >= 0.6
    ):
        return "billing"
    if ("where is my order" in subject.lower() or TRACKING.search(body)) and channel in (
        "email",
        "web",
        "chat",
    ):
        return "shipping"
    if not ticket.get("customer_id") and (
        SALES.search(subject) or attributes.get("source") == "pricing-page"
    ):
        return "sales"
    if LOGIN.search(subject) and category != "billing":
        return "account"
    if confidence is not None and confidence < 0.4:
        return "triage"
    return CATEGORY_QUEUES.get(category, "triage")  # type: ignore[arg-type]


SUBJECTS = [
    "Invoice question",
    "App crashes on start",
    "Where is my order?",
    "Cannot log in",
    "Pricing for 50 seats",
    "My account was hacked",
    "Refund please",
    "Feature request",
    "Printer not working",
    "Change of address",
]
BODY = (
    "Hello, since the last update the application shows an error when I open the settings "
    "page. I tried reinstalling it twice. Could you please have a look? Kind regards, Sam. "
)


def tickets(count: int, seed: int = 7) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        ticket = {
            "subject": rng.choice(SUBJECTS),
            "body": BODY * rng.randint(1, 4),
            "channel": rng.choice(["email", "web", "chat", "phone"]),
            "customer_id": rng.choice(["", "c-1", "c-2", "c-3"]),
            "customer_tier": rng.choice(["basic", "basic", "premium", "enterprise"]),
            "product": rng.choice([*PRODUCTS, "other", "other", "other"]),
            "language": rng.choice(["en", "en", "de", "fr"]),
            "attributes": rng.choice([{}, {"source": "pricing-page"}, {"plan": "gold"}]),
        }
        scores = {
            "category": rng.choice(list(CATEGORY_QUEUES)),
            "category_confidence": rng.random(),
            "priority": rng.choice(list(PRIORITY)),
            "sla_risk": rng.random(),
        }
        out.append((ticket, scores))
    return out


def measure(
    decide: Decide, workload: Sequence[tuple[dict[str, Any], dict[str, Any]]]
) -> tuple[float, float]:
    """Mean and p99 microseconds per decision over one pass."""
    samples = []
    clock = time.perf_counter_ns
    for ticket, scores in workload:
        started = clock()
        decide(ticket, scores)
        samples.append(clock() - started)
    samples.sort()
    return statistics.fmean(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rule_set = RuleSet.parse(rule_set_text(), "yaml")
    workload = tickets(args.tickets)
    mismatches = [
        (ticket, scores)
        for ticket, scores in workload
        if rule_set.decide(ticket, scores).queue != baseline(ticket, scores)
    ]
    if mismatches:
        raise SystemExit(f"baseline and rule set disagree on {len(mismatches)} tickets")
    decided_by_rule = sum(rule_set.decide(t, s).rule_id is not None for t, s in workload)

    def rules_decide(ticket: Mapping[str, Any], scores: Mapping[str, Any]) -> str:
        return rule_set.decide(ticket, scores).queue

    results: dict[str, list[tuple[float, float]]] = {"rule_set": [], "baseline": []}
    for _ in range(args.repeat):  # interleaved, so load changes hit both alike
        results["rule_set"].append(measure(rules_decide, workload))
        results["baseline"].append(measure(baseline, workload))
    summary = {
        name: {
            "mean_us": statistics.median(mean for mean, _ in runs),
            "p99_us": statistics.median(p99 for _, p99 in runs),
        }
        for name, runs in results.items()
    }
    report = {
        "rules": len(rule_set.rules),
        "tickets": len(workload),
        "decided_by_rule": decided_by_rule,
        **summary,
        "ratio_mean": summary["rule_set"]["mean_us"] / summary["baseline"]["mean_us"],
        "goal_mean_us": GOAL_MICROSECONDS,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{report['rules']} rules, {report['tickets']} tickets, "
        f"{decided_by_rule} decided by a rule (the others checked every rule)"
    )
    print(f"{'':10} {'mean us':>9} {'p99 us':>9}")
    for name in ("rule_set", "baseline"):
        print(f"{name:10} {summary[name]['mean_us']:9.1f} {summary[name]['p99_us']:9.1f}")
    verdict = "met" if summary["rule_set"]["mean_us"] <= GOAL_MICROSECONDS else "MISSED"
    print(
        f"rule set / baseline: {report['ratio_mean']:.2f}x; "
        f"goal mean <= {GOAL_MICROSECONDS:.0f} us: {verdict}"
    )


if __name__ == "__main__":
    main()
