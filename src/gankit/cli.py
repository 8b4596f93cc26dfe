"""The ``gankit`` command: train, sample, eval, experiment, features, presets, env.

Every user error is printed as one line, ``gankit: error: <problem>; <fix>``, with exit status 2. Under
``torchrun`` (``torchrun --nproc_per_node=N -m gankit train|eval ...``) rank 0 prints, and every process exits
with the same status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from gankit import __version__, defaults
from gankit.errors import GankitError, TrainingDiverged


def _new_run_directory(out: str | None, name: str) -> Path:
    """The run directory of a new run (``--out`` or a timestamped one), checked to be new and writable."""
    run_dir = Path(out) if out else Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        raise GankitError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out")
    probe = run_dir / ".gankit-write-test"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise GankitError(f"cannot write the run directory {run_dir} ({exc.strerror}); pick another --out") from exc
    return run_dir


def _resume_process_settings(source: str, overrides: list[str]):
    """The configuration whose ``train.device`` and ``dist`` keys start the processes of a resumed run: the run's
    ``config.yaml`` with the overrides (the checkpoint itself is read once the processes have agreed on it)."""
    import yaml

    from gankit.config import Config, apply_overrides, config_from_dict
    from gankit.runtime.checkpoint import run_directory

    path = Path(source)
    run_dir = path if path.is_dir() else run_directory(path)
    try:
        base = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()) or {})
    except (OSError, yaml.YAMLError, GankitError):
        base = Config()
    try:
        return apply_overrides(base, overrides)
    except GankitError:
        return base  # the resume itself reports the bad override


def _train(args: argparse.Namespace) -> int:
    from gankit.config import DEFAULT_PRESET, resolve
    from gankit.runtime.distributed import from_environment, shutdown

    config, name = None, ""
    if args.resume:
        overrides = ([args.preset] if args.preset else []) + args.overrides
        settings = _resume_process_settings(args.resume, overrides)
    else:
        preset, overrides = args.preset, list(args.overrides)
        if preset is not None and "=" in preset:
            preset, overrides = None, [preset, *overrides]
        settings = config = resolve(preset, overrides)
        name = preset or DEFAULT_PRESET
    context = from_environment(settings.train.device, settings.dist.backend, settings.dist.timeout_s)
    try:
        return _run_training(args, config, context, name)
    finally:
        shutdown(context)


def _run_training(args: argparse.Namespace, config, context, name: str) -> int:
    """``gankit train`` once the processes are up: rank 0 picks the run directory (or the checkpoint), every
    process trains, rank 0 prints."""
    from gankit.training.loop import Trainer

    main = context.is_main
    if config is None:
        overrides = ([args.preset] if args.preset else []) + args.overrides
        trainer = Trainer.resume(args.resume, overrides, context)
        for note in trainer.resume_notes if main else []:
            print(f"gankit: {note}")
    else:
        run_dir = context.run_on_main(lambda: _new_run_directory(args.out, name))
        trainer = Trainer(config, run_dir, context)
    if args.quiet:
        trainer.config.log.progress = False
    cfg = trainer.config
    processes = ""
    if context.distributed:
        processes = (
            f" x {context.world_size} processes (global batch {cfg.train.batch_size} = "
            f"{context.world_size} x {cfg.train.batch_size // context.world_size})"
        )
    if main:
        print(
            f"gankit {__version__}: {cfg.name} on {cfg.data.name} ({cfg.model.arch}, {cfg.objective.loss}), "
            f"{cfg.train.steps} steps, device {trainer.device}{processes}, run directory {trainer.run_dir}"
        )
    result = trainer.fit()
    if not main:
        return 130 if result.interrupted else 0
    if result.interrupted:
        print(f"interrupted at step {result.step}; checkpoint {result.checkpoint}")
        print(f"continue with: gankit train --resume {trainer.run_dir}")
        return 130
    if result.evaluation is not None:
        from gankit.training.evaluation import summary

        print(f"evaluation: {summary(result.evaluation)}  ({trainer.run_dir / 'eval.jsonl'})")
    print(f"samples:    {result.samples}")
    print(f"checkpoint: {result.checkpoint}")
    print(f"logs:       {trainer.run_dir / 'metrics.jsonl'}  (tensorboard --logdir {trainer.run_dir / 'tb'})")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from gankit.imaging import write_samples
    from gankit.runtime.device import select_device
    from gankit.sampling import check_class, generate, load_generator

    generator = load_generator(args.source, ema=not args.no_ema, device=select_device(args.device))
    check_class(generator, args.label)
    samples = generate(generator, args.n, args.seed, labels=args.label, truncation=args.truncation)
    path = write_samples(samples, args.out)
    which = f" of class {args.label}" if args.label is not None else ""
    print(f"wrote {args.n} samples{which} to {path}")
    return 0


def _write_json(path: str, payload: dict, what: str) -> None:
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2))
    print(f"{what}: {path}")


def _add_command_group(
    commands: argparse._SubParsersAction, group: str, summary: str, table: dict[str, str], package: str, argv
) -> None:
    """``gankit GROUP NAME``: one subcommand per entry of ``table``, each the module ``package.NAME`` with
    ``add_arguments(parser)`` and ``run(args) -> dict``, plus ``--out`` and ``--json``. Only the chosen
    module is imported to add its arguments."""
    parser = commands.add_parser(group, help=summary)
    names = parser.add_subparsers(dest="name", required=True, metavar="NAME")
    folder = {"experiment": "experiments", "use": "uses"}.get(group, group)
    for name, help_text in table.items():
        sub = names.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--out", default=f"{folder}/{name}", help=f"folder for figures (default {folder}/{name})")
        sub.add_argument("--json", help="also write every number to this JSON file")
        module = f"{package}.{name.replace('-', '_')}"
        if name in argv:
            importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(func=_command, module=module)


def _command(args: argparse.Namespace) -> int:
    """``gankit experiment | use | style NAME``, ``gankit project``, ``gankit more-like``: the module in
    ``args.module`` runs and ``--json`` saves what it returns."""
    result = importlib.import_module(args.module).run(args)
    if args.json:
        _write_json(args.json, result, "numbers")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from gankit.runtime.distributed import from_environment, shutdown

    context = from_environment(args.device)
    try:
        return _run_eval(args, context)
    finally:
        shutdown(context)


def _run_eval(args: argparse.Namespace, context) -> int:
    """``gankit eval`` once the processes are up: under torchrun each process generates and embeds its share,
    rank 0 computes and prints the metrics."""
    from gankit.metrics.distributed import load_generated_share
    from gankit.metrics.evaluate import EvalOptions, check_request, evaluate_features, result_lines
    from gankit.metrics.features.extractors import build_extractor
    from gankit.metrics.sources import load_source

    device = context.device
    if (args.fake is None) == (args.compare is None):
        raise GankitError("gankit eval takes either --fake SOURCE or --compare A B (with --real R), not both")
    with context.agreement():
        options = EvalOptions(
            metrics=tuple(m.strip() for m in args.metrics.split(",") if m.strip()),
            kid_subsets=args.kid_subsets,
            kid_subset_size=args.kid_subset_size,
            fid_bootstrap=args.fid_bootstrap,
            fid_infinity=not args.no_fid_infinity,
            seed=args.seed,
        )
        real = load_source(args.real, args.n, args.seed, device)
        if args.compare is not None:
            return _run_compare(args, context, options, real)
        share = None
        if context.distributed:
            share = load_generated_share(args.fake, args.n, args.seed, context, len(real.images), args.batch_size)
        fake = share or load_source(args.fake, args.n, args.seed, device, default_n=len(real.images))
        extractor = build_extractor(
            args.features, tuple(real.images.shape[1:]), args.inception_weights, args.resize, device
        )
    progress, cache = not args.quiet and context.is_main, not args.no_cache
    if share is None:
        from gankit.metrics.evaluate import Classes, evaluate

        num_classes = fake.num_classes or real.num_classes
        classes = Classes(num_classes, real.labels, fake.labels) if num_classes else None
        result = evaluate(
            extractor, real.images, fake.images, options, args.batch_size, progress, cache, context, classes
        )
    else:
        from gankit.metrics.distributed import combined_hash
        from gankit.metrics.evaluate import FeatureSet, cached_features, content_hash

        check_request(extractor, options, len(real.images), share.record["n"])
        real_set = cached_features(extractor, real.images, args.batch_size, progress, cache, context)
        digest = combined_hash(content_hash(share.images), context)
        fake_set = FeatureSet(*share.features(extractor, args.batch_size, progress), digest)
        result = context.run_on_main(lambda: evaluate_features(extractor, real_set, fake_set, options))
    if not context.is_main:
        return 0
    result = {**result, "real": real.record, "fake": fake.record}
    print(f"{extractor.name} features, {result['n_real']} real ({args.real}) vs {result['n_fake']} fake ({args.fake})")
    for line in result_lines(result):
        print(line)
    if args.json:
        _write_json(args.json, result, "numbers and settings")
    return 0


def _run_compare(args: argparse.Namespace, context, options, real) -> int:
    """``gankit eval --compare A B --real R``: FID and KID (with their intervals) of A and of B against R, and the
    relative similarity test of Bounliphone et al. (ICLR 2016) on the KID kernel
    (:func:`gankit.metrics.compare.compare_models`); one process."""
    from gankit.metrics.compare import compare_lines, compare_models
    from gankit.metrics.evaluate import cached_features, check_request
    from gankit.metrics.features.extractors import build_extractor
    from gankit.metrics.sources import load_source

    if context.distributed:
        raise GankitError("gankit eval --compare runs in one process; start it without torchrun")
    name_a, name_b = args.compare
    a, b = (load_source(s, args.n, args.seed, context.device, default_n=len(real.images)) for s in args.compare)
    shape = tuple(real.images.shape[1:])
    extractor = build_extractor(args.features, shape, args.inception_weights, args.resize, context.device)
    for source in (a, b):
        check_request(extractor, options, len(real.images), len(source.images))
    progress, cache = not args.quiet, not args.no_cache
    sets = [cached_features(extractor, x.images, args.batch_size, progress, cache) for x in (real, a, b)]
    result = compare_models(extractor, *sets, options)
    result = {**result, "real": real.record, "sources": {"a": a.record, "b": b.record}}
    print(f"{extractor.name} features, {len(real.images)} real ({args.real}); A = {name_a}, B = {name_b}")
    for line in compare_lines(result, name_a, name_b):
        print(line)
    if args.json:
        _write_json(args.json, result, "numbers and settings")
    return 0


def _env(args: argparse.Namespace) -> int:
    from gankit.runtime.distributed import from_environment, shutdown, under_torchrun
    from gankit.runtime.environment import check_collectives, report

    context = from_environment(args.device, args.backend, args.timeout) if under_torchrun() else None
    try:
        if context is None or context.is_main:
            rows = report()
            width = max(len(name) for name, _ in rows)
            for name, value in rows:
                print(f"{name:<{width}}  {value}")
        if context is not None and context.distributed:
            lines = check_collectives(context)
            if context.is_main:
                print("\n".join(lines))
        elif context is None or context.is_main:
            print("one process; to test the process group: torchrun --nproc_per_node=N -m gankit env")
    finally:
        if context is not None:
            shutdown(context)
    return 0


def _features_train(args: argparse.Namespace) -> int:
    from gankit.metrics.features.classifier import cache_path, load_or_train

    _, record = load_or_train(args.dataset, args.resolution, args.seed, args.epochs)
    where = cache_path(args.dataset, args.resolution, args.seed)
    print(
        f"classifier for {args.dataset} at {args.resolution}px (seed {args.seed}): held-out accuracy "
        f"{record['accuracy']:.4f} on {record['heldout']} images; {where}"
    )
    return 0


def _fit_baseline(args: argparse.Namespace) -> int:
    from gankit.baselines.run import baseline_options, fit_run
    from gankit.config import DataConfig
    from gankit.data.arrays import held_out_split, load_arrays

    options = baseline_options(
        args.name, components=args.components, ridge=args.ridge, seed=args.seed, max_iter=args.max_iter
    )
    data = DataConfig(
        name=args.data,
        path=args.path or "",
        split=args.split,
        resolution=args.resolution,
        grayscale=args.grayscale,
        download=not args.no_download,
    )
    test = None
    if args.test and args.test != "none":
        from gankit.metrics.sources import load_source

        test = (args.test, load_source(args.test).images)
    elif args.test is None and (held_out := held_out_split(data)) is not None:
        test = (f"{data.name}-test@{data.resolution}", load_arrays(held_out)[0])
    out = Path(args.out) if args.out else Path("runs") / f"{args.name}-{args.data}-{time.strftime('%Y%m%d-%H%M%S')}"
    record = fit_run(args.name, options, data, out, test, args.n_samples, args.seed)
    shown = ", ".join(f"{k}={v}" for k, v in options.items())
    print(f"gankit {__version__}: {args.name}({shown}) on {record['n_train']} {args.data} images {record['shape']}")
    print(f"fit:        {record['fit_seconds']:.1f} s")
    print(f"train:      {record['train_bits_per_dim']:.4f} bits/dim")
    if "test" in record:
        held_out = record["test"]
        print(f"test:       {held_out['bits_per_dim']:.4f} bits/dim ({held_out['n']} images, {held_out['source']})")
    print(f"samples:    {out / record['files']['samples']}")
    print(f"run:        {out}  (gankit sample {out} ...; gankit eval --fake {out} ...)")
    return 0


def _presets(args: argparse.Namespace) -> int:
    from gankit.config import DEFAULT_PRESET, load_preset, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        marker = " (default)" if name == DEFAULT_PRESET else ""
        print(f"{name:<{width}}  {load_preset(name).description}{marker}")
    return 0


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``gankit`` command. Only the experiment named in ``argv`` (if any) is
    imported to declare its options, so other commands start without loading the experiments."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="gankit", description="GANs and MMD-based generative models in PyTorch")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model from a preset with key=value overrides")
    train.add_argument("preset", nargs="?", help="preset name (see 'gankit presets'; default: digits)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.steps=2000")
    train.add_argument("--out", help="run directory (default: runs/<preset>-<time>)")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR|CHECKPOINT",
        help="continue a run from its newest readable checkpoint (damaged newer ones are moved aside), or from a file",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sample = commands.add_parser("sample", help="draw samples from a trained generator")
    sample.add_argument("source", metavar="RUN_DIR|CHECKPOINT")
    sample.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--out", required=True, help="PATH.png (grid), PATH.npz (uint8 arrays) or a folder")
    sample.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    sample.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA copy")
    sample.add_argument(
        "--class", dest="label", type=int, help="conditional runs: samples of this class (default: the data's mix)"
    )
    sample.add_argument(
        "--truncation", type=float, help="draw latents from the normal truncated at this value (BigGAN's trick)"
    )
    sample.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    sample.set_defaults(func=_sample)

    from gankit.experiments import EXPERIMENTS
    from gankit.uses.commands import USES
    from gankit.uses.style import STYLE_COMMANDS

    groups = [
        ("experiment", "run a lecture demonstration (see gankit experiment -h)", EXPERIMENTS, "gankit.experiments"),
        ("use", "what generative models are for: inpaint, anomaly, ... (gankit use -h)", USES, "gankit.uses.commands"),
        (
            "style",
            "StyleGAN latent structure: mixing, truncation, noise, interpolate",
            STYLE_COMMANDS,
            "gankit.uses.style",
        ),
    ]
    for group, summary, table, package in groups:
        _add_command_group(commands, group, summary, table, package, argv)

    for name, module, summary in (
        ("project", "project", "find the latent code that reproduces each image (GAN inversion)"),
        ("more-like", "more_like_generator", "more samples like x: project x, then sample around its code"),
    ):
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.add_argument("--out", default=name, help=f"folder for images and latents (default {name})")
        sub.add_argument("--json", help="also write every number to this JSON file")
        if name in argv:
            importlib.import_module(f"gankit.uses.commands.{module}").add_arguments(sub)
        sub.set_defaults(func=_command, module=f"gankit.uses.commands.{module}")

    evaluation = commands.add_parser("eval", help="FID, KID, IS, precision/recall between two image sources")
    source_help = "image folder, .npz, run directory, checkpoint, or a split (digits, mnist-test, cifar10-train, ...)"
    evaluation.add_argument("--real", required=True, help=source_help)
    evaluation.add_argument("--fake", help=source_help)
    evaluation.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="instead of --fake: is A closer to --real than B? FID and KID of both and the p-value of the relative "
        "similarity test (Bounliphone et al. 2016)",
    )
    d = defaults
    evaluation.add_argument(
        "--metrics",
        default=",".join(d.EVAL_METRICS),
        help=f"comma-separated: {', '.join(d.METRICS)} (default {','.join(d.EVAL_METRICS)})",
    )
    evaluation.add_argument(
        "--features",
        default=d.FEATURES,
        help=f"inception, classifier:DATASET (e.g. classifier:digits), pixels (default {d.FEATURES})",
    )
    evaluation.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth or NVIDIA's TorchScript")
    evaluation.add_argument(
        "--resize", default=d.RESIZE, help=f"{', '.join(d.RESIZE_METHODS)} (default {d.RESIZE}, the reference FID's)"
    )
    evaluation.add_argument(
        "--kid-subsets", type=int, default=d.KID_SUBSETS, help=f"KID subsets (default {d.KID_SUBSETS})"
    )
    evaluation.add_argument(
        "--kid-subset-size",
        type=int,
        default=d.KID_SUBSET_SIZE,
        help=f"samples per KID subset (default {d.KID_SUBSET_SIZE})",
    )
    evaluation.add_argument(
        "--fid-bootstrap",
        type=int,
        default=d.FID_BOOTSTRAP,
        help=f"FID bootstrap resamples (0: none; default {d.FID_BOOTSTRAP})",
    )
    evaluation.add_argument("--no-fid-infinity", action="store_true", help="skip the FID_infinity extrapolation")
    evaluation.add_argument("--n", type=int, help="samples per set (generators default to the real set's size)")
    evaluation.add_argument("--seed", type=int, default=0, help="latent seed and subset seed (default 0)")
    evaluation.add_argument("--batch-size", type=int, default=d.EVAL_BATCH_SIZE)
    evaluation.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    evaluation.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    evaluation.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluation.add_argument("--json", help="write every number and setting to this JSON file")
    evaluation.set_defaults(func=_eval)

    features = commands.add_parser("features", help="feature extractors: train the data set's own classifier")
    features_commands = features.add_subparsers(dest="action", required=True, metavar="ACTION")
    train_features = features_commands.add_parser("train", help="train (or load from the cache) a small classifier")
    train_features.add_argument("--dataset", default="digits", help="a labelled data set: digits, mnist, ...")
    train_features.add_argument("--resolution", type=int, default=16, help="image size (default 16)")
    train_features.add_argument("--seed", type=int, default=0)
    train_features.add_argument("--epochs", type=int, default=10)
    train_features.set_defaults(func=_features_train)

    fit = commands.add_parser(
        "fit-baseline", help="fit a classic density model (gaussian, ppca, gmm) and write a run directory"
    )
    fit.add_argument("name", choices=("gaussian", "ppca", "gmm"), help="the baseline")
    fit.add_argument(
        "--data", default="digits", help="an image data set: digits, mnist, fashion-mnist, cifar10, faces, npz, folder"
    )
    fit.add_argument("--path", help="the file or folder of --data npz / folder")
    fit.add_argument("--split", default="train", help="split of a named data set (default train)")
    fit.add_argument("--resolution", type=int, default=16, help="image size (default 16)")
    fit.add_argument("--grayscale", action="store_true", help="convert RGB images to one channel")
    fit.add_argument("--no-download", action="store_true", help="never download; fail if the data set is missing")
    fit.add_argument("--components", type=int, help="ppca: latent dimensions k; gmm: mixture components K")
    fit.add_argument("--ridge", type=float, help="variance added to the covariance (default: the dequantisation noise)")
    fit.add_argument("--max-iter", type=int, help="gmm: EM iterations (default 100)")
    fit.add_argument(
        "--test",
        help="held-out images scored in bits/dim (a source as for eval; default: the data set's "
        "test split where it has one; none: skip)",
    )
    fit.add_argument("--n-samples", type=int, default=64, help="samples in the grid (default 64)")
    fit.add_argument("--seed", type=int, default=0, help="latent seed of the grid, noise of bits/dim, gmm's k-means")
    fit.add_argument("--out", help="run directory (default runs/<name>-<data>-<time>)")
    fit.set_defaults(func=_fit_baseline)

    presets = commands.add_parser("presets", help="list the presets")
    presets.set_defaults(func=_presets)

    env = commands.add_parser(
        "env", help="torch, CUDA, GPUs, distributed backends and launch variables; under torchrun, test the group"
    )
    env.add_argument("--device", default="auto", help="auto, cpu, cuda (under torchrun: this process's device)")
    env.add_argument("--backend", default="auto", help="auto (nccl on CUDA, gloo on the CPU), nccl, gloo")
    env.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the other processes")
    env.set_defaults(func=_env)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gankit`` console script."""
    from gankit.runtime.distributed import PeerLost, environment_rank, under_torchrun

    args = build_parser(argv).parse_args(argv)
    # Under torchrun every process sees the same errors (they are agreed on); rank 0 prints them. A lost peer is
    # each surviving process's own news, so every process prints it.
    main_process = not under_torchrun() or environment_rank() == 0
    try:
        return args.func(args)
    except PeerLost as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return 1
    except TrainingDiverged as exc:
        if main_process:
            print(f"gankit: error: {exc}", file=sys.stderr)
        return 1
    except GankitError as exc:
        if main_process:
            print(f"gankit: error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The ``gankit`` command: :func:`main`, then exit with its status
    (:func:`gankit.runtime.distributed.exit_process`: ``os._exit`` under torchrun)."""
    code = main()
    from gankit.runtime.distributed import exit_process

    exit_process(code)


if __name__ == "__main__":
    run()
