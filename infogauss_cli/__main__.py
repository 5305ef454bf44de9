from infogauss_cli.cli.main import run

run()
