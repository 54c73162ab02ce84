"""The scorer's LightGBM layer, and the only module that imports lightgbm.

It trains, saves and loads boosters, predicts one row through LightGBM's own fast single-row C
path (`LGBM_BoosterPredictForMatSingleRowFast`: the same trees and code as `Booster.predict`,
without its per-call set-up, which costs milliseconds), predicts batches, computes `pred_contrib`
explanations, and translates LightGBM errors into domain errors where they enter our code.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, LightGBMError, _safe_call

from router.cpu_affinity import allowed_cpus
from router.errors import FailedPrecondition, InvalidArgument

_PREDICT_RAW_SCORE = 1  # C_API_PREDICT_RAW_SCORE
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64

LIGHTGBM_VERSION = lgb.__version__

PARALLEL_ROWS = 2000
"""Batches smaller than this are predicted on one thread. On a quiet 2-core machine a second
OpenMP thread saves at most 0.2 ms on them (category model, 2,000 rows: 0.45 -> 0.25 ms), but
when the other core is busy its spin-waits cost milliseconds a call (one row: 18.5 ms)."""


def lightgbm_threads() -> int:
    """OpenMP threads for LightGBM's parallel work: as many as the CPUs this process may use now.

    OpenMP sizes its spin-waiting by the CPUs it saw when it loaded; a router pinned to one
    CPU after that (`cpu_affinity`) and still asking for two threads had them spin against
    each other on one core: training the default model took over 300 s instead of 11 s.
    """
    return len(allowed_cpus())


@contextmanager
def lightgbm_errors(doing: str) -> Iterator[None]:
    """Translate LightGBM errors raised while `doing` something into domain errors."""
    try:
        yield
    except LightGBMError as error:
        raise InvalidArgument(f"LightGBM failed while {doing}: {error}") from error


def train_booster(
    matrix: np.ndarray,
    y: np.ndarray,
    *,
    num_class: int,
    categorical: Sequence[int],
    feature_names: Sequence[str],
    weight: np.ndarray | None = None,
    init_score: np.ndarray | None = None,
    valid: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    params: dict[str, Any] | None = None,
    num_rounds: int = 600,
    early_stopping: int = 40,
    seed: int = 0,
) -> lgb.Booster:
    """Train a multiclass (num_class > 2) or binary booster, early-stopped on `valid` if given.

    `init_score` (and the third item of `valid`) is the raw score the trees start from: the
    boosted trees then learn corrections to it.

    Raises:
        InvalidArgument: LightGBM rejected the data or parameters.
    """
    # Small, strongly regularised trees: they correct the linear prior where metadata and queue
    # state say more than the text, and early stopping ends them when they stop helping.
    base: dict[str, Any] = {
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_data_in_leaf": 40,
        "min_sum_hessian_in_leaf": 1e-2,
        "feature_fraction": 0.6,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "max_bin": 63,
        "cat_smooth": 10.0,
        "max_cat_to_onehot": 8,
        "num_threads": lightgbm_threads(),
        "seed": seed,
        "deterministic": True,
        "verbose": -1,
    }
    if num_class > 2:
        base.update(objective="multiclass", num_class=num_class)
    else:
        base.update(objective="binary")
    base.update(params or {})
    names = [_safe_name(i, n) for i, n in enumerate(feature_names)]
    with lightgbm_errors("training"):
        train_set = lgb.Dataset(
            matrix, y, weight=weight, init_score=init_score,
            categorical_feature=list(categorical), feature_name=names, free_raw_data=True,
        )
        callbacks = []
        valid_sets = []
        if valid is not None:
            valid_sets = [
                lgb.Dataset(valid[0], valid[1], init_score=valid[2], reference=train_set)
            ]
            callbacks.append(lgb.early_stopping(early_stopping, verbose=False))
        booster = lgb.train(
            base, train_set, num_boost_round=num_rounds, valid_sets=valid_sets,
            callbacks=callbacks,
        )
    if valid is not None and booster.best_iteration > 0:
        # keep only the trees up to the best iteration, so every path predicts with the same trees
        with lightgbm_errors("trimming the model"):
            booster = lgb.Booster(model_str=booster.model_to_string(booster.best_iteration))
    return booster


def _safe_name(index: int, name: str) -> str:
    # LightGBM refuses JSON special characters in feature names; readable names live elsewhere
    return f"f{index}"


class BoosterModel:
    """A trained booster with a fast single-row path, batch prediction and contributions."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self.n_features = booster.num_feature()
        self.n_outputs = booster.num_model_per_iteration()
        self._local = threading.local()
        # the FastConfig keeps a handle to the booster: keep both alive together
        self._fast_configs: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()

    @classmethod
    def from_string(cls, model_str: str) -> BoosterModel:
        """Load from LightGBM's text format.

        Raises:
            FailedPrecondition: the text is not a LightGBM model.
        """
        try:
            return cls(lgb.Booster(model_str=model_str))
        except LightGBMError as error:
            raise FailedPrecondition(f"not a LightGBM model: {error}") from error

    @classmethod
    def load(cls, path: Path) -> BoosterModel:
        """Load from a file written by `save`.

        Raises:
            FailedPrecondition: the file is missing or not a model.
        """
        if not path.is_file():
            raise FailedPrecondition(f"model file {path} is missing: retrain or point at a model")
        return cls.from_string(path.read_text())

    def save(self, path: Path) -> None:
        """Write LightGBM's text format to `path`."""
        path.write_text(self.booster.model_to_string())

    def _fast(self) -> tuple[ctypes.c_void_p, np.ndarray, np.ndarray, Any, Any, Any]:
        """This thread's FastConfig and buffers (a FastConfig is not shared between threads)."""
        state = getattr(self._local, "state", None)
        if state is None:
            handle = ctypes.c_void_p()
            with lightgbm_errors("preparing single-row prediction"):
                _safe_call(
                    _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                        self.booster._handle,
                        ctypes.c_int(_PREDICT_RAW_SCORE),
                        ctypes.c_int(0),
                        ctypes.c_int(-1),
                        ctypes.c_int(_DTYPE_FLOAT64),
                        ctypes.c_int32(self.n_features),
                        b"num_threads=1",
                        ctypes.byref(handle),
                    )
                )
            with self._lock:
                self._fast_configs.append(handle)
            row = np.zeros(self.n_features, dtype=np.float64)
            out = np.zeros(self.n_outputs, dtype=np.float64)
            out_len = ctypes.c_int64()
            state = (
                handle, row, out, row.ctypes.data_as(ctypes.c_void_p),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), ctypes.byref(out_len),
            )
            self._local.state = state
        return state

    def raw_one(self, row: np.ndarray) -> np.ndarray:
        """Raw scores (one per class, or one for binary) of one feature row."""
        handle, buffer, out, row_ptr, out_ptr, out_len = self._fast()
        buffer[:] = row
        status = _LIB.LGBM_BoosterPredictForMatSingleRowFast(handle, row_ptr, out_len, out_ptr)
        if status != 0:
            raise InvalidArgument(
                f"LightGBM failed to score a row: {_LIB.LGBM_GetLastError().decode()}"
            )
        return out.copy()

    def raw(self, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Raw scores of many rows, shape (n_rows, n_outputs).

        Args:
            threads: OpenMP threads; default 1 under `PARALLEL_ROWS` rows, else
                `lightgbm_threads()`.
        """
        if threads is None:
            threads = 1 if len(matrix) < PARALLEL_ROWS else lightgbm_threads()
        with lightgbm_errors("predicting"):
            scores = self.booster.predict(matrix, raw_score=True, num_threads=threads)
        return np.asarray(scores, dtype=np.float64).reshape(len(matrix), self.n_outputs)

    def raw_plain_one(self, row: np.ndarray) -> np.ndarray:
        """Raw scores of one row through plain `Booster.predict` on the two threads of the
        training parameters (the benchmark's baseline, as it always was)."""
        return self.raw(row.reshape(1, -1), threads=2)[0]

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """`pred_contrib` of one row: shape (n_outputs, n_features + 1), last column the bias."""
        with lightgbm_errors("explaining"):
            contrib = self.booster.predict(row.reshape(1, -1), pred_contrib=True)
        return np.asarray(contrib, dtype=np.float64).reshape(self.n_outputs, self.n_features + 1)

    def __del__(self) -> None:
        for handle in getattr(self, "_fast_configs", []):
            _LIB.LGBM_FastConfigFree(handle)
