"""The networks, batched: what the ConvNet, the detector, the segment verifier and the pair
reader say of every candidate of a batch of pictures.

The ConvNet and the detector read every candidate; the verifier reads the candidates of
pictures that were searched for digits, and the pair reader those whose pair could win
(``scoring.pair_hopeful``). The verifier and the pair reader are loaded on the first picture
that needs them: a picture of one digit never does.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn.networks.blocks import MEMORY_FORMAT, for_inference
from mnist_cnn.networks.pairs import NOT_DIGITS
from mnist_cnn.networks.verifier import CLASSES
from mnist_cnn.reading.inputs import SIDE, normalize_batch
from mnist_cnn.reading.pipeline import Prepared
from mnist_cnn.reading.scoring import digit_evidence, halves_pass, pair_hopeful


@dataclass(frozen=True)
class Evidence:
    """What the networks say of one reading's candidates: the ConvNet's log-probabilities
    ``(N, 10)``, the detector's digit scores ``(N,)`` (``None`` with rejection off), how well
    each reads as one digit (``scoring.digit_evidence``), and, for a searched picture, the
    verifier's log-probabilities ``(N, 6)`` and the pair reader's ``(N, 103)`` (-inf where it
    did not read), else ``None``."""

    log_probabilities: torch.Tensor
    digit_scores: torch.Tensor | None
    digit: torch.Tensor
    verdicts: torch.Tensor | None = None
    pairs: torch.Tensor | None = None
    whole: float | None = None
    """The detector's digit score for all the writing of a searched picture as one mark."""


def _batch(arrays: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stacked inputs with a channel axis, on ``device``, in the networks' layout."""
    stacked = torch.from_numpy(np.concatenate(arrays))
    if stacked.ndim == 3:
        stacked = stacked.unsqueeze(1)
    return stacked.to(device, memory_format=MEMORY_FORMAT)


class Networks:
    """The networks as reading runs them (``blocks.for_inference``). ``detector``: ``None``
    reads every mark as a digit; ``search``: gives the segment verifier and the pair reader
    when first needed (``None``: lines are read by the ConvNet's confidence alone)."""

    def __init__(self, model: nn.Module, device: torch.device,
                 detector: nn.Module | None = None,
                 search: Callable[[], tuple[nn.Module, nn.Module]] | None = None) -> None:
        self.device = device
        self.model = for_inference(model).to(device)
        self.detector = None if detector is None else for_inference(detector).to(device)
        self._search = search
        self._searchers: tuple[nn.Module, nn.Module] | None = None
        self._reading_copies: tuple[nn.Module, nn.Module] | None = None

    def searchers(self) -> tuple[nn.Module, nn.Module] | None:
        """The verifier and the pair reader as loaded (not their reading copies), loading
        them now if they were not yet; ``None`` without them."""
        if self._searchers is None and self._search is not None:
            verifier, pair_reader = self._search()
            self._searchers = (verifier, pair_reader)
            self._reading_copies = (for_inference(verifier).to(self.device),
                                    for_inference(pair_reader).to(self.device))
        return self._searchers

    @torch.no_grad()
    def judge(self, readings: list[Prepared], thresholds: list[float] | None) -> list[Evidence]:
        """The evidence on every candidate of ``readings`` (pictures with inputs), in one batch
        per network; ``thresholds``: each reading's not-a-digit threshold, which both halves of
        a pair must pass."""
        if not readings:
            return []
        inputs = _batch([r.inputs.digits for r in readings], self.device)
        log_probabilities = F.log_softmax(self.model(inputs), dim=1).cpu()
        wholes = [r.inputs.whole[None] for r in readings if r.inputs.whole is not None]
        digit_scores = whole_scores = None
        if self.detector is not None:
            scored = self.detector(torch.cat([inputs, _batch(wholes, self.device)])
                                   if wholes else inputs).cpu()
            digit_scores, whole_scores = scored[:len(inputs)], iter(scored[len(inputs):].tolist())
        digit = digit_evidence(log_probabilities, digit_scores)
        sizes = [len(r.inputs.digits) for r in readings]
        verdicts = pairs = None
        searched = [r for r in readings if r.inputs.searched]
        if searched and self.searchers() is not None:
            verdicts, pairs = self._search_evidence(readings, digit, digit_scores, thresholds)
        evidence = []
        for index, rows in enumerate(_slices(sizes)):
            found = readings[index].inputs.searched and verdicts is not None
            whole = None
            if whole_scores is not None and readings[index].inputs.whole is not None:
                whole = next(whole_scores)
            evidence.append(Evidence(
                log_probabilities[rows], None if digit_scores is None else digit_scores[rows],
                digit[rows], verdicts[rows] if found else None, pairs[rows] if found else None,
                whole))
        return evidence

    def _search_evidence(self, readings: list[Prepared], digit: torch.Tensor,
                         digit_scores: torch.Tensor | None, thresholds: list[float] | None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """The verifier's log-probabilities and the pair reader's for every candidate of
        ``readings`` (rows of pictures read as one digit stay unused)."""
        verifier, pair_reader = self._reading_copies
        searched = [r.inputs for r in readings if r.inputs.searched]
        rows = torch.from_numpy(np.concatenate([
            np.full(len(r.inputs.digits), r.inputs.searched) for r in readings]))
        one_mark = torch.tensor([c.marks == 1 for r in readings for c in r.layout.candidates])
        verdicts = torch.zeros(len(rows), len(CLASSES))
        verdicts[rows] = torch.log_softmax(verifier(
            _batch([s.contexts for s in searched], self.device),
            torch.from_numpy(np.concatenate([s.shapes for s in searched])).to(self.device)
        ).cpu(), dim=1)
        pairs = torch.full((len(rows), NOT_DIGITS + 1), -math.inf)
        hopeful = rows & pair_hopeful(digit, verdicts, one_mark)
        if hopeful.any():
            wanted = torch.from_numpy(np.concatenate([s.pairs for s in searched]))[hopeful[rows]]
            read = F.log_softmax(pair_reader(_batch([wanted.numpy()], self.device)), dim=1).cpu()
            if digit_scores is not None and thresholds is not None:
                per_row = torch.from_numpy(np.concatenate([
                    np.full(len(r.inputs.digits), threshold)
                    for r, threshold in zip(readings, thresholds, strict=True)]))
                read = torch.where(self._halves_pass(wanted, per_row[hopeful])[:, None], read,
                                   -math.inf)
            pairs[hopeful] = read
        return verdicts, pairs

    def _halves_pass(self, pair_inputs: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        """Whether both halves of each pair reader's input pass the detector as digits."""
        halves = torch.cat([pair_inputs[:, :, :SIDE], pair_inputs[:, :, SIDE:]])
        scores = self.detector(_batch([normalize_batch(halves).numpy()], self.device))
        return halves_pass(scores.cpu().view(2, -1), threshold)


def _slices(sizes: list[int]) -> list[slice]:
    """Consecutive row ranges of the given sizes."""
    stops = np.cumsum(sizes)
    return [slice(int(stop - size), int(stop)) for stop, size in zip(stops, sizes, strict=True)]
