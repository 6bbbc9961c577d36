"""Regenerate every file that ships in ``mnist_cnn/weights/``: the default model, its not-a-digit
detector, segment verifier and pair reader, and their provenance.

Runs the documented commands themselves, ``mnist-train`` (the default run, seed 1),
``mnist-train --fit-detector`` and ``mnist-train --fit-verifier``, in a scratch folder, then
copies their files into the package and records how they were made: the commands, seed,
versions, machine, date, the figures each reached, and each file's SHA-256 (checked before a
shipped file is used). ``--verifier-only`` refits the verifier and the pair reader alone (they
do not depend on the model) and keeps the rest.

    python scripts/make_weights.py --data-dir ../shared/MNIST_data [--verifier-only]
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

FIT_LINE = re.compile(r"Fitted the not-a-digit detector in ([\d.]+)s \(threshold (-?[\d.]+)\)")
VERIFIER_LINE = re.compile(r"Fitted the segment verifier in ([\d.]+)s")
PAIRS_LINE = re.compile(r"Fitted the pair reader in ([\d.]+)s")


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
    parser.add_argument("--verifier-only", action="store_true",
                        help="refit the segment verifier and the pair reader; keep the rest")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}"
    provenance = registry.provenance() if args.verifier_only else {
        "made_by": "python scripts/make_weights.py",
        "date": time.strftime("%Y-%m-%d"),
        "seed": args.seed,
        "versions": {"mnist_cnn": mnist_cnn.__version__, "python": platform.python_version(),
                     "torch": torch.__version__, "torchvision": torchvision.__version__},
        "machine": machine,
        "files": {},
    }
    files = provenance["files"]
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / registry.MODEL.file
        common = ["--data-dir", args.data_dir, "--seed", str(args.seed), "--device", "cpu",
                  "--checkpoint", str(checkpoint)]
        public = [part if part != str(checkpoint) else "model.ckpt" for part in common]
        registry.WEIGHTS.mkdir(exist_ok=True)
        if not args.verifier_only:
            _, train_seconds = mnist_train([*common, "--no-report"])
            facts = json.loads(checkpoint.with_suffix(".json").read_text())
            output, _ = mnist_train(["--fit-detector", *common])
            match = FIT_LINE.search(output)
            shutil.copyfile(checkpoint, registry.MODEL.shipped)
            shutil.copyfile(checkpoint.with_suffix(".detector.pt"), registry.DETECTOR.shipped)
            files[registry.MODEL.file] = {
                "command": " ".join(["mnist-train", *public, "--no-report"]),
                "test_accuracy": facts["test_accuracy"],
                "precision": facts["precision"],
                "wall_seconds": round(train_seconds, 1),
                "sha256": registry.sha256(registry.MODEL.shipped),
            }
            files[registry.DETECTOR.shipped.name] = {
                "command": " ".join(["mnist-train", "--fit-detector", *public]),
                "fit_seconds": float(match[1]) if match else None,
                "threshold": float(match[2]) if match else None,
                "sha256": registry.sha256(registry.DETECTOR.shipped),
            }
        output, _ = mnist_train(["--fit-verifier", *common])
        shutil.copyfile(checkpoint.with_suffix(".verifier.pt"), registry.VERIFIER.shipped)
        shutil.copyfile(checkpoint.with_suffix(".pairs.pt"), registry.PAIRS.shipped)
    for path, line in ((registry.VERIFIER.shipped, VERIFIER_LINE), (registry.PAIRS.shipped, PAIRS_LINE)):
        match = line.search(output)
        files[path.name] = {
            "command": " ".join(["mnist-train", "--fit-verifier", *public]),
            "fit_seconds": float(match[1]) if match else None,
            "date": time.strftime("%Y-%m-%d"),
            "machine": machine,
            "sha256": registry.sha256(path),
        }
    (registry.WEIGHTS / registry.PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {', '.join(sorted(files))} and {(registry.WEIGHTS / registry.PROVENANCE).name} in {registry.WEIGHTS}")


if __name__ == "__main__":
    main()
