from insutrace.cli.main import main

main()
