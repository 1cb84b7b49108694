from ksync.cli import main

raise SystemExit(main())
