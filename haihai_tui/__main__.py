from haihai_tui.cli import main

raise SystemExit(main())
