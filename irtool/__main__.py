from irtool.cli import main

main()
