"""The hyper label model (Wu et al., "Learning Hyper Label Model for Programmatic Weak Supervision", ICLR 2023).

A graph neural network pretrained on synthetic label matrices maps a whole matrix ``L`` to
labels in one forward pass, with no per-dataset training (PyPI ``hyperlm``, MIT; its 128 KB
checkpoint ships in the wheel). Semi-supervised, it fine-tunes the network for
``sqrt(#labels)`` Adam steps on the labeled rows, as the package does.

What the workbench adds around the package's network (``hyperlm.hyper_label_model.LELAGNN``):

- **a safe load**: the checkpoint holds NumPy scalars, so ``torch.load``'s ``weights_only=True``
  refuses it; :func:`load_checkpoint` allows exactly the three globals it needs
  (``torch.serialization.safe_globals``), never ``weights_only=False``. (The package's own loader
  calls ``torch.load`` without ``map_location`` and fails on a CPU-only machine anyway.)
- **fit / predict**: the network pools each layer's element embeddings over rows, over columns
  (LFs) and over the whole matrix. ``fit`` records the column and global pools of every layer on
  the fitted matrix; ``predict_proba`` reuses them, so a row's answer depends only on its own
  votes and the fitted matrix. On the fitted rows this is exactly the package's transductive
  pass (``infer(L, return_probs=True)``); new rows (dev, test) are labeled as if they were
  part of the fitted matrix.
- **speed**: the pools are computed on the distinct vote patterns weighted by their counts,
  which gives the same pools as the full matrix.
- multi-class as the package does it: one pass per class (its votes +1, other classes' -1),
  normalised; binary: one pass for class 1.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from workbench._internal.validation import ABSTAIN
from workbench.generate._labelmodel import BaseLabelModel
from workbench.generate._votes import agreement_accuracies, check_partial_labels, check_selected, compress, unselected_labels


def _checkpoint_globals() -> list:
    """Exactly what the package's checkpoint unpickles besides tensors: NumPy float64 scalars
    (numpy's ``scalar`` reconstructor, pickled as ``numpy.core.multiarray.scalar``, and dtypes)."""
    scalar_reconstructor = np.float64(0).__reduce__()[0]
    return [(scalar_reconstructor, "numpy.core.multiarray.scalar"), np.dtype, type(np.dtype(np.float64))]


def default_checkpoint() -> Path:
    """The pretrained checkpoint inside the ``hyperlm`` wheel."""
    import hyperlm

    return Path(hyperlm.__file__).resolve().parent / "checkpoint.pt"


@functools.lru_cache(maxsize=4)
def load_checkpoint(path: str | None = None) -> dict:
    """The hyper label model checkpoint (network and optimizer state) loaded with ``weights_only=True``.

    Raises
    ------
    ValueError
        Naming the checkpoint file when it is missing, refused by the safe loader, or lacks the
        network's weights.
    """
    import torch

    path = str(default_checkpoint() if path is None else Path(path))
    try:
        with torch.serialization.safe_globals(_checkpoint_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"hyper label model checkpoint {path!r} failed to load: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if not isinstance(checkpoint, dict) or "model_state_dict" not in checkpoint:
        raise ValueError(f"hyper label model checkpoint {path!r} has no 'model_state_dict'")
    return checkpoint


def _network(checkpoint: dict):
    from hyperlm.hyper_label_model import LELAGNN

    net = LELAGNN()
    net.load_state_dict(checkpoint["model_state_dict"])
    net.eval()
    return net


class _Elements:
    """The non-abstaining entries of a matrix of distinct rows, as the network sees them for one class."""

    def __init__(self, rows: np.ndarray, weights: np.ndarray, positive: int):
        import torch

        r, c = np.nonzero(rows != ABSTAIN)
        self.n_rows, self.n_cols = rows.shape
        self.row = torch.from_numpy(r.astype(np.int64))
        self.col = torch.from_numpy(c.astype(np.int64))
        self.value = torch.from_numpy(np.where(rows[r, c] == positive, 1.0, -1.0).astype(np.float32))[:, None]
        w = torch.from_numpy(np.asarray(weights, dtype=np.float32))
        self.weight = w[self.row][:, None]  # each element counts as many times as its row occurs
        self.row_count = torch.zeros(self.n_rows).index_add_(0, self.row, torch.ones(len(r))) + 1e-9


def _pool(x, index, size, weight=None):
    import torch

    if weight is not None:
        total = torch.zeros(size, x.shape[1]).index_add(0, index, x * weight)
        norm = torch.zeros(size).index_add(0, index, weight[:, 0]) + 1e-9
    else:
        total = torch.zeros(size, x.shape[1]).index_add(0, index, x)
        norm = torch.zeros(size).index_add(0, index, torch.ones(len(index))) + 1e-9
    return total / norm[:, None]


def _forward(net, el: _Elements, frozen: list | None = None):
    """The network's output for each row of ``el``; ``frozen`` holds each layer's (column pool,
    global pool) from fit, else they are computed on ``el`` (weighted) and returned."""
    import torch

    x = el.value
    pools = []
    for i, layer in enumerate(net.matrix_net):
        row_pool = _pool(x, el.row, el.n_rows)
        if frozen is None:
            col_pool = _pool(x, el.col, el.n_cols, el.weight)
            global_pool = (x * el.weight).sum(dim=0) / (el.weight.sum() + 1e-9)
            pools.append((col_pool, global_pool))
        else:
            col_pool, global_pool = frozen[i]
        stacked = torch.cat([layer.linear_self(x), layer.linear_row(row_pool)[el.row], layer.linear_col(col_pool)[el.col],
                             layer.linear_global(global_pool).expand(len(x), -1)], dim=1)
        x = layer.activation(layer.linear(stacked))
    example = _pool(x, el.row, el.n_rows)
    return net.classify(example).reshape(-1), pools


class HyperLabelModel(BaseLabelModel):
    """The pretrained hyper label model (``hyperlm``), unsupervised or fine-tuned on labeled rows.

    Parameters
    ----------
    cardinality : int or None, default None
        Number of classes; None infers it in ``fit`` from ``L`` and ``y`` (as :class:`MajorityVote`).
    use_labels : bool, default True
        With labeled rows in ``fit(L, y)``, fine-tune on them (the package's semi-supervised
        mode); False ignores ``y`` (one forward pass, nothing trained).
    checkpoint : str or Path, optional
        A checkpoint of the package's network; the one shipped in the wheel by default.
    max_rows : int, default 200,000
        Most distinct vote patterns the pools are computed (and fine-tuned) on; above it a
        uniform sample of ``max_rows`` rows (plus every labeled row) stands for ``L``.
    class_balance : array-like, optional
        Probabilities of rows no LF covers; else the predicted class shares of the covered rows.
    tie_break : {"abstain", "random", "prior"}
    random_state : int
        Seeds the fine-tuning, the row sample above ``max_rows`` and the ``"random"`` tie-break.

    Attributes
    ----------
    cardinality_, classes_, n_lfs_ : as :class:`MajorityVote`
    class_balance_ : ndarray of shape (k,)
    lf_accuracies_ : ndarray of shape (m,)
        The network has no per-LF parameter: each LF's expected accuracy under the model's
        probabilities on the fitted rows (how often the model agrees with it, weighted by confidence).
    n_labeled_ : int, labeled rows fine-tuned on (0: unsupervised)

    Examples
    --------
    >>> L = np.array([[1, 1, 0], [0, 0, -1], [1, -1, 1], [0, 1, 0]])
    >>> HyperLabelModel().fit(L).predict(L).tolist()  # doctest: +SKIP
    [1, 0, 1, 0]
    """

    def __init__(self, cardinality: int | None = None, *, use_labels: bool = True, checkpoint: Any = None, max_rows: int = 200_000,
                 class_balance: Any = None, tie_break: str = "abstain", random_state: int | None = 0):
        self.cardinality = cardinality
        self.use_labels = use_labels
        self.checkpoint = checkpoint
        self.max_rows = max_rows
        self.class_balance = class_balance
        self.tie_break = tie_break
        self.random_state = random_state

    def uses_labels(self) -> bool:
        return bool(self.use_labels)

    @staticmethod
    def _positives(cardinality: int) -> list[int]:
        """The classes a network is run for: one for binary, one per class (one-vs-rest) beyond."""
        return [1] if cardinality == 2 else list(range(cardinality))

    def fit_work(self, L: np.ndarray, y: np.ndarray | None = None) -> int:
        """Vote entries the network sees (the unlabeled rows' distinct patterns, the labeled rows)
        times its passes: one per class (one for binary), each ``2 * sqrt(#labels)`` fine-tuning
        passes (forward and backward) plus the final one. Fine-tuning 9 classes on 60 labels at
        2,000 rows x 164 LFs is about 18,000 entries x 9 x 15 passes, 2 s on one core."""
        labeled = np.zeros(len(L), bool) if y is None or not self.use_labels else y != ABSTAIN
        entries = int((compress(L[~labeled])[0] != ABSTAIN).sum() + (L[labeled] != ABSTAIN).sum())
        steps = int(math.sqrt(labeled.sum()))
        return entries * len(self._positives(self._resolve_cardinality(L, y))) * (2 * steps + 1)

    def fit(self, L: Any, y: Any = None, *, selected: Any = None) -> "HyperLabelModel":
        """Record the network's pools on ``L``; with labeled rows in ``y`` (and ``use_labels``), fine-tune first,
        on those not ``selected`` for their uncertainty (a sample of the hardest rows would teach it the wrong LFs)."""
        import torch

        L = self._validate_fit(L, y)
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, (int, np.integer)) or self.max_rows < 1:
            raise ValueError(f"max_rows must be an int >= 1, got {self.max_rows!r}")
        y = check_partial_labels(y, len(L), self.cardinality_)  # checked even when not used
        y = unselected_labels(y, check_selected(selected, y, len(L))) if self.use_labels else None
        given = self._check_class_balance()
        checkpoint = load_checkpoint(None if self.checkpoint is None else str(self.checkpoint))
        labeled = np.zeros(len(L), bool) if y is None else y != ABSTAIN
        unlabeled = L[~labeled]
        patterns, _, counts = compress(unlabeled)
        if len(patterns) > self.max_rows:
            sample = np.random.default_rng(self.random_state).choice(len(unlabeled), self.max_rows, replace=False)
            patterns, _, counts = compress(unlabeled[sample])
            counts = counts * (len(unlabeled) / self.max_rows)
        rows = np.vstack([patterns, L[labeled]])
        weights = np.concatenate([counts.astype(float), np.ones(int(labeled.sum()))])
        self._nets, self._pools, outs = [], [], []
        with torch.random.fork_rng(), _one_thread():
            torch.manual_seed(0 if self.random_state is None else self.random_state)
            for positive in self._positives(self.cardinality_):
                net = _network(checkpoint)
                el = _Elements(rows, weights, positive)
                if labeled.any():
                    target = (y[labeled] == positive).astype(np.float32)
                    self._fine_tune(net, checkpoint, el, np.arange(len(patterns), len(rows)), target)
                with torch.no_grad():
                    raw, pools = _forward(net, el)  # on the fitted rows, the pass with their own pools
                self._nets.append(net)
                self._pools.append(pools)
                outs.append(raw.numpy().astype(float))
        self.n_labeled_ = int(labeled.sum())
        # The package rescales probabilities so that the most and least confident fitted rows reach
        # 1 and 0; here each class's own extremes (see _calibrate).
        proba_raw = self._stack(outs)
        fires = (rows != ABSTAIN).any(axis=1)
        tie = 1 / self.cardinality_
        fitted = proba_raw[fires]
        self._high = np.where(fitted > tie, fitted, -np.inf).max(axis=0, initial=-np.inf)
        self._low = np.where(fitted < tie, fitted, np.inf).min(axis=0, initial=np.inf)
        proba = self._calibrate(proba_raw)
        if given is not None:
            self.class_balance_ = given
        else:
            mass = (proba[fires] * weights[fires, None]).sum(axis=0) + 1e-9
            self.class_balance_ = mass / mass.sum()
        proba[~fires] = self.class_balance_
        self.lf_accuracies_ = agreement_accuracies(rows, proba, weights)
        return self

    def _fine_tune(self, net, checkpoint, el: _Elements, labeled_rows: np.ndarray, target: np.ndarray) -> None:
        """The package's semi-supervised step: ``sqrt(#labels)`` AMSGrad steps on the labeled rows'
        cross-entropy, continuing the optimizer state saved in the checkpoint (as the package does);
        binary targets are weighted by the other class's share, as the package does."""
        import torch
        from hyperlm.loss import BCEMask, BCEMaskWeighted

        if self.cardinality_ == 2:
            positive_share = float(target.mean())
            criterion = BCEMaskWeighted([positive_share, 1 - positive_share])
        else:
            criterion = BCEMask()
        truth = torch.zeros(1, el.n_rows)
        truth[0, labeled_rows] = torch.from_numpy(target)
        mask = torch.zeros(1, el.n_rows, dtype=torch.bool)
        mask[0, labeled_rows] = True
        step = _AMSGrad(list(net.parameters()), checkpoint["optimizer_state_dict"])
        net.train()
        for _ in range(int(math.sqrt(len(labeled_rows)))):
            out, _ = _forward(net, el)
            loss = criterion(out[None, :], truth, mask)
            net.zero_grad()
            loss.backward()
            step()
        net.eval()

    def _raw_proba(self, rows: np.ndarray) -> np.ndarray:
        import torch

        outs = []
        with torch.no_grad(), _one_thread():
            for net, pools, positive in zip(self._nets, self._pools, self._positives(self.cardinality_)):
                out, _ = _forward(net, _Elements(rows, np.ones(len(rows)), positive), frozen=pools)
                outs.append(out.numpy().astype(float))
        return self._stack(outs)

    def _stack(self, outs: list) -> np.ndarray:
        """The passes' outputs as probabilities: ``[1 - p, p]`` for two classes, else normalised."""
        if self.cardinality_ == 2:
            return np.column_stack([1 - outs[0], outs[0]])
        p = np.column_stack(outs)
        return p / p.sum(axis=1, keepdims=True)

    def _calibrate(self, proba: np.ndarray) -> np.ndarray:
        """``hyperlm.hyper_label_model.calibrate_probs`` with the extremes measured at fit, per class.

        The package stretches the values above the tie ``1/k`` so that the largest fitted value
        reaches 1, and those below so that the smallest reaches 0, with one scale for all classes.
        Two fixes:

        - it scales by ``1/k`` where ``1 - 1/k`` is meant (right for two classes only): with six
          classes the top probabilities ended at most at ``2/k``, below 0.45, and a confidence
          threshold of 0.6 removed every row;
        - one scale for all classes lets the class the network is most sure of set it for the
          others. Fine-tuned on the bundled seed labels, the network's binary output spans 0.29
          (ham) to 0.56 (spam) on a resampled pool, so no spam row got past 0.63 and a 0.7
          confidence threshold exported ham only. Each class's column is stretched by its own
          extremes, so every class the model predicts reaches full confidence on its surest
          fitted rows (binary: ``[1 - p, p]`` stays consistent and the predicted class does not
          change; with more classes it can, as the classes' scales are equalised).
        """
        tie = 1 / self.cardinality_
        span_up = np.where(np.isfinite(self._high), self._high - tie, 1 - tie)  # no value above: nothing to scale
        span_down = np.where(np.isfinite(self._low), tie - self._low, tie)
        offset = proba - tie
        p = np.where(offset > 0, offset * (1 - tie) / span_up, offset * tie / span_down) + tie
        p = np.clip(p, 0, 1)
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, tie), where=total > 0)

    def predict_proba(self, L: Any) -> np.ndarray:
        """The network's probabilities with the fitted pools; rows no LF covers get ``class_balance_``."""
        L = self._validate_predict(L)
        patterns, inverse, _ = compress(L)
        proba = self._calibrate(self._raw_proba(patterns))
        proba[~(patterns != ABSTAIN).any(axis=1)] = self.class_balance_
        return proba[inverse]


