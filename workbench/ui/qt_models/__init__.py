"""Qt item models over the domain's data (tables and lists the widgets show and edit)."""
