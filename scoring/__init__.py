"""Scoring: features, LightGBM models for category, priority and SLA risk, explanations."""

import os

# OpenMP (LightGBM's, and scikit-learn's) reads this once, when its library loads: set it before
# any does. By default a waiting OpenMP thread spins for 300,000 rounds before it sleeps; on a
# machine whose cores are busy with other work the spinning threads take the cores from the
# ones with work to do. Training the default model (1,000 demo tickets, two threads) took 30 to
# 100 s, and over 300 s in a test suite, against 8 to 10 s passive, while other processes kept
# both cores of the 2-core machine busy (2026-12-08). A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
