"""A deterministic generator of synthetic but realistic support tickets (the demo set).

Every ticket has text (with the noise real helpdesks produce: e-mail headers, signatures and
disclaimers, mojibake, German text, vague tickets), metadata, the state of the queue it joined and
three labels: ``category`` (also the default queue names), ``priority`` (P1 most urgent .. P4) and
``sla_breached`` (1 when the first response came too late). Labels depend on the text, the metadata
and the queue state with noise, so that no single signal solves a task.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES = ("billing", "technical", "account", "shipping", "sales")
"""The demo categories, which are also the default queue names."""

PRIORITIES = ("P1", "P2", "P3", "P4")
"""Priority classes, most urgent first."""

CHANNELS = ("email", "chat", "phone", "web")
TIERS = ("free", "standard", "premium", "enterprise")
PRODUCTS = ("router-x1", "cloudsync", "paydesk", "homecam", "fleet-tracker")

DEMO_START = datetime(2024, 3, 4)
"""Monday of the first demo week; tickets spread over `DEMO_WEEKS` weeks."""
DEMO_WEEKS = 6

_TOPICS: dict[str, dict[str, list[str]]] = {
    "billing": {
        "en": [
            "I was charged twice for my {product} subscription this month",
            "the invoice {ref} shows the wrong amount, please send a corrected invoice",
            "please refund the payment for order {ref}, the card was debited in error",
            "my credit card payment failed although the card is valid",
            "why did the price of my plan go up without notice",
            "I need a VAT receipt for the last three invoices",
            "cancel the automatic renewal and refund the remaining months",
        ],
        "de": [
            "Die Rechnung {ref} ist falsch, bitte korrigieren Sie den Betrag",
            "Ich wurde zweimal belastet, bitte erstatten Sie die Zahlung",
            "Die Abbuchung für {product} ist doppelt erfolgt, bitte Gutschrift",
        ],
    },
    "technical": {
        "en": [
            "{product} keeps crashing when I open the settings page",
            "the device does not connect to wifi after the firmware update",
            "error code E{code} appears on startup and nothing works",
            "sync is very slow and sometimes times out with an error",
            "the app freezes after login, reinstalling did not help",
            "the service is down for all our users since this morning",
            "video stream drops every few minutes, log attached",
        ],
        "de": [
            "{product} stürzt beim Start ab, Fehlercode E{code}",
            "Nach dem Update funktioniert die Verbindung nicht mehr",
            "Das Gerät startet ständig neu, bitte um Hilfe",
        ],
    },
    "account": {
        "en": [
            "I cannot log in, the password reset link has expired",
            "please unlock my account, it was locked after too many attempts",
            "how do I change the e-mail address on my account",
            "two-factor authentication codes are not accepted",
            "please add a new user to our company account",
            "delete my account and all personal data",
            "my username was changed and I lost access",
        ],
        "de": [
            "Ich kann mich nicht anmelden, das Passwort wird nicht akzeptiert",
            "Bitte entsperren Sie mein Konto",
            "Wie ändere ich die E-Mail-Adresse meines Kontos",
        ],
    },
    "shipping": {
        "en": [
            "my order {ref} has not arrived yet, tracking shows no update",
            "the parcel was delivered damaged, the {product} box was crushed",
            "I received the wrong item in order {ref}",
            "can you change the delivery address for order {ref}",
            "the courier says the package was returned to sender",
            "when will the backordered {product} ship",
            "I want to return the {product}, please send a return label",
        ],
        "de": [
            "Meine Bestellung {ref} ist noch nicht angekommen",
            "Das Paket wurde beschädigt geliefert",
            "Bitte senden Sie mir ein Rücksendeetikett",
        ],
    },
    "sales": {
        "en": [
            "we are interested in an enterprise plan for 200 seats",
            "can I get a quote for 50 units of {product}",
            "do you offer a discount for non-profit organisations",
            "what is the difference between the standard and premium plan",
            "we would like a demo of {product} for our team",
            "is there a volume licence for schools",
            "please send pricing for an annual contract",
        ],
        "de": [
            "Wir möchten ein Angebot für 30 Lizenzen von {product}",
            "Gibt es einen Rabatt für Schulen",
            "Bitte schicken Sie uns eine Preisliste",
        ],
    },
}

_VAGUE = [
    "I have a problem, please call me back",
    "it does not work, please help",
    "see attached, thanks",
    "urgent question about my {product}",
    "follow-up on my previous ticket",
]
_URGENT = [
    "URGENT", "asap", "production is down", "all users affected", "critical", "immediately",
    "dringend", "losing money every hour",
]
_CALM = ["no rush", "when you have time", "just a question", "for information", "low priority"]
_SUBJECT_PREFIX = ["", "", "", "Re: ", "Fwd: ", "AW: "]
_NAMES = ["Anna Schmidt", "John Miller", "Priya Patel", "Lukas Weber", "Maria Garcia", "Tom Chen"]
_DISCLAIMER = (
    "This e-mail and any attachments are confidential and may be privileged. If you are not the "
    "intended recipient, please notify the sender and delete this e-mail."
)

# Channel mix per category: phone and chat skew to urgent technical/account issues.
_CHANNEL_P = {
    "billing": (0.5, 0.15, 0.15, 0.2),
    "technical": (0.3, 0.3, 0.25, 0.15),
    "account": (0.3, 0.35, 0.15, 0.2),
    "shipping": (0.45, 0.2, 0.1, 0.25),
    "sales": (0.45, 0.15, 0.15, 0.25),
}
_CATEGORY_P = (0.22, 0.3, 0.2, 0.18, 0.1)
_TIER_P = (0.35, 0.35, 0.2, 0.1)
# First-response targets (minutes) per priority: the SLA policy the labels were made with.
_TARGET_MIN = {"P1": 30.0, "P2": 120.0, "P3": 480.0, "P4": 1440.0}


def _mojibake(text: str) -> str:
    """UTF-8 bytes decoded as cp1252, as broken source systems do."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def generate_demo_tickets(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Generate the demo set.

    Args:
        n: number of tickets.
        seed: random seed; the same seed gives the same frame.

    Returns:
        One row per ticket with columns ticket_id, subject, body, channel, customer_id,
        customer_tier, product, language, created_at, queue_depth, agents_available,
        oldest_wait_s, category, priority, sla_breached.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        category = CATEGORIES[rng.choice(len(CATEGORIES), p=_CATEGORY_P)]
        tier = TIERS[rng.choice(len(TIERS), p=_TIER_P)]
        product = PRODUCTS[rng.integers(len(PRODUCTS))]
        german = rng.random() < 0.15
        language = "de" if german else "en"
        channel = CHANNELS[rng.choice(len(CHANNELS), p=_CHANNEL_P[category])]
        created_at = _arrival_time(rng)

        # Text: usually the category's own phrases; sometimes vague or borrowed (label noise).
        topic = category
        roll = rng.random()
        if roll < 0.08:
            topic = CATEGORIES[rng.integers(len(CATEGORIES))]
        fill = {"product": product, "ref": f"#{rng.integers(10000, 99999)}",
                "code": int(rng.integers(100, 999))}
        pool = _TOPICS[topic]["de" if german else "en"]
        sentence = pool[rng.integers(len(pool))].format(**fill)
        vague = rng.random() < 0.1
        if vague:
            sentence = _VAGUE[rng.integers(len(_VAGUE))].format(**fill)
        extra_pool = _TOPICS[topic]["en"]
        extra = ""
        if rng.random() < 0.4:
            extra = extra_pool[rng.integers(len(extra_pool))].format(**fill)

        # Urgency in words, tier and channel drive priority; noise keeps it imperfect.
        urgent_words = rng.random() < (0.35 if category == "technical" else 0.15)
        calm_words = not urgent_words and rng.random() < 0.25
        urgency = (
            1.6 * urgent_words
            - 1.0 * calm_words
            + {"free": -0.6, "standard": 0.0, "premium": 0.5, "enterprise": 1.0}[tier]
            + {"phone": 0.5, "chat": 0.2, "email": 0.0, "web": -0.2}[channel]
            + {"technical": 0.4, "account": 0.2, "billing": 0.0, "shipping": -0.1,
               "sales": -0.5}[category]
            + rng.normal(0.0, 0.7)
        )
        priority = PRIORITIES[3 - int(np.searchsorted([-0.4, 0.9, 2.0], urgency))]

        subject = _SUBJECT_PREFIX[rng.integers(len(_SUBJECT_PREFIX))] + sentence.split(",")[0][:70]
        if urgent_words:
            subject = f"{_URGENT[rng.integers(len(_URGENT))]}: {subject}"
        body = _compose_body(
            rng, subject, sentence, extra, channel=channel, created_at=created_at,
            german=german, urgent_words=urgent_words, calm_words=calm_words,
        )

        queue_depth, agents, oldest = _queue_state(rng, category, created_at)
        breached = _sla_breached(
            rng, priority, tier, created_at, depth=queue_depth, agents=agents, oldest=oldest
        )
        rows.append({
            "ticket_id": f"T{i:06d}",
            "subject": subject,
            "body": body,
            "channel": channel,
            "customer_id": f"C{rng.integers(0, max(50, n // 4)):05d}",
            "customer_tier": tier,
            "product": product,
            "language": language,
            "created_at": created_at,
            "queue_depth": queue_depth,
            "agents_available": agents,
            "oldest_wait_s": oldest,
            "category": category,
            "priority": priority,
            "sla_breached": int(breached),
        })
    return pd.DataFrame(rows)


