"""Mutation testing of gankit's numeric core with mutmut 3 (not part of CI: it takes long).

Each group of modules is mutated in its own scratch copy of the repository (``--workdir``, default
``/tmp/gankit-mutation``): the copy gets src/, tests/ and pyproject.toml plus a ``[tool.mutmut]`` section
naming the modules to mutate and the test files that guard them, so the repository itself never holds
mutants or mutmut's state. mutmut first runs the selected tests once to learn which tests reach which
function, then runs, for every mutant, only the tests that reach it, each in a process forked from a warm
fork server (torch is not fork-safe after use, hence ``process_isolation = "forkserver"``). Results are
cached in the scratch copy: a second run only checks mutants whose function changed.

Why mutmut and not cosmic-ray: mutmut runs each mutant against only the tests that execute the mutated
function, in a forked process that has already imported torch and the tests; cosmic-ray starts the whole
test command (a fresh interpreter importing torch, ~3 s) for every mutant. On 2 shared cores that is the
difference between minutes and hours per module.

Usage (from the repository root, one heavy job at a time machine-wide)::

    pip install -e '.[test,mutation]'
    OMP_NUM_THREADS=1 flock /tmp/gankit-heavy.lock python benchmarks/mutation.py mmd/kernels mmd/estimators
    python benchmarks/mutation.py --list                 # the scope and each module's tests
    python benchmarks/mutation.py --report mmd/kernels   # print the cached scores without running
    python benchmarks/mutation.py --survivors mmd/kernels  # and the diff of every surviving mutant

The score of a module is killed / (killed + survived): ``killed`` counts mutants a test failed on
(timeouts included), ``survived`` counts mutants every selected test passed and mutants no selected test
reaches (``no tests``). Survivors are either killed by a new test or listed in the README as equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# module (under src/gankit, without .py) -> the test files that guard it
SCOPE: dict[str, list[str]] = {
    "objectives/adversarial": ["tests/objectives/test_adversarial.py", "tests/objectives/test_penalties_nonlinear.py"],
    "objectives/penalties": ["tests/objectives/test_penalties.py", "tests/objectives/test_penalties_nonlinear.py"],
    "objectives/gan": [
        "tests/objectives/test_adversarial.py",
        "tests/objectives/test_penalties.py",
        "tests/objectives/test_penalties_nonlinear.py",
        "tests/objectives/test_acgan.py",
        "tests/objectives/test_gan_objective.py",
    ],
    "objectives/mmd_losses": ["tests/objectives/test_mmd_losses.py", "tests/objectives/test_penalties_nonlinear.py"],
    "objectives/orthogonal": ["tests/objectives/test_orthogonal.py"],
    "objectives/path_length": ["tests/objectives/test_path_length.py"],
    "objectives/semisupervised": ["tests/objectives/test_semisupervised.py"],
    "objectives/semisupervised_gan": ["tests/objectives/test_semisupervised_gan.py"],
    "mmd/kernels": [
        "tests/mmd/test_kernels.py",
        "tests/mmd/test_kernel_factory.py",
        "tests/mmd/test_properties.py",
        "tests/mmd/test_estimators.py",
    ],
    "mmd/estimators": [
        "tests/mmd/test_estimators.py",
        "tests/mmd/test_estimator_paths.py",
        "tests/mmd/test_variance_sums.py",
        "tests/mmd/test_properties.py",
    ],
    "mmd/products": ["tests/mmd/test_products.py", "tests/metrics/test_kid.py"],
    "mmd/two_sample": ["tests/mmd/test_two_sample.py"],
    "metrics/fid": ["tests/metrics/test_fid.py", "tests/metrics/test_fid_properties.py"],
    "metrics/kid": ["tests/metrics/test_kid.py", "tests/metrics/test_kid_interval.py"],
    "metrics/inception_score": [
        "tests/metrics/test_inception_score.py",
        "tests/metrics/test_inception_score_defaults.py",
    ],
    "metrics/precision_recall": ["tests/metrics/test_precision_recall.py"],
    "metrics/uncertainty": ["tests/metrics/test_uncertainty.py"],
    "metrics/modes": ["tests/metrics/test_modes.py", "tests/metrics/test_modes_boundaries.py"],
    "nn/conditional_bn": ["tests/nn/test_conditional_bn.py"],
    "nn/equalized": ["tests/nn/test_equalized.py"],
    "nn/minibatch_std": ["tests/nn/test_minibatch_std.py", "tests/nn/test_minibatch_std_defaults.py"],
    "nn/modulated_conv": ["tests/nn/test_modulated_conv.py"],
    "nn/noise": ["tests/nn/test_noise.py", "tests/nn/test_noise_and_sn_details.py"],
    "nn/resample": ["tests/nn/test_resample.py"],
    "nn/self_attention": ["tests/nn/test_self_attention.py"],
    "nn/spectral_norm": ["tests/nn/test_spectral_norm.py", "tests/nn/test_noise_and_sn_details.py"],
    "nn/truncation": ["tests/nn/test_truncation.py", "tests/nn/test_truncation_dtype.py"],
    "training/ema": [
        "tests/training/test_ema_buffers.py",
        "tests/training/test_loop.py::test_ema_before_and_after_start",
    ],
    "runtime/checkpoint": ["tests/runtime/test_checkpoint.py"],
}

KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SURVIVED = {"survived", "no tests", "suspicious"}
RESULT_LINE = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+):\s*(?P<status>.+?)\s*$")


def workdir_for(module: str, root: Path) -> Path:
    return root / module.replace("/", "__")


DECORATOR = re.compile(r"^(?P<indent>\s*)@torch\.no_grad\(\)\s*$")
DEF = re.compile(r"^(?P<indent>\s*)def (?P<name>\w+)\(")


def undecorate(source: str) -> str:
    """Move ``@torch.no_grad()`` below the function as ``f = torch.no_grad()(f)``: mutmut 3 leaves decorated
    functions unmutated (their trampoline cannot wrap an arbitrary decorator), this form it mutates."""
    lines = source.splitlines()
    out: list[str] = []
    pending: list[tuple[str, str]] = []  # (indent, name) of functions whose decorator goes after their body
    i = 0
    while i < len(lines):
        line = lines[i]
        while (
            pending
            and line.strip()
            and not line.startswith(pending[-1][0] + " ")
            and not line.startswith(pending[-1][0] + ")")
        ):
            indent, name = pending.pop()
            out.append(f"{indent}{name} = torch.no_grad()({name})")
        decorated = DECORATOR.match(line)
        following = DEF.match(lines[i + 1]) if decorated and i + 1 < len(lines) else None
        if decorated and following and following["indent"] == decorated["indent"]:
            pending.append((following["indent"], following["name"]))
            out.append(lines[i + 1])
            i += 2
            continue
        out.append(line)
        i += 1
    for indent, name in reversed(pending):
        out.append(f"{indent}{name} = torch.no_grad()({name})")
    return "\n".join(out) + "\n"


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def prepare(module: str, root: Path, fresh: bool = False) -> Path:
    """A scratch copy of src/, tests/ and pyproject.toml with a [tool.mutmut] section for ``module``; the
    mutmut state (mutants/) of an earlier run is kept, so unchanged mutants are not run again, unless
    ``fresh`` (mutmut keys its cache on the mutated source: after adding tests, run with ``--fresh``)."""
    work = workdir_for(module, root)
    if fresh:
        shutil.rmtree(work / "mutants", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    target = work / "src" / "gankit" / f"{module}.py"
    target.write_text(undecorate(target.read_text()))
    tests = SCOPE[module]
    config = (REPO / "pyproject.toml").read_text()
    config += (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/gankit/{module}.py"]\n'
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
    )
    (work / "pyproject.toml").write_text(config)
    return work


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("GANKIT_TEST_ASSETS", str(REPO.parent / "shared" / "assets"))
    env.pop("PYTHONPATH", None)  # mutmut puts its mutants/src first on sys.path itself
    return env


def mutmut(work: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mutmut", *args]
    return subprocess.run(command, cwd=work, env=environment(), text=True, capture_output=capture, check=False)


def module_of(mutant: str) -> str:
    """``gankit.mmd.kernels.xǁGaussianKernelǁcurvature__mutmut_3`` -> ``mmd/kernels``."""
    dotted = re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]
    return dotted.removeprefix("gankit.").replace(".", "/")


def results(work: Path) -> dict[str, str]:
    """mutant name -> status, from ``mutmut results --all true``."""
    out = mutmut(work, "results", "--all", "true", capture=True).stdout
    found = {}
    for line in out.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def generated_no_mutant(work: Path, module: str) -> bool:
    """Whether mutmut generated no mutant at all for ``module`` (its ``.meta`` names no mutated function, as for
    ``mmd/products``): ``mutmut run`` then exits non-zero ("could not find any test case for any mutant"), which is
    not a failed run."""
    meta = work / "mutants" / "src" / "gankit" / f"{module}.py.meta"
    try:
        return not json.loads(meta.read_text()).get("hash_by_function_name")
    except (OSError, ValueError):
        return False


def score_line(module: str, statuses: dict[str, str], failed: bool = False) -> str:
    if failed:
        return f"{module:32s}     no score: mutmut run failed (run the module's tests unmutated: do they pass?)"
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    survived = sum(counts[s] for s in SURVIVED)
    if killed + survived == 0:
        # mmd/products: its only operators are `@` and `.T`, for which mutmut 3 has no mutation
        return f"{module:32s}     0 mutants  (mutmut generates no mutant for this code)"
    score = 100 * killed / (killed + survived)
    details = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    return f"{module:32s} {killed + survived:5d} mutants  {score:5.1f}% killed  ({details})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules under src/gankit, e.g. mmd/kernels (default: all)")
    parser.add_argument("--workdir", default="/tmp/gankit-mutation", help="where the scratch copies live")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant processes (2 cores: 2)")
    parser.add_argument("--list", action="store_true", help="print the scope and each module's tests, then stop")
    parser.add_argument("--report", action="store_true", help="print cached scores without running mutmut")
    parser.add_argument("--fresh", action="store_true", help="forget cached verdicts (after adding tests)")
    parser.add_argument("--survivors", action="store_true", help="also print the diff of every surviving mutant")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in SCOPE]
    if unknown:
        parser.error(f"not in the scope: {', '.join(unknown)}; see --list")
    modules = args.modules or list(SCOPE)
    if args.list:
        for module in modules:
            print(f"{module:32s} {' '.join(SCOPE[module])}")
        return 0
    root = Path(args.workdir)
    lines = []
    for module in modules:
        work = workdir_for(module, root) if args.report else prepare(module, root, args.fresh)
        failed = False
        if not args.report:
            print(f"== {module}: mutmut run in {work}", flush=True)
            failed = mutmut(work, "run", "--max-children", str(args.max_children)).returncode != 0
        statuses = {name: s for name, s in results(work).items() if module_of(name) == module}
        lines.append(score_line(module, statuses, failed and not statuses and not generated_no_mutant(work, module)))
        print(lines[-1], flush=True)
        if args.survivors:
            for name, status in sorted(statuses.items()):
                if status in SURVIVED:
                    print(f"--- {name}: {status}")
                    print(mutmut(work, "show", name, capture=True).stdout)
    print("\n".join(["", "score per module (killed / (killed + survived)):", *lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
