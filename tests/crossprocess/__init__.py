"""Cross-process integration suite: workstation and pumps as separate processes."""