def _compose_body(
    rng: np.random.Generator,
    subject: str,
    sentence: str,
    extra: str,
    *,
    channel: str,
    created_at: datetime,
    german: bool,
    urgent_words: bool,
    calm_words: bool,
) -> str:
    """The ticket body with the noise of real mail: headers, signatures, mojibake, logs."""
    body_parts = []
    if channel == "email" and rng.random() < 0.5:
        sender = _NAMES[rng.integers(len(_NAMES))]
        body_parts.append(
            f"From: {sender} <{sender.split()[0].lower()}@example.com>\n"
            f"Sent: {created_at:%A, %B %d, %Y %H:%M}\nTo: support@example.com\n"
            f"Subject: {subject}\n"
        )
    elif rng.random() < 0.1:
        body_parts.append(f"received from: user{rng.integers(1000)}@example.com\n")
    body_parts.append(("Hallo,\n" if german else "Hello,\n") + sentence + ".")
    if extra:
        body_parts.append(extra + ".")
    if urgent_words:
        body_parts.append(_URGENT[rng.integers(len(_URGENT))] + "!")
    elif calm_words:
        body_parts.append(_CALM[rng.integers(len(_CALM))] + ".")
    if rng.random() < 0.5:
        closing = "Mit freundlichen Grüßen" if german else "Best regards"
        body_parts.append(f"{closing},\n{_NAMES[rng.integers(len(_NAMES))]}")
        if rng.random() < 0.3:
            body_parts.append("--\n" + _DISCLAIMER)
    body = "\n".join(body_parts)
    if german and rng.random() < 0.3:
        body = _mojibake(body)
    if rng.random() < 0.01:
        body = body + "\n" + "stack trace line at module.function(file.py:42)\n" * 400
    return body


