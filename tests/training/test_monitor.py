from gankit.training.monitor import DivergenceMonitor

CALM = {"loss_d": 1.2, "loss_g": 0.8, "d_real": 0.3, "d_fake": -0.2, "d_accuracy": 0.7}
WON = {**CALM, "d_accuracy": 1.0, "d_real": 9.0, "d_fake": -9.0}
EXPLODED = {**CALM, "loss_g": 5e4}


def test_warns_once_after_the_window_and_rearms():
    monitor = DivergenceMonitor(window=3)
    assert monitor.update(1, WON) == [] and monitor.update(2, WON) == []
    (message,) = monitor.update(3, WON)
    assert message.startswith("step 3: D accuracy >= 99% for 3 logged steps") and "d_real 9.00" in message
    assert monitor.update(4, WON) == []
    monitor.update(5, CALM)
    assert [monitor.update(s, WON) for s in (6, 7, 8)][-1] != []


def test_interrupted_streak_does_not_warn():
    monitor = DivergenceMonitor(window=3)
    for step, values in enumerate([WON, WON, CALM, WON, WON]):
        assert monitor.update(step, values) == []


def test_exploding_losses():
    monitor = DivergenceMonitor(window=2)
    monitor.update(1, EXPLODED)
    (message,) = monitor.update(2, EXPLODED)
    assert "|loss| > 1000" in message and "loss_g 5e+04" in message


def test_loop_writes_warnings(tmp_path):
    from gankit.config import resolve
    from gankit.training.loop import Trainer

    # a D ten times faster than G on the ring separates the two sets quickly
    overrides = [
        "train.steps=300",
        "log.every=10",
        "log.divergence_window=3",
        "optim.lr_d=0.01",
        "optim.lr_g=1e-6",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    Trainer(resolve("ring-minimax", overrides), tmp_path).fit()
    text = (tmp_path / "warnings.jsonl").read_text()
    assert "D accuracy >= 99%" in text
