from gankit.cli import run

run()