class _AMSGrad:
    """``torch.optim.Adam(amsgrad=True)``'s update, restored from the checkpoint's optimizer state.

    Written out because constructing any ``torch.optim`` optimizer imports ``torch._dynamo``,
    which takes seconds (over ten on this machine) for a fine-tune that takes a tenth of one.
    """

    def __init__(self, params: list, state: dict):
        import torch

        group = state["param_groups"][0]
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = group["lr"], group["betas"], group["eps"]
        saved = [state["state"][i] for i in group["params"]]
        if len(saved) != len(params):
            raise ValueError(f"hyper label model checkpoint: optimizer state has {len(saved)} tensors, network {len(params)}")
        self.step_count = [float(s["step"]) for s in saved]
        self.avg = [s["exp_avg"].clone() for s in saved]
        self.avg_sq = [s["exp_avg_sq"].clone() for s in saved]
        self.max_avg_sq = [s["max_exp_avg_sq"].clone() for s in saved]
        self._torch = torch

    def __call__(self) -> None:
        with self._torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                self.step_count[i] += 1
                t = self.step_count[i]
                self.avg[i].mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
                self.avg_sq[i].mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
                self._torch.maximum(self.max_avg_sq[i], self.avg_sq[i], out=self.max_avg_sq[i])
                denom = (self.max_avg_sq[i].sqrt() / math.sqrt(1 - self.beta2 ** t)).add_(self.eps)
                p.addcdiv_(self.avg[i], denom, value=-self.lr / (1 - self.beta1 ** t))


class _one_thread:
    """torch on one thread while the model runs: its tensors are small, and on a busy machine a
    second spinning thread slows it down (as with Snorkel's model)."""

    def __enter__(self):
        import torch

        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._threads)
