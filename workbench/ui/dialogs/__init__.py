"""Real dialogs: settings edited apart from the work (everything else is an inline panel)."""
