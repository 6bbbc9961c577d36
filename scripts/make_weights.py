"""Regenerate the files that ship in ``mnist_cnn/weights/``: the default model, its not-a-digit
detector, segment verifier and pair reader, and their provenance.

Runs the documented commands themselves in a scratch folder: ``mnist-train --unipen FOLDER``
(the default run, seed 1, MNIST and UNIPEN's real digits), ``mnist-train --fit-detector``
(calibrated with that model) and ``mnist-train --fit-verifier``; copies their files into the
package and records how each was made: the command, the data, seed, versions, machine, date,
the figures it reached, and its SHA-256 (checked before a shipped file is used). ``--only
model detector`` (any of ``model``, ``detector``, ``verifier``): refit those and keep the rest
(the detector is calibrated with the shipped model when the model is kept; the verifier and
the pair reader are fitted together).

    python scripts/make_weights.py --data-dir ../shared/MNIST_data --unipen FOLDER [--only model]
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

import mnist_cnn
from mnist_cnn.networks import registry

DETECTOR_LINE = re.compile(r"Fitted the not-a-digit detector in ([\d.]+)s \(thresholds ([^)]*)\)")
THRESHOLD = re.compile(r"([a-z ]+) (-?[\d.]+)")
FITTED_LINE = re.compile(r"Fitted the (segment verifier|pair reader) in ([\d.]+)s")
STEPS = ("model", "detector", "verifier")
DATA = ("MNIST (Y. LeCun, C. Cortes and C. Burges) and the digits of the fit side's "
        "writers of UNIPEN train_r01_v07 (I. Guyon, L. Schomaker, R. Plamondon, M. Liberman "
        "and S. Janet, 'UNIPEN project of on-line data exchange and recognizer benchmarks', "
        "ICPR 1994; CC BY 4.0; https://doi.org/10.5281/zenodo.1195803), read from the folder "
        "the command names as UNIPEN")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mnist_train(arguments: list[str]) -> tuple[str, float]:
    """Run ``mnist-train`` with ``arguments``; its output and wall seconds."""
    print("$ mnist-train", " ".join(arguments), flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mnist_cnn.cli.train", *arguments],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mnist-train {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "MNIST_data"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--unipen", type=Path,
                        help="the UNIPEN folder whose fit writers' digits the model learns too "
                             "(needed to refit the model)")
    parser.add_argument("--only", nargs="+", choices=STEPS, default=list(STEPS),
                        help="refit these and keep the other shipped files")
    args = parser.parse_args()
    if "model" in args.only and args.unipen is None:
        parser.error("refitting the model needs --unipen FOLDER")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}"
    today = time.strftime("%Y-%m-%d")
    provenance = registry.provenance() if set(args.only) != set(STEPS) else {"files": {}}
    provenance.update({
        "made_by": "python scripts/make_weights.py",
        "date": today,
        "machine": machine,
        "seed": args.seed,
        "versions": {"mnist_cnn": mnist_cnn.__version__, "python": platform.python_version(),
                     "torch": torch.__version__, "torchvision": torchvision.__version__},
    })
    files = provenance["files"]
    made: dict[registry.Part, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / registry.MODEL.file
        common = ["--data-dir", args.data_dir, "--seed", str(args.seed), "--device", "cpu",
                  "--checkpoint", str(checkpoint)]
        public = [part if part != str(checkpoint) else "model.ckpt" for part in common]
        if "model" in args.only:
            # float32 throughout: the same weights on every CPU, whatever bf16 it has
            options = ["--precision", "fp32", "--no-report"]
            reader = registry.sha256(registry.MODEL.shipped)  # reads the real digits' pictures
            _, seconds = mnist_train([*common, "--unipen", str(args.unipen), *options])
            facts = json.loads(checkpoint.with_suffix(".json").read_text())
            made[registry.MODEL] = {"command": " ".join(["mnist-train", *public, "--unipen",
                                                         "UNIPEN", *options]),
                                    "data": DATA,
                                    "pictures_read_by": f"the model shipped before (sha256 "
                                                        f"{reader})",
                                    "test_accuracy": facts["test_accuracy"],
                                    "precision": facts["precision"],
                                    "wall_seconds": round(seconds, 1)}
        else:
            shutil.copyfile(registry.MODEL.shipped, checkpoint)
        if "detector" in args.only:
            output, _ = mnist_train(["--fit-detector", *common])
            match = DETECTOR_LINE.search(output)
            made[registry.DETECTOR] = {
                "command": " ".join(["mnist-train", "--fit-detector", *public]),
                "fit_seconds": float(match[1]),
                "thresholds": {form.strip(): float(value)
                               for form, value in THRESHOLD.findall(match[2])}}
        if "verifier" in args.only:
            output, _ = mnist_train(["--fit-verifier", *common])
            seconds = {name: float(value) for name, value in FITTED_LINE.findall(output)}
            for part, name in ((registry.VERIFIER, "segment verifier"),
                               (registry.PAIRS, "pair reader")):
                made[part] = {"command": " ".join(["mnist-train", "--fit-verifier", *public]),
                              "fit_seconds": seconds[name]}
        registry.WEIGHTS.mkdir(exist_ok=True)
        for part, facts in made.items():
            shutil.copyfile(part.path(checkpoint), part.shipped)
            files[part.file] = {**facts, "date": today, "machine": machine,
                                "sha256": registry.sha256(part.shipped)}
    (registry.WEIGHTS / registry.PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {', '.join(part.file for part in made)} and {registry.PROVENANCE} "
          f"in {registry.WEIGHTS}")


if __name__ == "__main__":
    main()
