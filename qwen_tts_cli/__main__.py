from qwen_tts_cli.main import main

raise SystemExit(main())
