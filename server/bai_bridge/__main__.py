from bai_bridge.cli import main

raise SystemExit(main())
