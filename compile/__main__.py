from compile.cli import main

main()