def _arrival_time(rng: np.random.Generator) -> datetime:
    """Weekdays and office hours are busier; some tickets arrive at night and at weekends."""
    day = int(rng.integers(DEMO_WEEKS * 7))
    if (day % 7) >= 5 and rng.random() < 0.6:
        day -= 2
    hour = float(np.clip(rng.normal(13.0, 4.0), 0.0, 23.99)) if rng.random() < 0.85 else float(
        rng.uniform(0.0, 24.0)
    )
    return DEMO_START + timedelta(days=day, hours=hour)


def _queue_state(
    rng: np.random.Generator, category: str, created_at: datetime
) -> tuple[int, int, float]:
    """Queue depth, available agents and oldest wait at arrival: busy at midday, thin at night."""
    hour = created_at.hour + created_at.minute / 60
    weekend = created_at.weekday() >= 5
    load = 1.0 + math.sin(math.pi * max(0.0, min(1.0, (hour - 7) / 12)))
    staff = 0 if (hour < 7 or hour >= 20) else 3
    staff += 0 if weekend else 4
    agents = int(max(0, rng.poisson(staff + (2 if category == "technical" else 0))))
    busy = 2 if category == "technical" else 1
    depth = int(rng.poisson(4 * load * busy + (6 if weekend else 0)))
    oldest = float(rng.gamma(2.0, 300.0 * (1 + depth) / (1 + agents))) if depth else 0.0
    return depth, agents, round(oldest, 1)


def _sla_breached(
    rng: np.random.Generator,
    priority: str,
    tier: str,
    created_at: datetime,
    *,
    depth: int,
    agents: int,
    oldest: float,
) -> bool:
    """Simulate the first-response wait and compare it with the priority's target."""
    expected_wait = 60.0 * (1 + depth) / (0.5 + agents) + oldest / 60.0
    if created_at.hour < 7 or created_at.hour >= 20:
        expected_wait += 240.0
    if tier in ("premium", "enterprise"):
        expected_wait *= 0.6
    expected_wait *= {"P1": 0.25, "P2": 0.6, "P3": 1.2, "P4": 2.0}[priority]
    wait = expected_wait * rng.lognormal(0.0, 0.8)
    return bool(wait > _TARGET_MIN[priority])


def write_demo_csv(path: Path, n: int = 3000, seed: int = 7) -> Path:
    """Write the demo set as CSV (``.csv`` or ``.csv.gz``) and return the path."""
    frame = generate_demo_tickets(n=n, seed=seed)
    frame.to_csv(path, index=False)
    return path
