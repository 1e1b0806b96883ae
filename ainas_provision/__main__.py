from ainas_provision.cli.main import main

main()
